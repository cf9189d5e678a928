// Whole-file writes that never leave half a file: the data goes to a temporary file beside the target,
// is flushed to the disk (fsync), renamed onto the target, and the folder is flushed so the rename itself
// survives a power cut. Each write gets its own random temporary name, so two writes of the same file
// (two windows, a CLI beside the app) never share one. When a write fails (full disk, read-only folder)
// the temp file is removed and the error rethrown unchanged, for the caller to turn into a sentence
// naming its file; any previous file is untouched.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, rmSync, renameSync, writeFileSync } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Where a whole-file write goes before its rename (beside the target, so the rename stays on one disk). */
export function tempPathFor(file: string): string {
  return `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/** Some systems (Windows) cannot open or flush a folder; there the rename is as durable as it gets. */
function folderSyncUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return process.platform === 'win32' || code === 'EISDIR' || code === 'EPERM' || code === 'EINVAL' || code === 'ENOTSUP';
}

function fsyncPathSync(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Flushes a folder's entries (a rename into it) to the disk. */
export async function fsyncFolder(dir: string): Promise<void> {
  try {
    await fsyncPath(dir);
  } catch (err) {
    if (!folderSyncUnsupported(err)) throw err;
  }
}

function fsyncFolderSync(dir: string): void {
  try {
    fsyncPathSync(dir);
  } catch (err) {
    if (!folderSyncUnsupported(err)) throw err;
  }
}

export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  const tmp = tempPathFor(file);
  try {
    writeFileSync(tmp, data, { flag: 'wx' });
    fsyncPathSync(tmp);
    renameSync(tmp, file);
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // the write's own error is the one to report
    }
    throw err;
  }
  fsyncFolderSync(dirname(file));
}

export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(file);
  try {
    await writeFile(tmp, data, { flag: 'wx' });
    await fsyncPath(tmp);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined); // the write's own error is the one to report
    throw err;
  }
  await fsyncFolder(dirname(file));
}
