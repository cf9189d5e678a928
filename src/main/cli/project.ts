// How a CLI command gets the API: a fresh service on one project, its progress going to the CLI's bar.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PeakLabelApi } from '../../common/api';
import { ServiceContext, type EngineFactory } from '../api/context';
import { createService } from '../api/service';
import type { CliContext } from './types';

export interface CliSession {
  api: PeakLabelApi;
  ctx: ServiceContext;
  close(): void;
}

/** Opens (or with create, creates when missing) the project and wires progress to the CLI. */
export async function openSession(cli: CliContext, projectPath: string, opts: { create?: boolean; engine?: EngineFactory } = {}): Promise<CliSession> {
  const ctx = new ServiceContext();
  const api = createService(ctx, opts.engine?.(ctx));
  const file = resolve(projectPath);
  if (opts.create && !existsSync(file)) await api.createProject(file);
  else await api.openProject(file);
  const off = api.onProgress((e) => cli.progress(e));
  return { api, ctx, close: () => { off(); ctx.close(); } };
}
