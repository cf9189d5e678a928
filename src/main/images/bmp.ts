// BMP reader: sharp's prebuilt libvips has no BMP loader, so uncompressed BMPs (1/4/8-bit palette,
// 16/24/32-bit, BI_RGB and BI_BITFIELDS, bottom-up or top-down) are decoded here to raw RGBA that sharp
// takes as input. RLE-compressed BMPs are rare and reported as unsupported.
import { PeakLabelError } from '../../common/errors';

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 4;
}

export function isBmp(buf: Buffer): boolean {
  return buf.length >= 26 && buf[0] === 0x42 && buf[1] === 0x4d;
}

/** Width and height from the header alone. */
export function bmpSize(buf: Buffer, file: string): { width: number; height: number } {
  if (buf.length < 26) throw new PeakLabelError('IMAGE_DECODE', `${file} is a truncated BMP file.`, { file });
  const headerSize = buf.readUInt32LE(14);
  if (headerSize === 12) return { width: buf.readUInt16LE(18), height: buf.readUInt16LE(20) };
  return { width: buf.readInt32LE(18), height: Math.abs(buf.readInt32LE(22)) };
}

function maskShift(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

export function decodeBmp(buf: Buffer, file: string, maxPixels: number): RawImage {
  const bad = (why: string) => new PeakLabelError('IMAGE_DECODE', `${file} is not a readable BMP (${why}).`, { file });
  if (!isBmp(buf)) throw bad('no BM signature');
  const dataOffset = buf.readUInt32LE(10);
  const headerSize = buf.readUInt32LE(14);
  const core = headerSize === 12;
  if (!core && buf.length < 54) throw bad('truncated header');
  const width = core ? buf.readUInt16LE(18) : buf.readInt32LE(18);
  const rawHeight = core ? buf.readInt16LE(20) : buf.readInt32LE(22);
  const bpp = core ? buf.readUInt16LE(24) : buf.readUInt16LE(28);
  const compression = core ? 0 : buf.readUInt32LE(30);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0) throw bad(`size ${width}×${height}`);
  if (width * height > maxPixels) {
    throw new PeakLabelError('IMAGE_TOO_LARGE', `${file} is ${width}×${height} pixels, more than PeakLabel's limit of ${maxPixels / 1e6} megapixels.`, { file });
  }
  if (compression !== 0 && compression !== 3 && compression !== 6) throw bad(`compression type ${compression} is not supported; save it uncompressed or as PNG`);

  // Palette (≤ 8 bits per pixel): BGR(X) entries after the header.
  let palette: Buffer | null = null;
  const entry = core ? 3 : 4;
  if (bpp <= 8) {
    const colours = (!core && buf.readUInt32LE(46)) || 1 << bpp;
    const start = 14 + headerSize;
    palette = buf.subarray(start, start + colours * entry);
  }
  // Channel masks for 16/32-bit: BI_BITFIELDS stores them after a 40-byte header (or inside v4/v5 headers).
  let masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f, 0] : [0x00ff0000, 0x0000ff00, 0x000000ff, 0];
  if ((compression === 3 || compression === 6) && buf.length >= 66) {
    masks = [buf.readUInt32LE(54), buf.readUInt32LE(58), buf.readUInt32LE(62), headerSize >= 56 || compression === 6 ? buf.readUInt32LE(66) : 0];
  }
  const shifts = masks.map(maskShift);

  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * height > buf.length) throw bad('the pixel data is truncated');
  const out = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    let o = y * width * 4;
    for (let x = 0; x < width; x++, o += 4) {
      let r: number, g: number, b: number, a = 255;
      if (bpp === 24) {
        const p = row + x * 3;
        b = buf[p]; g = buf[p + 1]; r = buf[p + 2];
      } else if (bpp === 32 || bpp === 16) {
        const v = bpp === 32 ? buf.readUInt32LE(row + x * 4) : buf.readUInt16LE(row + x * 2);
        const ch = shifts.map((s, i) => (s.max ? Math.round((((v & masks[i]) >>> s.shift) * 255) / s.max) : -1));
        [r, g, b] = ch;
        if (ch[3] >= 0) a = ch[3];
      } else if (palette && (bpp === 8 || bpp === 4 || bpp === 1)) {
        const bit = x * bpp;
        const byte = buf[row + (bit >> 3)];
        const idx = (byte >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        const p = idx * entry;
        b = palette[p] ?? 0; g = palette[p + 1] ?? 0; r = palette[p + 2] ?? 0;
      } else {
        throw bad(`${bpp} bits per pixel is not supported`);
      }
      out[o] = r; out[o + 1] = g; out[o + 2] = b; out[o + 3] = a;
    }
  }
  return { data: out, width, height, channels: 4 };
}
