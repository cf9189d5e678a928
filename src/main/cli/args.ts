// Option parsing shared by the commands: node's parseArgs, with mistakes reported as BAD_ARGUMENT
// sentences that point at --help.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { PeakLabelError } from '../../common/errors';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseOptions<O extends Options>(command: string, args: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new PeakLabelError('BAD_ARGUMENT', `${command}: ${(err as Error).message} (see peaklabel ${command} --help).`);
  }
}

/** The value of a required option, or a BAD_ARGUMENT naming it. */
export function required(command: string, name: string, value: string | undefined): string {
  if (!value) throw new PeakLabelError('BAD_ARGUMENT', `${command} needs --${name} (see peaklabel ${command} --help).`);
  return value;
}
