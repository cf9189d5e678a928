// A pipeline with the segmenter on the CPU, as a worker builds it, for engine tests of method sam.
import type { Bundle } from '../../src/main/engine/bundle';
import { Pipeline } from '../../src/main/engine/pipeline';
import { ProposalCache } from '../../src/main/engine/proposal-cache';
import { SamHost } from '../../src/main/engine/sam-method';
import { defaultSegmenterFiles } from '../../src/main/engine/segmenter';
import { ModelSessions, sessionOptions } from '../../src/main/engine/sessions';

export interface SamPipeline {
  sessions: ModelSessions;
  host: SamHost;
  pipeline: Pipeline;
  release(): Promise<void>;
}

export async function openSamPipeline(bundle: Bundle): Promise<SamPipeline> {
  const sessions = await ModelSessions.open(bundle, { provider: 'cpu', threads: 2 });
  const host = new SamHost({ files: defaultSegmenterFiles(), provider: 'cpu', sessionOptions: sessionOptions(2) });
  const pipeline = new Pipeline(bundle, sessions, new ProposalCache(null), undefined, host);
  return {
    sessions,
    host,
    pipeline,
    async release() {
      await host.release();
      await sessions.release();
    },
  };
}
