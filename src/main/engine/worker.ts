// Engine worker: owns one bundle's ORT sessions and a Pipeline; answers requests from engine.ts.
// Cancellation: a 'cancel' message marks the request; the pipeline checks the mark between stages.
import { parentPort } from 'node:worker_threads';
import { PeakLabelError, toErrorInfo } from '../../common/errors';
import { readBundle, withRetrieval } from './bundle';
import { Pipeline } from './pipeline';
import { ProposalCache } from './proposal-cache';
import type { OpenRequest, OpenResult, WorkerReply, WorkerRequest } from './protocol';
import { SamHost } from './sam-method';
import { ModelSessions, sessionOptions } from './sessions';

const port = parentPort!;
let sessions: ModelSessions | null = null;
let pipeline: Pipeline | null = null;
const cancelled = new Set<number>();
// Requests run one at a time: ORT already uses the worker's share of the cores.
let queue: Promise<void> = Promise.resolve();

const send = (m: WorkerReply) => port.postMessage(m);
const log = (line: string) => send({ log: line });

async function open(args: OpenRequest): Promise<OpenResult> {
  const bundle = withRetrieval(readBundle(args.bundleDir), args.retrieval);
  sessions = await ModelSessions.open(bundle, { provider: args.provider, threads: args.threads, log });
  const sam = args.segmenter ? new SamHost({ files: args.segmenter, provider: sessions.provider, sessionOptions: sessionOptions(args.threads ?? 0), log }) : null;
  pipeline = new Pipeline(bundle, sessions, new ProposalCache(args.cacheDir ?? null), args.iamCrf, sam);
  return { provider: sessions.provider, fallbackReasons: sessions.fallbackReasons };
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
      return ready().processImage(req.args.image, req.args.classes, req.args.method, check);
    case 'peaks':
      return ready().findPeaks(req.args.image, req.args.classes, check);
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
      return ready().segmenterProvider();
    case 'proposalAt':
      return ready().proposalAt(req.args.image, req.args.x, req.args.y, check);
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
