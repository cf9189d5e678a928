// The test/dev bridge over a real WebSocket: static files, API calls, binary results, progress events,
// argument validation and error values; and who is let in (the launch token and a loopback Host).
import { request } from 'node:http';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { WireEvent, WireResponse } from '../../src/common/api';
import { decodeWire, encodeWire } from '../../src/common/wire';
import { startBridge, type Bridge } from '../../src/main/bridge/server';
import { testOutput } from '../helpers/shared';

process.env.PEAKLABEL_CONFIG_DIR ??= testOutput('config');
const root = testOutput('main', 'bridge');
let bridge: Bridge;
let ws: WebSocket;
const events: WireEvent[] = [];
const pending = new Map<number, (r: WireResponse) => void>();
let nextId = 1;

function call(method: string, ...args: unknown[]): Promise<WireResponse> {
  const id = nextId++;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, method, args: encodeWire(args) }));
  });
}

async function ok(method: string, ...args: unknown[]): Promise<unknown> {
  const r = await call(method, ...args);
  if (!r.ok) throw new Error(`${method}: ${r.error.message}`);
  return decodeWire(r.result);
}

beforeAll(async () => {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, 'static', 'assets'), { recursive: true });
  mkdirSync(join(root, 'images'), { recursive: true });
  writeFileSync(join(root, 'static', 'index.html'), '<!doctype html><title>PeakLabel</title>');
  writeFileSync(join(root, 'static', 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(root, 'secret.txt'), 'outside');
  for (let i = 0; i < 3; i++) await sharp({ create: { width: 50, height: 40, channels: 3, background: { r: 60 * i, g: 30, b: 90 } } }).jpeg().toFile(join(root, 'images', `i${i}.jpg`));
  bridge = await startBridge({ port: 0, staticDir: join(root, 'static') });
  ws = new WebSocket(bridge.apiUrl);
  ws.on('message', (raw) => {
    const msg = JSON.parse(raw.toString());
    if ('event' in msg) events.push(msg);
    else pending.get(msg.id)?.(msg);
  });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
});

afterAll(async () => {
  ws?.close();
  await bridge?.close();
});

/** http://127.0.0.1:PORT, without the token. */
const origin = () => new URL(bridge.url).origin;
const port = () => Number(new URL(bridge.url).port);

/** A raw GET with the headers a browser or a tool would send (fetch cannot set Host). */
function get(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port: port(), path, headers, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('error', reject);
    r.end();
  });
}

/** Tries a WebSocket and one API call: 'answered' only when the call got a reply. */
function tryApi(url: string, headers: Record<string, string> = {}): Promise<'answered' | 'refused'> {
  return new Promise((resolve) => {
    const c = new WebSocket(url, { headers });
    c.once('open', () => c.send(JSON.stringify({ id: 1, method: 'recentProjects', args: [] })));
    c.once('message', () => { c.close(); resolve('answered'); });
    c.once('unexpected-response', (_req, res) => { expect(res.statusCode).toBe(403); resolve('refused'); });
    c.once('error', () => resolve('refused'));
    c.once('close', () => resolve('refused'));
  });
}

