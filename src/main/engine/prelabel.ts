// Pre-labelling many images: a small pool keeps every engine worker busy; each finished image is handed
// to `onResult` at once (the project commits it in its own transaction), so an interrupted run keeps
// everything finished so far. A stop (Ctrl-C) lets the images in progress finish; an abort drops them.
// Unreadable images are reported and skipped.
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
  /** Class indices from the image's tags, or null to let class scores decide (among `among`, when given). */
  classes: number[] | null;
  among?: number[];
}

export interface PrelabelRunOptions<T> {
  method: SuggestionMethod;
  /** Aborts at once: images in progress are dropped. */
  signal?: AbortSignal;
  /** Stops taking new images; the ones in progress finish and are handed to onResult/onError (Ctrl-C). */
  stop?: AbortSignal;
  onResult: (item: PrelabelItem<T>, result: ImageResult) => void | Promise<void>;
  onError: (item: PrelabelItem<T>, error: ErrorInfo) => void | Promise<void>;
}

export interface PrelabelOutcome<T> {
  /** Every item was handed to onResult or onError. */
  complete: boolean;
  /** The items that were in progress when `stop` fired, in the order they were started; each was finished. */
  finishedAfterStop: T[];
}

/** Runs all items with one request in flight per worker. */
export async function runPrelabel<T>(engine: Engine, items: PrelabelItem<T>[], opts: PrelabelRunOptions<T>): Promise<PrelabelOutcome<T>> {
  let next = 0;
  let settled = 0;
  const inFlight = new Set<PrelabelItem<T>>();
  let atStop: PrelabelItem<T>[] = [];
  const onStop = () => (atStop = [...inFlight]);
  if (opts.stop?.aborted) onStop();
  else opts.stop?.addEventListener('abort', onStop, { once: true });
  const lane = async () => {
    while (next < items.length && !opts.stop?.aborted && !opts.signal?.aborted) {
      const item = items[next++];
      inFlight.add(item);
      try {
        const result = await engine.processImage({ image: item.image, classes: item.classes, among: item.among, method: opts.method }, opts.signal);
        await opts.onResult(item, result);
      } catch (err) {
        const info = toErrorInfo(err);
        if (info.code === 'CANCELLED') return;
        // Model/provider failures stop the run: every further image would fail the same way.
        if (info.code === 'MODEL_INVALID' || info.code === 'MODEL_UNAVAILABLE' || info.code === 'PROVIDER_FAILED') throw err;
        await opts.onError(item, info);
      } finally {
        inFlight.delete(item);
      }
      settled++;
    }
  };
  try {
    await Promise.all(Array.from({ length: engine.workerCount }, lane));
  } finally {
    opts.stop?.removeEventListener('abort', onStop);
  }
  return { complete: settled === items.length, finishedAfterStop: atStop.map((i) => i.key) };
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
