// Reading an imported image the way it is displayed (EXIF orientation applied), for the viewer. The engine
// decodes the same file with the same rules (engine/preprocess.ts), so display, inference and export share
// one coordinate frame. Huge images are read from their cached working copy (made at import), never from the
// original again.
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Sharp } from 'sharp';
import type { PixelData } from '../../common/api';
import type { ImageSource, ProjectStore } from '../store/project-store';
import { imageError, openImage, openOriented, WORKING_COPY_SIDE } from './decode';
import { writeWorkingCopy } from './importer';

/** A pipeline producing the oriented image, and the size of what it produces. */
async function orientedSource(src: ImageSource): Promise<{ pipeline: () => Promise<Sharp>; width: number; height: number }> {
  if (src.workingCopy) {
    const p = src.workingCopy;
    if (!existsSync(p)) await rebuildWorkingCopy(src.path, src.orientation, p);
    const m = await (await openImage(p)).metadata();
    return { pipeline: () => openImage(p), width: m.width!, height: m.height! };
  }
  return { pipeline: () => openOriented(src.path, src.orientation), width: src.width, height: src.height };
}

/** The cache was deleted: decode the original once more to recreate the working copy. */
async function rebuildWorkingCopy(file: string, orientation: number, target: string): Promise<void> {
  const data = await (await openOriented(file, orientation)).resize(WORKING_COPY_SIDE, WORKING_COPY_SIDE, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 90 }).toBuffer();
  await writeWorkingCopy(dirname(target), basename(target), data);
}

function fitInside(w: number, h: number, maxSide: number): { width: number; height: number } {
  const s = Math.min(1, maxSide / Math.max(w, h));
  return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
}

/** The oriented image as a JPEG, longest side at most maxSide; scale = delivered / displayed size. */
export async function imagePixels(store: ProjectStore, imageId: number, maxSide: number): Promise<PixelData> {
  const src = store.imageSource(imageId);
  try {
    const o = await orientedSource(src);
    const size = fitInside(o.width, o.height, maxSide);
    const { data, info } = await (await o.pipeline()).resize(size.width, size.height, { fit: 'fill' }).flatten({ background: '#ffffff' })
      .jpeg({ quality: 92 }).toBuffer({ resolveWithObject: true });
    return { mime: 'image/jpeg', data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, scale: info.width / src.width };
  } catch (err) {
    throw imageError(err, src.path);
  }
}

export function thumbnailPixels(store: ProjectStore, imageId: number): PixelData {
  const t = store.thumbnail(imageId);
  const src = store.imageSource(imageId);
  return { mime: 'image/jpeg', data: t.jpeg, width: t.width, height: t.height, scale: t.width / src.width };
}
