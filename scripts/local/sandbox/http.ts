/** Small HTTP helpers shared by the WeChat API router and the control API. */
import type http from 'node:http';

/** The request body was larger than the endpoint accepts. */
export class BodyTooLargeError extends Error {
  constructor(limitBytes: number) {
    super(`request body larger than ${limitBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Reads the whole body, refusing more than `limitBytes` so a runaway client cannot exhaust memory. */
export async function readBody(req: http.IncomingMessage, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    sizeBytes += buffer.length;
    if (sizeBytes > limitBytes) throw new BodyTooLargeError(limitBytes);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON body; `undefined` when it is not JSON at all. */
export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Sends a JSON reply unless the connection is already gone (a dropped or timed-out client). */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

/**
 * Node reports IPv4 peers of a dual-stack socket as IPv4-mapped IPv6 (`::ffff:1.2.3.4`);
 * WeChat's whitelist holds plain IPv4, so both forms must compare equal.
 */
export function normalizeRemoteAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}
