// The test/dev bridge: serves the built renderer and the real API over a local WebSocket, so the
// renderer runs in a plain browser (playwright's Chromium, `peaklabel serve`) against the real main
// process. Binds 127.0.0.1 only; the desktop app uses Electron IPC instead.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WireEvent, WireResponse } from '../../common/api';
import { decodeWire, encodeWire } from '../../common/wire';
import { ServiceContext, type EngineFactory } from '../api/context';
import type { PathChooser } from '../api/dialogs';
import { createService, invokeApi } from '../api/service';

export interface BridgeOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** A project to open at start. */
  projectPath?: string;
  /** Built renderer folder (default out/renderer). */
  staticDir?: string;
  /** Engine methods; without them the engine calls answer MODEL_UNAVAILABLE. */
  engine?: EngineFactory;
  /** Answers choosePath (tests stand in for the desktop app's dialogs); without it choosePath is UNSUPPORTED. */
  pathChooser?: PathChooser;
}

export interface Bridge {
  url: string;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.woff2': 'font/woff2', '.wasm': 'application/wasm', '.ico': 'image/x-icon', '.map': 'application/json',
};

export async function startBridge(opts: BridgeOptions = {}): Promise<Bridge> {
  const ctx = new ServiceContext();
  const api = createService(ctx, opts.engine?.(ctx), opts.pathChooser);
  if (opts.projectPath) await api.openProject(opts.projectPath);
  const staticDir = resolve(opts.staticDir ?? 'out/renderer');

  const server = createServer((req, res) => {
    serveStatic(staticDir, req, res).catch(() => {
      res.writeHead(500).end();
    });
  });
  const wss = new WebSocketServer({ server, path: '/api', maxPayload: 256 * 1024 * 1024 });
  const clients = new Set<WebSocket>();
  const unsubscribe = api.onProgress((e) => {
    const msg = JSON.stringify({ event: 'progress', data: e } satisfies WireEvent);
    for (const c of clients) if (c.readyState === c.OPEN) c.send(msg);
  });

  wss.on('connection', (ws, req) => {
    // Only pages served by this bridge (or tools without an Origin) may talk to it.
    const origin = req.headers.origin;
    const host = req.headers.host;
    if (origin && host && origin !== `http://${host}`) {
      ws.close(1008, 'origin not allowed');
      return;
    }
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    ws.on('message', async (raw) => {
      let id = -1;
      let reply: WireResponse;
      try {
        const req = JSON.parse(raw.toString()) as { id?: unknown; method?: unknown; args?: unknown };
        id = typeof req.id === 'number' ? req.id : -1;
        const r = await invokeApi(api, req.method, decodeWire(req.args ?? []));
        reply = r.ok ? { id, ok: true, result: encodeWire(r.result) } : { id, ok: false, error: r.error };
      } catch (err) {
        reply = { id, ok: false, error: { code: 'BAD_ARGUMENT', message: `Malformed request: ${(err as Error).message}` } };
      }
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(reply));
    });
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, '127.0.0.1', () => ok());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      unsubscribe();
      for (const c of clients) c.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
      await new Promise<void>((ok) => server.close(() => ok()));
      ctx.close();
    },
  };
}

async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405).end();
    return;
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  let rel = decodeURIComponent(url.pathname);
  if (rel.endsWith('/')) rel += 'index.html';
  const file = normalize(join(root, rel));
  if (file !== root && !file.startsWith(root + sep)) {
    res.writeHead(403).end();
    return;
  }
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a file');
    const body = await readFile(file);
    res.writeHead(200, {
      'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`Not found: ${rel}`);
  }
}
