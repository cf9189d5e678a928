// Small formatting helpers for the UI.

export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '…';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** Displayed data (e.g. a thumbnail) as an object URL. */
export function pixelsUrl(p: { mime: string; data: Uint8Array }): string {
  return URL.createObjectURL(new Blob([p.data as Uint8Array<ArrayBuffer>], { type: p.mime }));
}

export async function pixelsBitmap(p: { mime: string; data: Uint8Array }): Promise<ImageBitmap> {
  return createImageBitmap(new Blob([p.data as Uint8Array<ArrayBuffer>], { type: p.mime }));
}
