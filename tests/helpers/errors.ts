import { PeakLabelError } from '../../src/common/errors';

/** The PeakLabelError that fn throws; any other outcome fails the test. */
export function caught(fn: () => unknown): PeakLabelError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PeakLabelError) return err;
    throw err;
  }
  throw new Error('expected a PeakLabelError');
}