describe('bridge access', () => {
  it('the printed URL carries the token; the page without it or with a wrong one is refused', async () => {
    const page = await fetch(bridge.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect((await fetch(`${origin()}/`)).status).toBe(403);
    expect((await fetch(`${origin()}/index.html`)).status).toBe(403);
    expect((await fetch(`${origin()}/?token=wrong`)).status).toBe(403);
    expect((await fetch(`${origin()}/?token=${bridge.token}x`)).status).toBe(403);
  });

  it('refuses a Host that is not this loopback address and port, even with the token (DNS rebinding)', async () => {
    const page = `/?token=${bridge.token}`;
    expect(await get(page, { host: `127.0.0.1:${port()}` })).toBe(200);
    expect(await get(page, { host: `localhost:${port()}` })).toBe(200);
    expect(await get(page, { host: `evil.example:${port()}` })).toBe(403);
    expect(await get(page, { host: `127.0.0.1.nip.io:${port()}` })).toBe(403);
    expect(await get(page, { host: `127.0.0.1:${port() + 1}` })).toBe(403);
    expect(await get('/assets/app.js', { host: `evil.example:${port()}` })).toBe(403);
  });

  it('lets only token holders with a loopback Host and Origin open the API socket', async () => {
    const api = `ws://127.0.0.1:${port()}/api`;
    expect(await tryApi(bridge.apiUrl)).toBe('answered'); // a tool: no Origin, right token
    expect(await tryApi(bridge.apiUrl, { origin: origin() })).toBe('answered'); // the served page
    expect(await tryApi(api)).toBe('refused'); // a local process without the token
    expect(await tryApi(`${api}?token=wrong`)).toBe('refused');
    expect(await tryApi(`${api}?token=`)).toBe('refused');
    // The old rule (Origin = http:// + Host) let a rebinding page in: both headers agree but name its domain.
    const evil = `evil.example:${port()}`;
    expect(await tryApi(api, { host: evil, origin: `http://${evil}` })).toBe('refused');
    expect(await tryApi(bridge.apiUrl, { host: evil, origin: `http://${evil}` })).toBe('refused');
    expect(await tryApi(bridge.apiUrl, { origin: 'http://evil.example' })).toBe('refused');
    expect(await tryApi(`ws://127.0.0.1:${port()}/elsewhere?token=${bridge.token}`)).toBe('refused');
  });

  it('uses a new token on every launch', async () => {
    const other = await startBridge({ port: 0, staticDir: join(root, 'static') });
    try {
      expect(other.token).not.toBe(bridge.token);
      expect(await tryApi(other.apiUrl.replace(other.token, bridge.token))).toBe('refused');
      expect(await tryApi(other.apiUrl)).toBe('answered');
    } finally {
      await other.close();
    }
  });
});

describe('bridge', () => {
  it('binds 127.0.0.1 and serves the renderer, nothing outside it', async () => {
    expect(bridge.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
    const index = await fetch(bridge.url);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(await index.text()).toContain('PeakLabel');
    expect((await fetch(`${origin()}/assets/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${origin()}/..%2Fsecret.txt`)).status).toBeGreaterThanOrEqual(400);
    expect((await fetch(`${origin()}/nope.js`)).status).toBe(404);
  });

  it('answers API calls over the WebSocket, with progress events and binary data', async () => {
    const r = await call('listImages', { offset: 0, limit: 10 });
    expect(r).toMatchObject({ ok: false, error: { code: 'NO_PROJECT' } });
    const info = (await ok('createProject', join(root, 'p.peaklabel'))) as { name: string };
    expect(info.name).toBe('p');
    const imported = (await ok('addImageFolder', join(root, 'images'))) as { added: number };
    expect(imported.added).toBe(3);
    expect(events.some((e) => e.event === 'progress' && e.data.kind === 'import' && e.data.state === 'done')).toBe(true);
    const page = (await ok('listImages', { offset: 0, limit: 10 })) as { total: number; items: { id: number }[] };
    expect(page.total).toBe(3);
    const thumb = (await ok('thumbnail', page.items[0].id)) as { data: Uint8Array; mime: string };
    expect(thumb.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(thumb.data.subarray(0, 2))).toEqual([0xff, 0xd8]);
    expect((await ok('currentProject')) as { imageCount: number }).toMatchObject({ imageCount: 3 });
  });

  it('validates arguments and reports errors as values', async () => {
    expect(await call('getImage', 'x')).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
    expect(await call('getImage', 99999)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await call('dropAllTables')).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
    expect(await call('listImages', { offset: 0, limit: 10, evil: true })).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
    expect(await call('findPeaks', 1)).toMatchObject({ ok: false, error: { code: 'MODEL_UNAVAILABLE' } });
  });
});
