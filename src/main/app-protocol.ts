// The desktop window's own scheme, app://peaklabel/…, served from the built renderer folder only. With
// file:// the page was one origin with every file on the disk, and every file: request had to be allowed;
// here a URL maps to a file inside the renderer folder or to nothing. Also the window's other URL rules
// (which requests, which IPC senders, which dev server). No electron import, so all of it is unit-tested
// (tests/main/app-protocol.test.ts); the shell (index.ts) registers the scheme and applies the rules.
import { realpath, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

export const APP_SCHEME = 'app';
export const APP_HOST = 'peaklabel';
/** The window loads this; the IPC handler accepts calls only from it. */
export const APP_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.woff2': 'font/woff2', '.wasm': 'application/wasm', '.ico': 'image/x-icon', '.map': 'application/json',
};

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * The path inside `root` that an app:// URL names, or null: another scheme or host, a malformed escape,
 * a NUL or backslash, or a path that leaves `root` (`..`, also when percent-encoded). `/` is index.html.
 */
export function appUrlToPath(url: string, root: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return null;
  let rel: string;
  try {
    rel = decodeURIComponent(u.pathname);
  } catch {
    return null;
  }
  if (rel.includes('\0') || rel.includes('\\')) return null;
  if (rel.endsWith('/')) rel += 'index.html';
  const base = normalize(root);
  const file = normalize(join(base, rel));
  return file.startsWith(base.endsWith(sep) ? base : base + sep) ? file : null;
}

/**
 * The regular file an app:// URL serves, or null. Links are followed and the target must still lie
 * inside the renderer folder, so a link planted there cannot reach the rest of the disk.
 */
export async function appFile(url: string, root: string): Promise<string | null> {
  const path = appUrlToPath(url, root);
  if (!path) return null;
  try {
    const [realRoot, real] = await Promise.all([realpath(root), realpath(path)]);
    if (!real.startsWith(realRoot + sep)) return null;
    return (await stat(real)).isFile() ? real : null;
  } catch {
    return null; // missing
  }
}

/** The dev server to load instead (set by `electron-vite dev`); a packaged app ignores its environment. */
export function devServerUrl(isPackaged: boolean, env: Record<string, string | undefined>): string | undefined {
  return isPackaged ? undefined : env.ELECTRON_RENDERER_URL || undefined;
}

/** Requests the window may make: its own scheme, devtools, blob: and data:, and the dev server. Never file:. */
export function requestAllowed(url: string, devUrl: string | undefined): boolean {
  if (url.startsWith(`${APP_SCHEME}://${APP_HOST}/`) || url.startsWith('devtools:') || url.startsWith('blob:') || url.startsWith('data:')) return true;
  return devUrl !== undefined && (url.startsWith(devUrl) || url.startsWith(devUrl.replace(/^http/, 'ws')));
}

/** Only the app's own page may call the API (no iframes, no navigated-away content). */
export function trustedSender(frameUrl: string | undefined, devUrl: string | undefined): boolean {
  if (!frameUrl) return false;
  if (devUrl) return frameUrl.startsWith(devUrl);
  return frameUrl === APP_INDEX_URL || frameUrl.startsWith(APP_INDEX_URL + '#');
}
