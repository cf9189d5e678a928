// The test/dev bridge: serves the built renderer and the real API over a local WebSocket, so the
// renderer runs in a plain browser (playwright's Chromium, `peaklabel serve`) against the real main
// process. Binds 127.0.0.1 only; the desktop app uses Electron IPC instead. Every page load and socket
// needs the launch's secret token and a loopback Host (guard.ts says why); the rest is refused.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WireEvent, WireResponse } from '../../common/api';
import { decodeWire, encodeWire } from '../../common/wire';
import { ServiceContext, type EngineFactory } from '../api/context';
import type { PathChooser } from '../api/dialogs';
import { createService, invokeApi } from '../api/service';
import { hostAllowed, newBridgeToken, originAllowed, tokenMatches } from './guard';

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
  /** The page to open: http://127.0.0.1:PORT/?token=… (the token is what lets it in). */
  url: string;
  /** The API socket for non-browser clients: ws://127.0.0.1:PORT/api?token=… */
  apiUrl: string;
  /** This launch's secret. */
  token: string;
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

  const token = newBridgeToken();
  let port = 0; // known once listening, before any request arrives

  const server = createServer((req, res) => {
    if (!hostAllowed(req, port)) {
      refuse(res, 'This server only answers requests for 127.0.0.1 or localhost.');
      return;
    }
    serveStatic(staticDir, token, req, res).catch(() => {
      res.writeHead(500).end();
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 * 1024 });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const allowed = path === '/api' && hostAllowed(req, port) && originAllowed(req, port) && tokenMatches(req, token);
    if (!allowed) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  const clients = new Set<WebSocket>();
  const unsubscribe = api.onProgress((e) => {
    const msg = JSON.stringify({ event: 'progress', data: e } satisfies WireEvent);
    for (const c of clients) if (c.readyState === c.OPEN) c.send(msg);
  });

  wss.on('connection', (ws: WebSocket) => {
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
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      port = (server.address() as AddressInfo).port;
      ok();
    });
  });
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    apiUrl: `ws://127.0.0.1:${port}/api?token=${token}`,
    token,
    async close() {
      unsubscribe();
      for (const c of clients) c.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
      await new Promise<void>((ok) => server.close(() => ok()));
      ctx.close();
    },
  };
}

function refuse(res: ServerResponse, why: string): void {
  res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`Forbidden. ${why}\n`);
}

/**
 * The built renderer. Pages (HTML) need the token; the scripts and styles they load are the public
 * build output and only need the loopback Host (the page's relative URLs do not carry the query).
 */
async function serveStatic(root: string, token: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
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
  if (extname(file).toLowerCase() === '.html' && !tokenMatches(req, token)) {
    refuse(res, 'Open the URL that `peaklabel serve` printed: it carries this launch\'s access token.');
    return;
  }
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a file');
    const body = await readFile(file);
    res.writeHead(200, {
      'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer', // the page URL carries the token
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`Not found: ${rel}`);
  }
}
