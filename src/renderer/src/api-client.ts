// The renderer's one way to reach main: window.peaklabel under Electron (preload), otherwise the
// WebSocket bridge at ws://<same host>/api speaking the same PeakLabelApi (tests and `peaklabel serve`).
// The bridge admits only holders of its launch token, which the page got in its own URL (?token=).
import { API_METHODS, type ApiMethod, type PeakLabelApi, type WireEvent, type WireRequest, type WireResponse } from '../../common/api';
import type { ProgressEvent } from '../../common/progress';
import { decodeWire, encodeWire } from '../../common/wire';

declare global {
  interface Window {
    peaklabel?: PeakLabelApi;
  }
}

export function connectApi(): PeakLabelApi {
  if (window.peaklabel) return window.peaklabel;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = new URLSearchParams(location.search).get('token') ?? '';
  return createBridgeClient(`${proto}//${location.host}/api?token=${encodeURIComponent(token)}`);
}

/** A PeakLabelApi over the bridge; requests made before the socket opens wait for it. */
export function createBridgeClient(url: string): PeakLabelApi {
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void; method: ApiMethod }>();
  const listeners = new Set<(e: ProgressEvent) => void>();
  let socket: Promise<WebSocket> | null = null;

  const open = (): Promise<WebSocket> => {
    if (socket) return socket;
    socket = new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => resolve(ws);
      // The token stays out of the sentence; a refused socket (no or wrong token) lands here too.
      ws.onerror = () => reject({ code: 'INTERNAL', message: `Cannot reach the PeakLabel service at ${url.split('?')[0]} (open the exact URL that \`peaklabel serve\` printed).` });
      ws.onclose = () => {
        socket = null;
        for (const [id, p] of pending) {
          p.reject({ code: 'INTERNAL', message: `The connection to the PeakLabel service closed during ${p.method}.` });
          pending.delete(id);
        }
      };
      ws.onmessage = (m) => {
        const msg = decodeWire(JSON.parse(String(m.data))) as WireResponse | WireEvent;
        if ('event' in msg) {
          if (msg.event === 'progress') for (const l of listeners) l(msg.data);
          return;
        }
        const p = pending.get(msg.id);
        if (!p) return;
        pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(msg.error);
      };
    });
    return socket;
  };

  const call = async (method: ApiMethod, args: unknown[]): Promise<unknown> => {
    const ws = await open();
    const id = nextId++;
    const req: WireRequest = { id, method, args: encodeWire(args) as unknown[] };
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject, method });
      ws.send(JSON.stringify(req));
    });
  };

  const api = {} as Record<string, unknown>;
  for (const method of API_METHODS) api[method] = (...args: unknown[]) => call(method, args);
  api.onProgress = (listener: (e: ProgressEvent) => void) => {
    listeners.add(listener);
    void open().catch(() => undefined);
    return () => listeners.delete(listener);
  };
  return api as unknown as PeakLabelApi;
}
