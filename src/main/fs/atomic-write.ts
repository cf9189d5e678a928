// Whole-file writes that never leave half a file: the data goes to `<file>.<pid>.tmp` beside the target
// and is renamed onto it. When a write fails (full disk, read-only folder) the temp file is removed and
// the error rethrown unchanged, for the caller to turn into a sentence naming its file; any previous
// file is untouched.
import { rmSync, renameSync, writeFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';

/** Where a whole-file write goes before its rename (beside the target, so the rename stays on one disk). */
export function tempPathFor(file: string): string {
  return `${file}.${process.pid}.tmp`;
}

export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  const tmp = tempPathFor(file);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // the write's own error is the one to report
    }
    throw err;
  }
}

export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(file);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined); // the write's own error is the one to report
    throw err;
  }
}
