// `peaklabel <command> [options]`: the headless side of the app, for scripts and labs.
// Errors print their sentence on stderr and give a non-zero exit code.
import { isErrorInfo, PeakLabelError } from '../../common/errors';
import { commands } from './commands';
import { ProgressBar } from './progress-bar';
import type { CliContext } from './types';

export type { CliCommand, CliContext } from './types';

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'PeakLabel: instance-mask suggestions from image-level tags, exported as COCO.',
    '',
    'usage: peaklabel <command> [options]     (peaklabel <command> --help for its options)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export function createCliContext(): CliContext {
  const bar = new ProgressBar(process.stderr);
  return {
    out: (line) => { bar.clear(); process.stdout.write(`${line}\n`); },
    err: (line) => { bar.clear(); process.stderr.write(`${line}\n`); },
    progress: (e) => bar.update(e),
  };
}

export async function main(argv: string[], ctx: CliContext = createCliContext()): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? ctx.out : ctx.err)(usage());
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    ctx.err(`peaklabel: unknown command "${name}".\n\n${usage()}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    ctx.out(command.usage);
    return 0;
  }
  try {
    return await command.run(args, ctx);
  } catch (err) {
    if (err instanceof PeakLabelError || isErrorInfo(err)) {
      ctx.err(`peaklabel ${name}: ${err.message}`);
      return err.code === 'BAD_ARGUMENT' ? 2 : 1;
    }
    ctx.err(`peaklabel ${name}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 70;
  }
}
