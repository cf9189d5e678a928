// Engine worker: owns one bundle's ORT sessions and a Pipeline; answers requests from engine.ts.
// Cancellation: a 'cancel' message marks the request; the pipeline checks the mark between stages.
import { parentPort } from 'node:worker_threads';
import { PeakLabelError, toErrorInfo } from '../../common/errors';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { readFile } from 'node:fs/promises';
import { readBundle, withRetrieval, type Bundle } from './bundle';
import { Pipeline } from './pipeline';
import { ProposalCache } from './proposal-cache';
import type { FeatureRequest, FeatureResult, OpenRequest, OpenResult, WorkerReply, WorkerRequest } from './protocol';
import { SamHost } from './sam-method';
import { ModelSessions, sessionOptions } from './sessions';
import { effectiveBundle, type HeadOverride } from './project-head';
import { decodeOriented, preprocess } from './preprocess';
import { writeFeatures } from '../training/feature-file';

const port = parentPort!;
let sessions: ModelSessions | null = null;
let pipeline: Pipeline | null = null;
/** The bundle as read (its own head), and what a pipeline needs to be rebuilt when the head changes. */
let base: Bundle | null = null;
let proposalCache: ProposalCache | null = null;
let iamCrf: boolean | undefined;
let sam: SamHost | null = null;
const cancelled = new Set<number>();
// Requests run one at a time: ORT already uses the worker's share of the cores.
let queue: Promise<void> = Promise.resolve();

const send = (m: WorkerReply) => port.postMessage(m);
const log = (line: string) => send({ log: line });

async function open(args: OpenRequest): Promise<OpenResult> {
  base = withRetrieval(readBundle(args.bundleDir), args.retrieval);
  sessions = await ModelSessions.open(base, { provider: args.provider, threads: args.threads, log });
  proposalCache = new ProposalCache(args.cacheDir ?? null);
  iamCrf = args.iamCrf;
  // The segmenter does not depend on the head: one per worker, its embeddings kept across head changes.
  sam = args.segmenter ? new SamHost({ files: args.segmenter, provider: sessions.provider, sessionOptions: sessionOptions(args.threads ?? 0), log }) : null;
  pipeline = new Pipeline(base, sessions, proposalCache, iamCrf, sam);
  if (args.head) setHead(args.head);
  return { provider: sessions.provider, fallbackReasons: sessions.fallbackReasons };
}

/** Feeds a project head (or the bundle's own, for null) to every graph; cached analyses are dropped. */
function setHead(head: HeadOverride | null): null {
  if (!sessions || !base || !proposalCache) throw new PeakLabelError('MODEL_UNAVAILABLE', 'The engine worker has no model open.');
  const bundle = effectiveBundle(base, head);
  sessions.setHead(bundle.headWeight, bundle.headBias);
  pipeline = new Pipeline(bundle, sessions, proposalCache, iamCrf, sam);
  return null;
}

/** One image's head-input features into the training cache (float16, cell-major). */
async function cacheFeatures(req: FeatureRequest, check: () => void): Promise<FeatureResult> {
  if (!sessions || !base) throw new PeakLabelError('MODEL_UNAVAILABLE', 'The engine worker has no model open.');
  let bytes: Buffer;
  try {
    bytes = await readFile(req.image.file);
  } catch (err) {
    throw new PeakLabelError('UNREADABLE', `The image ${req.image.file} cannot be read (${(err as Error).message}).`, { file: req.image.file });
  }
  const img = await decodeOriented(bytes, req.image.file);
  const pre = await preprocess(img, base.manifest, req.image.size);
  check();
  const f = await sessions.runFeatures(pre.tensor, pre.geometry.height, pre.geometry.width);
  const header = { D: f.D, h: f.h, w: f.w, ...pre.geometry };
  mkdirSync(dirname(req.out), { recursive: true });
  writeFeatures(req.out, f.data, header);
  return header;
}

function ready(): Pipeline {
  if (!pipeline) throw new PeakLabelError('MODEL_UNAVAILABLE', 'The engine worker has no model open.');
  return pipeline;
}

async function handle(req: WorkerRequest): Promise<unknown> {
  const check = () => {
    if (cancelled.has(req.id)) throw new PeakLabelError('CANCELLED', 'The engine request was cancelled.');
  };
  check();
  switch (req.op) {
    case 'open':
      return open(req.args);
    case 'image':
      return ready().processImage(req.args.image, req.args, req.args.method, check);
    case 'peaks':
      return ready().findPeaks(req.args.image, req.args, check);
    case 'response':
      return ready().classResponse(req.args.image, req.args.classIndex, check);
    case 'suggest':
      return ready().suggestAt(req.args.image, req.args.classIndex, req.args.x, req.args.y, req.args.method, check);
    case 'peakMap':
      return ready().peakMap(req.args.image, req.args.classIndex, req.args.x, req.args.y, req.args.kind, check);
    case 'snap':
      return ready().snapToProposal(req.args.image, req.args.mask, check);
    case 'segmentPrompt':
      return ready().segmentPrompt(req.args.image, req.args.classIndex, req.args.prompt, check);
    case 'prepare':
      return ready().prepareEmbedding(req.args.image, check);
    case 'segmenter':
      return ready().segmenterInfo();
    case 'proposalAt':
      return ready().proposalAt(req.args.image, req.args.x, req.args.y, check);
    case 'features':
      return cacheFeatures(req.args, check);
    case 'setHead':
      return setHead(req.args.head);
    case 'status':
      return { provider: sessions?.provider ?? null, fallbackReasons: sessions?.fallbackReasons ?? [] };
    case 'close':
      await sessions?.release();
      await pipeline?.release();
      sessions = null;
      pipeline = null;
      return null;
    default:
      throw new PeakLabelError('BAD_ARGUMENT', `Unknown engine request ${(req as { op: string }).op}.`);
  }
}

port.on('message', (req: WorkerRequest) => {
  if (req.op === 'cancel') {
    cancelled.add(req.args.target);
    return;
  }
  queue = queue.then(async () => {
    try {
      const result = await handle(req);
      send({ id: req.id, ok: true, result });
    } catch (err) {
      send({ id: req.id, ok: false, error: toErrorInfo(err) });
    } finally {
      cancelled.delete(req.id);
    }
  });
});
