// Who may use the bridge. The Host and Origin headers come from the caller, so on their own they prove
// nothing: a web page reached through DNS rebinding (evil.example resolving to 127.0.0.1) sends a Host
// and Origin of its own that agree, and a local process sends whatever it likes. So every page load and
// every WebSocket needs the per-launch secret token from the URL `serve` prints, and the Host must name
// this loopback address and port (a rebinding page's Host names its own domain).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A fresh secret for one launch (192 bits, URL-safe). */
export function newBridgeToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The Host values a browser sends for this server: the loopback names with this port. */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

export function hostAllowed(req: IncomingMessage, port: number): boolean {
  const host = req.headers.host?.toLowerCase();
  return host !== undefined && allowedHosts(port).has(host);
}

/** No Origin (a non-browser client that still needs the token) or this server's own page. */
export function originAllowed(req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return [...allowedHosts(port)].some((h) => origin.toLowerCase() === `http://${h}`);
}

/** The token of a request URL (`?token=`), compared in constant time. */
export function tokenMatches(req: IncomingMessage, token: string): boolean {
  const given = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
  if (given === null) return false;
  const a = Buffer.from(given), b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
