import type { CliContext } from '../../src/main/cli/types';

/** A CLI context that keeps what a command prints, line by line. */
export function capture(): CliContext & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [], stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), progress: () => undefined };
}
