/**
 * Reading request bodies for the host's HTTP entries without letting one request hurt the
 * stack: a body over the limit is drained (read and dropped) before the 413 goes out, so the
 * client's keep-alive connection stays usable — breaking out of the stream instead destroys
 * the socket under the answer. A body far beyond the limit is not drained forever: past
 * `maxDrainBytes` the connection is closed.
 */
import type http from 'node:http';

export type BodyRead = { ok: true; bytes: Buffer } | { ok: false; status: 413; sizeBytes: number; drained: boolean };

/** How much of an oversized body is read and dropped to keep the connection; beyond it, the connection is closed. */
const defaultMaxDrainBytes = 64 * 1024 * 1024;

export async function readBody(req: http.IncomingMessage, limitBytes: number, maxDrainBytes = defaultMaxDrainBytes): Promise<BodyRead> {
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      sizeBytes += chunk.length;
      if (sizeBytes <= limitBytes) chunks.push(chunk);
      else chunks.length = 0;
      if (sizeBytes > maxDrainBytes) {
        req.off('data', onData);
        req.pause();
        resolve({ ok: false, status: 413, sizeBytes, drained: false });
      }
    };
    req.on('data', onData);
    req.once('end', () => {
      if (sizeBytes > maxDrainBytes) return;
      resolve(sizeBytes <= limitBytes ? { ok: true, bytes: Buffer.concat(chunks) } : { ok: false, status: 413, sizeBytes, drained: true });
    });
    req.once('error', reject);
  });
}

/**
 * How deeply `value` nests objects and arrays, counted without recursion (a recursive walk, like
 * JSON.stringify or structured cloning, is exactly what overflows the stack on 10,000 levels);
 * stops counting past `limit`.
 */
export function nestingDepthExceeds(value: unknown, limit: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop() as { value: unknown; depth: number };
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > limit) return true;
    for (const item of Object.values(current as Record<string, unknown>)) {
      if (item !== null && typeof item === 'object') stack.push({ value: item, depth: depth + 1 });
    }
  }
  return false;
}
