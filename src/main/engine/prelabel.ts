// Pre-labelling many images: a small pool keeps every engine worker busy; each finished image is handed
// to `onResult` at once (the project commits it in its own transaction), so an interrupted run keeps
// everything finished so far. Unreadable images are reported and skipped.
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { PeakLabelError, toErrorInfo, type ErrorInfo } from '../../common/errors';
import type { SuggestionMethod } from '../../common/api';
import { IMAGE_EXTENSIONS } from '../images/decode';
import type { Engine } from './engine';
import type { ImageRef, ImageResult } from './protocol';

export interface PrelabelItem<T> {
  key: T;
  image: ImageRef;
  /** Class indices from the image's tags, or null to let class scores decide. */
  classes: number[] | null;
}

export interface PrelabelRunOptions<T> {
  method: SuggestionMethod;
  signal?: AbortSignal;
  onResult: (item: PrelabelItem<T>, result: ImageResult) => void | Promise<void>;
  onError: (item: PrelabelItem<T>, error: ErrorInfo) => void | Promise<void>;
}

/** Runs all items with one request in flight per worker; returns false when cancelled. */
export async function runPrelabel<T>(engine: Engine, items: PrelabelItem<T>[], opts: PrelabelRunOptions<T>): Promise<boolean> {
  let next = 0;
  let cancelled = false;
  const lane = async () => {
    while (next < items.length) {
      if (opts.signal?.aborted) {
        cancelled = true;
        return;
      }
      const item = items[next++];
      try {
        const result = await engine.processImage({ image: item.image, classes: item.classes, method: opts.method }, opts.signal);
        await opts.onResult(item, result);
      } catch (err) {
        const info = toErrorInfo(err);
        if (info.code === 'CANCELLED') {
          cancelled = true;
          return;
        }
        // Model/provider failures stop the run: every further image would fail the same way.
        if (info.code === 'MODEL_INVALID' || info.code === 'MODEL_UNAVAILABLE' || info.code === 'PROVIDER_FAILED') throw err;
        await opts.onError(item, info);
      }
    }
  };
  await Promise.all(Array.from({ length: engine.workerCount }, lane));
  return !cancelled && !opts.signal?.aborted;
}

/** Image files directly inside a folder (sorted by name); errors name the folder. */
export function listImageFiles(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a folder');
    names = readdirSync(dir);
  } catch (err) {
    throw new PeakLabelError('UNREADABLE', `The image folder ${dir} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`, { file: dir });
  }
  return names
    .filter((n) => IMAGE_EXTENSIONS.has(extname(n).toLowerCase()))
    .sort()
    .map((n) => join(dir, n));
}
