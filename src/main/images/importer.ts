// Adds a folder of images to a project: referenced in place, hashed, oriented, thumbnailed.
// Each file is decoded once: small images straight to a thumbnail, huge ones to a cached working copy
// from which the thumbnail (and every later view) is made. Bad files are reported; the rest goes on.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { ImportResult } from '../../common/api';
import { PeakLabelError, toErrorInfo, type ErrorInfo } from '../../common/errors';
import type { Job } from '../api/context';
import { writeFileAtomic } from '../fs/atomic-write';
import type { NewImage, ProjectStore } from '../store/project-store';
import { HUGE_PIXELS, imageError, openImage, openOriented, probeImage, THUMBNAIL_SIDE, WORKING_COPY_SIDE } from './decode';
import { scanImageFolder } from './scan';

/** Files read into memory whole below this size; bigger ones are streamed (hash) and read by path. */
const MAX_BUFFERED_BYTES = 256 * 1024 * 1024;
/** Pipelines in flight (2 cores: one decoding while the other reads/hashes). */
const PARALLEL = 3;
/** Images per insert transaction: a crash or cancel keeps every finished batch. */
const BATCH = 100;

export async function importImageFolder(store: ProjectStore, folder: string, job: Job): Promise<ImportResult> {
  const { files, problems } = await scanImageFolder(folder);
  job.tracker.total = files.length;
  const failed: ErrorInfo[] = [...problems];
  const duplicates: ImportResult['duplicates'] = [];
  const knownPaths = store.imageIdsByPath();
  const byHash = store.pathsByHash();
  // Never import our own working copies (a project may live inside its image folder).
  const cachePrefix = store.cacheDir + sep;
  const todo = files.filter((f) => !knownPaths.has(f) && !f.startsWith(cachePrefix));
  job.tracker.done = files.length - todo.length;
  let batch: NewImage[] = [];
  let added = 0;
  const flush = () => {
    if (batch.length === 0) return;
    store.insertImages(batch);
    added += batch.length;
    batch = [];
  };

  let next = 0;
  let fatal: unknown = null;
  const worker = async () => {
    while (next < todo.length && !job.signal.aborted && fatal === null) {
      const file = todo[next++];
      try {
        const { buffer, hash, size } = await readAndHash(file);
        const dupOf = byHash.get(hash);
        if (dupOf !== undefined) {
          duplicates.push({ path: file, duplicateOf: dupOf });
          job.tracker.step(file);
          continue;
        }
        byHash.set(hash, file); // claimed before decoding so a parallel twin is seen as a duplicate
        let image: NewImage;
        try {
          image = await decodeForImport(buffer ?? file, file, hash, size, store.workingDir);
        } catch (err) {
          byHash.delete(hash);
          throw err;
        }
        batch.push(image); // after the await: `batch` may have been flushed and replaced meanwhile
        job.tracker.step(file);
      } catch (err) {
        failed.push(toErrorInfo(imageError(err, file)));
        job.tracker.step(file, false);
      }
      // A failing project write (full disk, read-only file) stops the import instead of blaming images.
      if (batch.length >= BATCH) {
        try {
          flush();
        } catch (err) {
          fatal = err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  if (fatal === null) flush();
  if (fatal !== null) throw fatal;
  const cancelled = job.signal.aborted;
  return { added, duplicates, failed, cancelled };
}

async function readAndHash(file: string): Promise<{ buffer: Buffer | null; hash: string; size: number }> {
  const size = (await stat(file)).size;
  if (size <= MAX_BUFFERED_BYTES) {
    const buffer = await readFile(file);
    return { buffer, hash: createHash('sha1').update(buffer).digest('hex'), size };
  }
  const h = createHash('sha1');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return { buffer: null, hash: h.digest('hex'), size };
}

/** Decodes one image once: probe, then a thumbnail (small) or a working copy + thumbnail (huge). */
export async function decodeForImport(input: Buffer | string, file: string, hash: string, size: number, workingDir: string): Promise<NewImage> {
  const probe = await probeImage(input, file);
  let workingCopy: string | null = null;
  let thumbSource: Buffer | string = input;
  try {
    if (probe.width * probe.height > HUGE_PIXELS) {
      const copy = await (await openOriented(input, probe.orientation, file))
        .resize(WORKING_COPY_SIDE, WORKING_COPY_SIDE, { fit: 'inside', withoutEnlargement: true })
        .jpeg({ quality: 90 }).toBuffer();
      workingCopy = `${hash}.jpg`;
      await writeWorkingCopy(workingDir, workingCopy, copy);
      thumbSource = copy;
    }
    const pipeline = workingCopy ? await openImage(thumbSource, file) : await openOriented(thumbSource, probe.orientation, file);
    const { data, info } = await pipeline
      .resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 80 })
      .toBuffer({ resolveWithObject: true });
    return {
      path: file, hash, width: probe.width, height: probe.height, orientation: probe.orientation, fileSize: size, workingCopy,
      thumbnail: { width: info.width, height: info.height, jpeg: data },
    };
  } catch (err) {
    throw imageError(err, file);
  }
}

/** Writes a working copy (at import, or again when the cache was cleared); failures name the copy, not the image. */
export async function writeWorkingCopy(dir: string, name: string, data: Buffer): Promise<void> {
  const target = join(dir, name);
  try {
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(target, data);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new PeakLabelError('DISK_FULL', `The disk is full: cannot write the working copy ${target}.`, { file: target, cause: err });
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') throw new PeakLabelError('READ_ONLY', `Cannot write the working copy ${target}: the folder is read-only.`, { file: target, cause: err });
    throw err;
  }
}
