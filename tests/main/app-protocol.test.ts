// The desktop window's app:// scheme maps URLs to files inside the built renderer folder only: the
// index, its assets, and nothing else (other hosts or schemes, .. in any spelling, links out of it).
// And the window's URL rules: no file: requests, IPC only from its page, no dev server when packaged.
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { APP_INDEX_URL, appFile, appUrlToPath, contentTypeOf, devServerUrl, requestAllowed, trustedSender } from '../../src/main/app-protocol';
import { testOutput } from '../helpers/shared';

const dir = testOutput('main', 'app-protocol');
const root = join(dir, 'renderer');

beforeAll(() => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html>');
  writeFileSync(join(root, 'assets', 'index-1.js'), '1');
  writeFileSync(join(root, 'assets', 'a b.css'), '');
  writeFileSync(join(dir, 'secret.txt'), 'outside');
  mkdirSync(join(dir, 'renderer-evil'), { recursive: true });
  writeFileSync(join(dir, 'renderer-evil', 'x.js'), 'sibling folder with the same prefix');
  symlinkSync(join(dir, 'secret.txt'), join(root, 'assets', 'link.txt'));
});

describe('app:// URLs', () => {
  it('name files inside the renderer folder', () => {
    expect(APP_INDEX_URL).toBe('app://peaklabel/index.html');
    expect(appUrlToPath(APP_INDEX_URL, root)).toBe(join(root, 'index.html'));
    expect(appUrlToPath('app://peaklabel/', root)).toBe(join(root, 'index.html'));
    expect(appUrlToPath('app://peaklabel/assets/index-1.js?v=1#x', root)).toBe(join(root, 'assets', 'index-1.js'));
    expect(appUrlToPath('app://peaklabel/assets/a%20b.css', root)).toBe(join(root, 'assets', 'a b.css'));
    // The URL parser already folds plain dot segments at the root: they stay inside.
    expect(appUrlToPath('app://peaklabel/../../secret.txt', root)).toBe(join(root, 'secret.txt'));
  });

  it('refuse other schemes and hosts, encoded traversal, NUL, backslashes and bad escapes', () => {
    for (const url of [
      'file:///etc/passwd',
      'https://peaklabel/index.html',
      'app://other/index.html',
      'app://peaklabel/..%2Fsecret.txt',
      'app://peaklabel/assets/..%2F..%2Fsecret.txt',
      'app://peaklabel/%2e%2e%2f%2e%2e%2fsecret.txt',
      'app://peaklabel/..%2Frenderer-evil/x.js',
      'app://peaklabel/..%5Csecret.txt',
      'app://peaklabel/index.html%00.js',
      'app://peaklabel/%E0%A4%A',
      'not a url',
    ]) {
      expect(appUrlToPath(url, root), url).toBeNull();
    }
  });

  it('serve only regular files whose real path is inside the folder', async () => {
    expect(await appFile(APP_INDEX_URL, root)).toMatch(/index\.html$/);
    expect(await appFile('app://peaklabel/assets/index-1.js', root)).toMatch(/index-1\.js$/);
    expect(await appFile('app://peaklabel/assets/link.txt', root)).toBeNull(); // a link out of the folder
    expect(await appFile('app://peaklabel/assets/', root)).toBeNull(); // no index there
    expect(await appFile('app://peaklabel/assets', root)).toBeNull(); // a folder
    expect(await appFile('app://peaklabel/missing.js', root)).toBeNull();
    expect(await appFile('app://peaklabel/..%2Fsecret.txt', root)).toBeNull();
  });

  it('carry the content type the page needs', () => {
    expect(contentTypeOf('x/index.html')).toMatch(/^text\/html/);
    expect(contentTypeOf('x/a.JS')).toMatch(/^text\/javascript/);
    expect(contentTypeOf('x/a.bin')).toBe('application/octet-stream');
  });
});

describe('the window\'s URL rules', () => {
  const dev = 'http://localhost:5173/';

  it('load the dev server only in an unpackaged app', () => {
    expect(devServerUrl(false, { ELECTRON_RENDERER_URL: dev })).toBe(dev);
    expect(devServerUrl(true, { ELECTRON_RENDERER_URL: 'https://evil.example/' })).toBeUndefined();
    expect(devServerUrl(false, {})).toBeUndefined();
  });

  it('let the page load its own scheme, never file: or the web', () => {
    expect(requestAllowed('app://peaklabel/assets/index-1.js', undefined)).toBe(true);
    expect(requestAllowed('blob:app://peaklabel/1234', undefined)).toBe(true);
    expect(requestAllowed('file:///etc/passwd', undefined)).toBe(false);
    expect(requestAllowed('file:///home/me/out/renderer/index.html', undefined)).toBe(false);
    expect(requestAllowed('app://other/x', undefined)).toBe(false);
    expect(requestAllowed('https://example.com/x.js', undefined)).toBe(false);
    expect(requestAllowed(dev + 'src/main.ts', undefined)).toBe(false);
    expect(requestAllowed(dev + 'src/main.ts', dev)).toBe(true);
    expect(requestAllowed('ws://localhost:5173/', dev)).toBe(true);
  });

  it('accept API calls only from the app page', () => {
    expect(trustedSender(APP_INDEX_URL, undefined)).toBe(true);
    expect(trustedSender(APP_INDEX_URL + '#editor', undefined)).toBe(true);
    expect(trustedSender('file:///home/me/out/renderer/index.html', undefined)).toBe(false);
    expect(trustedSender('app://peaklabel/assets/evil.html', undefined)).toBe(false);
    expect(trustedSender(undefined, undefined)).toBe(false);
    expect(trustedSender(dev, dev)).toBe(true);
    expect(trustedSender(APP_INDEX_URL, dev)).toBe(false);
  });
});
