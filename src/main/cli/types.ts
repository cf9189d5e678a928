// The shape of a CLI command (one module per command under commands/, registered in commands/index.ts).
import type { ProgressEvent } from '../../common/progress';

export interface CliContext {
  /** Results for people and scripts (stdout). */
  out(line: string): void;
  /** Messages and errors (stderr). */
  err(line: string): void;
  /** Progress bar on stderr: a redrawn bar on a terminal, a plain line now and then otherwise. */
  progress(e: ProgressEvent): void;
}

export interface CliCommand {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text (usage line and options). */
  usage: string;
  /** Returns the exit code (0 = success). Throwing a PeakLabelError prints its sentence and exits 1. */
  run(args: string[], ctx: CliContext): Promise<number>;
}
