// Project → COCO instances file, streamed: images and annotations are read from SQLite one image at a
// time and written through a small buffer, so memory stays flat for any project size. The file is
// written beside the target under a temporary name and renamed at the end: a failure (full disk,
// read-only folder, cancel) leaves any previous file untouched and no half-written one.
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import type { ExportOptions, ExportResult, InstanceSource } from '../../common/api';
import { PeakLabelError } from '../../common/errors';
import type { Job } from '../api/context';
import { fsyncFolder, tempPathFor } from '../fs/atomic-write';
import type { ProjectStore } from '../store/project-store';
import type { NumberedInstance } from './annotation-json';
import { createJsonPool } from './export-pool';

export const DEFAULT_EXPORT_SOURCES: InstanceSource[] = ['accepted', 'edited', 'manual', 'imported'];
const FLUSH_BYTES = 1 << 20;
const PAGE = 500;
/** Images per chunk handed to a worker, worker threads for polygon tracing, and the size where they pay off. */
const CHUNK_IMAGES = 32;
const EXPORT_WORKERS = 2;
const POOL_MIN_IMAGES = 500;

/** `workers` overrides when worker threads trace polygons (default: 2 for polygon exports of ≥ 500 images). */
export async function exportCoco(store: ProjectStore, opts: ExportOptions, job?: Job, tuning: { workers?: number } = {}): Promise<ExportResult> {
  const out = resolve(opts.out);
  const sources = opts.sources?.length ? opts.sources : DEFAULT_EXPORT_SOURCES;
  const filter = { statuses: opts.statuses, imageIds: opts.imageIds };
  const classes = store.listClasses();
  const categoryIdOf = new Map(classes.map((c, i) => [c.id, i + 1]));

  // The exported images, fixed up front (ids only: 8 bytes an image) so numbering cannot shift while
  // the file is written; then pages of them are read as needed.
  const ids = store.exportImageIds(filter);
  const imageCount = ids.length;
  const pages = function* () {
    for (let i = 0; i < ids.length; i += PAGE) yield store.imagesByIds(ids.slice(i, i + PAGE));
  };
  // The folder all exported images share, so file_name keeps sub-folders.
  let common: string | null = null;
  for (const page of pages()) for (const im of page) common = common === null ? dirname(im.path) : commonFolder(common, dirname(im.path));
  if (job) job.tracker.total = imageCount;

  const writer = await AtomicWriter.open(out);
  let annotations = 0;
  try {
    const info = { description: `Exported by PeakLabel from ${basename(store.path)}`, version: '1.0', year: new Date().getUTCFullYear(), date_created: new Date().toISOString() };
    await writer.write(`{"info":${JSON.stringify(info)},"licenses":[],"categories":[`);
    await writer.write(classes.map((c, i) => JSON.stringify({ id: i + 1, name: c.name, supercategory: c.name })).join(','));
    await writer.write('],"images":[');
    let n = 0;
    for (const page of pages()) {
      for (const im of page) {
        const fileName = common ? relative(common, im.path).split(sep).join('/') : basename(im.path);
        await writer.write(`${n > 0 ? ',' : ''}${JSON.stringify({ id: ++n, file_name: fileName, width: im.width, height: im.height })}`);
      }
    }
    await writer.write('],"annotations":[');
    const readInstances = store.exportInstancesReader(sources);
    // Chunks of images go to the JSON pool; up to 2 chunks per worker are in flight, written in order.
    const workers = tuning.workers ?? (opts.format === 'polygon' && imageCount >= POOL_MIN_IMAGES ? EXPORT_WORKERS : 0);
    const pool = createJsonPool(workers);
    const inFlight: { images: number; json: Promise<string[]> }[] = [];
    let written = 0;
    const drainOne = async () => {
      const next = inFlight.shift()!;
      for (const j of await next.json) await writer.write(`${written++ > 0 ? ',' : ''}${j}`);
      for (let k = 0; k < next.images; k++) job?.tracker.step();
    };
    try {
      let chunk: NumberedInstance[] = [];
      let chunkImages = 0;
      let imageId = 0;
      for (const id of ids) {
        imageId++;
        job?.throwIfCancelled();
        for (const inst of readInstances(id)) {
          const categoryId = categoryIdOf.get(inst.class_id);
          if (categoryId === undefined) continue;
          chunk.push({ ...inst, annId: ++annotations, imageId, categoryId });
        }
        if (++chunkImages >= CHUNK_IMAGES) {
          inFlight.push({ images: chunkImages, json: pool.convert(chunk, opts.format) });
          chunk = [];
          chunkImages = 0;
          if (inFlight.length >= 2 * Math.max(1, workers)) await drainOne();
        }
      }
      if (chunkImages > 0) inFlight.push({ images: chunkImages, json: pool.convert(chunk, opts.format) });
      while (inFlight.length > 0) await drainOne();
    } finally {
      await Promise.allSettled(inFlight.map((f) => f.json));
      await pool.close();
    }
    await writer.write(']}\n');
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return { path: out, images: imageCount, annotations, categories: classes.length };
}

function commonFolder(a: string, b: string): string {
  if (a === b) return a;
  const pa = a.split(sep), pb = b.split(sep);
  let i = 0;
  while (i < pa.length && i < pb.length && pa[i] === pb[i]) i++;
  return pa.slice(0, i).join(sep) || sep;
}

/** Buffered writes to a temporary file (tempPathFor), renamed onto `out` by commit(); abort() removes the temp file. */
export class AtomicWriter {
  private chunks: string[] = [];
  private size = 0;

  private constructor(private readonly out: string, private readonly tmp: string, private readonly fh: FileHandle) {}

  static async open(out: string): Promise<AtomicWriter> {
    const tmp = tempPathFor(out);
    try {
      return new AtomicWriter(out, tmp, await open(tmp, 'w'));
    } catch (err) {
      throw writeError(err, out);
    }
  }

  async write(s: string): Promise<void> {
    this.chunks.push(s);
    this.size += s.length;
    if (this.size >= FLUSH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.chunks.length === 0) return;
    const data = Buffer.from(this.chunks.join(''));
    this.chunks = [];
    this.size = 0;
    try {
      // A nearly full disk takes part of a write without an error; the next write is the one that fails
      // with ENOSPC. Ignoring the count would commit a truncated file over the previous export.
      for (let done = 0; done < data.length;) done += (await this.fh.write(data, done)).bytesWritten;
    } catch (err) {
      throw writeError(err, this.out);
    }
  }

  async commit(): Promise<void> {
    await this.flush();
    try {
      await this.fh.sync();
      await this.fh.close();
      await rename(this.tmp, this.out);
      await fsyncFolder(dirname(this.out));
    } catch (err) {
      throw writeError(err, this.out);
    }
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await rm(this.tmp, { force: true }).catch(() => undefined);
  }
}

/** File-system failures while writing `file` as errors naming it. */
export function writeError(err: unknown, file: string): unknown {
  if (err instanceof PeakLabelError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new PeakLabelError('DISK_FULL', `The disk is full: ${file} was not written (any previous file is unchanged).`, { file, cause: err });
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return new PeakLabelError('READ_ONLY', `Cannot write ${file}: the location is read-only (any previous file is unchanged).`, { file, cause: err });
  if (code === 'ENOENT' || code === 'ENOTDIR') return new PeakLabelError('NOT_FOUND', `Cannot write ${file}: its folder does not exist.`, { file, cause: err });
  return err;
}
