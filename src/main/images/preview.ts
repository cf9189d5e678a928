// A picture of one image's suggestions that a person can look at without the app: each mask filled in
// its class colour (translucent, with an opaque outline), each peak as a ring, and "class score" beside
// it. Masks are painted into one raw RGBA layer (exact, any size); peaks and text are an SVG layer, as
// libvips renders SVG text without a font file of ours.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp from 'sharp';
import { PeakLabelError } from '../../common/errors';
import { decodeRle } from '../../common/rle';
import { writeFileAtomic } from '../fs/atomic-write';
import { HUGE_PIXELS, imageError, openImage } from './decode';

export interface PreviewInstance {
  /** Index into `classes`. */
  classIndex: number;
  mask: { size: [number, number]; counts: string };
  score: number;
  peak: { x: number; y: number };
}

export interface PreviewClass {
  name: string;
  /** #rrggbb */
  color: string;
}

const FILL_ALPHA = 130;
/** Outline width in pixels, so a pale class colour still shows on a busy photo. */
const EDGE = 2;

function rgb(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex);
  const v = m ? parseInt(m[1], 16) : 0xff00ff;
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The RGBA layer of the masks: lowest score first, so the best suggestion is painted on top. */
function maskLayer(width: number, height: number, instances: PreviewInstance[], classes: PreviewClass[]): Buffer {
  const layer = Buffer.alloc(width * height * 4);
  for (const inst of [...instances].sort((a, b) => a.score - b.score)) {
    const m = decodeRle(inst.mask);
    if (m.width !== width || m.height !== height) continue; // not this image's mask: nothing sensible to draw
    const [r, g, b] = rgb(classes[inst.classIndex]?.color ?? '#ff00ff');
    const d = m.data;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (!d[i]) continue;
        const edge = x < EDGE || y < EDGE || x >= width - EDGE || y >= height - EDGE || !d[i - EDGE] || !d[i + EDGE] || !d[i - EDGE * width] || !d[i + EDGE * width] || !d[i - 1] || !d[i + 1] || !d[i - width] || !d[i + width];
        layer[i * 4] = r;
        layer[i * 4 + 1] = g;
        layer[i * 4 + 2] = b;
        layer[i * 4 + 3] = edge ? 255 : FILL_ALPHA;
      }
    }
  }
  return layer;
}

/** Peaks as rings and "class 0.87" labels on a dark box, sized to the image. */
function labelLayer(width: number, height: number, instances: PreviewInstance[], classes: PreviewClass[]): Buffer {
  const font = Math.max(11, Math.round(Math.min(width, height) / 40));
  const ring = Math.max(4, Math.round(font / 2));
  const parts: string[] = [];
  for (const inst of instances) {
    const cls = classes[inst.classIndex] ?? { name: `class ${inst.classIndex}`, color: '#ff00ff' };
    const { x, y } = inst.peak;
    const text = `${cls.name} ${inst.score.toFixed(2)}`;
    const boxW = Math.round(text.length * font * 0.62 + font * 0.6);
    const boxH = Math.round(font * 1.4);
    const bx = Math.min(Math.max(0, x + ring + 2), Math.max(0, width - boxW));
    const by = Math.min(Math.max(0, y - boxH / 2), Math.max(0, height - boxH));
    parts.push(
      `<circle cx="${x}" cy="${y}" r="${ring}" fill="${cls.color}" stroke="#ffffff" stroke-width="${Math.max(1.5, ring / 3)}"/>`,
      `<rect x="${bx}" y="${by}" width="${boxW}" height="${boxH}" rx="${font / 4}" fill="#000000" fill-opacity="0.65"/>`,
      `<text x="${bx + font * 0.3}" y="${by + boxH * 0.72}" font-family="DejaVu Sans, Arial, sans-serif" font-size="${font}" fill="#ffffff">${escapeXml(text)}</text>`,
    );
  }
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`);
}

/** Writes `out` (PNG, the image's displayed size) showing the suggestions on the image. */
export async function writePreview(file: string, width: number, height: number, instances: PreviewInstance[], classes: PreviewClass[], out: string): Promise<void> {
  // Drawn at full size, one byte per pixel per mask: a huge scan would need gigabytes for a picture.
  if (width * height > HUGE_PIXELS) {
    throw new PeakLabelError('IMAGE_TOO_LARGE', `${file} is ${width}×${height} pixels: previews are drawn only up to ${HUGE_PIXELS / 1e6} megapixels.`, { file });
  }
  let base: { data: Buffer; info: { channels: number } };
  try {
    // Greyscale photos become three channels, so the class colours show.
    base = await (await openImage(file)).autoOrient().resize(width, height, { fit: 'fill' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw imageError(err, file);
  }
  const png = await sharp(base.data, { raw: { width, height, channels: base.info.channels as 1 | 2 | 3 | 4 } })
    .composite([
      { input: maskLayer(width, height, instances, classes), raw: { width, height, channels: 4 } },
      ...(instances.length ? [{ input: labelLayer(width, height, instances, classes) }] : []),
    ])
    .png()
    .toBuffer();
  await mkdir(dirname(out), { recursive: true });
  await writeFileAtomic(out, png);
}
