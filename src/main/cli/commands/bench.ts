// `peaklabel bench [suite]`: runs one benchmark suite from src/main/bench/<suite>.ts. A suite module
// exports `suite: BenchSuite` (or a `run(args, ctx)` function). Without a name the engine suite runs.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PeakLabelError } from '../../../common/errors';
import type { CliCommand, CliContext } from '../types';

export interface BenchSuite {
  name: string;
  summary: string;
  run(args: string[], ctx: CliContext): Promise<number>;
}

const SUITES = ['engine', 'import', 'export', 'train'];
const DEFAULT_SUITE = 'engine';

function suiteFile(name: string): string {
  return fileURLToPath(new URL(`../../bench/${name}.ts`, import.meta.url));
}

export const command: CliCommand = {
  name: 'bench',
  summary: 'run a benchmark suite (engine [default], import, export, train) and print a table',
  usage: `usage: peaklabel bench [engine|import|export|train] [suite options]   (npm run bench -- import)

  engine   inference speed of the model bundle (the default)
  import   imports generated 1024×768 JPEGs (--images N, default 2000): images/s and peak RSS
  export   exports a generated project (--images N --instances M, default 10000/100000): seconds, RSS
  train    trains a project head on generated 1024×768 JPEGs (--images N, default 2000; --workers W, default 2):
           feature caching images/s, seconds from an empty cache and from a warm one, peak RSS
Run "peaklabel bench <suite> --help" for a suite's options.`,
  async run(args, ctx) {
    const name = args[0] && !args[0].startsWith('-') ? args[0] : DEFAULT_SUITE;
    const rest = args[0] === name ? args.slice(1) : args;
    if (!SUITES.includes(name)) throw new PeakLabelError('BAD_ARGUMENT', `bench: unknown suite "${name}" (one of ${SUITES.join(', ')}).`);
    const file = suiteFile(name);
    if (!existsSync(file)) throw new PeakLabelError('NOT_FOUND', `bench: the ${name} suite is not available in this build (${file} is missing).`, { file });
    const mod = (await import(file)) as { suite?: BenchSuite; run?: BenchSuite['run']; default?: BenchSuite };
    const run = mod.suite?.run ?? mod.run ?? mod.default?.run;
    if (!run) throw new PeakLabelError('INTERNAL', `bench: ${file} exports no suite.`, { file });
    return run(rest, ctx);
  },
};
