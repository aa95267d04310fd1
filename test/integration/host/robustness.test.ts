/**
 * One request cannot take the host down: raw HTTP on one kept-alive connection, against the
 * host serving a real bundle.
 */
import { createFunctionHost, type FunctionHost, type InvocationResult } from '../../../scripts/local/host';
import { buildDist, hosted, rawConnection, serve } from './fixtures/support';

let dist: Awaited<ReturnType<typeof buildDist>>;
let host: FunctionHost;
let server: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  dist = await buildDist(['probe']);
  host = createFunctionHost({
    distDir: dist.distDir,
    functions: [hosted('probe')],
    instancesPerFunction: 1,
    envId: 'env-1',
    cloudbaseUrl: 'http://127.0.0.1:9/admin',
    fixedEgressAddress: '127.0.0.2',
    timers: false,
    onLog: () => undefined,
  });
  server = await serve((req, res) => void host.handle(req, res));
});
afterAll(async () => {
  await server.close();
  await host.close();
  await dist.remove();
});

const nested = (levels: number): string => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const call = (data: string): string => `{"data":${data},"caller":{"type":"admin"}}`;
const POST_PROBE = 'POST /functions/probe HTTP/1.1\r\nContent-Type: application/json';

function pidOf(result: InvocationResult): number {
  if (!result.ok) throw new Error(`${result.errorType}: ${result.message}`);
  return (result.result as { pid: number }).pid;
}

describe('the function host under hostile requests', () => {
  it('refuses 10,000 levels of nested data with 400, and the same connection and instance serve the next call', async () => {
    const pid = pidOf(await host.invoke('probe', {}, { type: 'admin' }));
    const connection = await rawConnection(server.url);

    const refused = await connection.send(POST_PROBE, call(nested(10_000)));
    const next = await connection.send(POST_PROBE, call('{"step":2}'));

    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body.toString())).toEqual({ error: { type: 'bad_request', message: 'data is nested deeper than 64 levels' } });
    expect(next.status).toBe(200);
    expect(JSON.parse(next.body.toString())).toMatchObject({ event: { step: 2 }, pid });
    expect(connection.closed).toBe(false);
    connection.close();
  });

  it('accepts data nested as deep as the limit', async () => {
    const connection = await rawConnection(server.url);
    const answer = await connection.send(POST_PROBE, call(nested(63)));
    expect(answer.status).toBe(200);
    connection.close();
  });

  it('drains an oversized body before answering 413, so the kept-alive connection carries the next request', async () => {
    const connection = await rawConnection(server.url);

    const tooLarge = await connection.send(POST_PROBE, Buffer.alloc(7 * 1024 * 1024, 0x20));
    const next = await connection.send(POST_PROBE, call('{"step":3}'));

    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body.toString())).toEqual({ error: { type: 'payload_too_large', message: 'request body exceeds 6291456 bytes' } });
    expect(tooLarge.headers.connection).not.toBe('close');
    expect(next.status).toBe(200);
    expect(connection.closed).toBe(false);
    connection.close();
  });

  it('settles an event the worker channel cannot carry as a failed invocation, and keeps the instance', async () => {
    const pid = pidOf(await host.invoke('probe', {}, { type: 'admin' }));
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 20_000; i += 1) deep = { a: deep };

    const result = await host.invoke('probe', deep, { type: 'admin' });

    expect(result).toMatchObject({ ok: false, errorType: 'threw', message: expect.stringMatching(/could not be passed to the function/) });
    expect(pidOf(await host.invoke('probe', {}, { type: 'admin' }))).toBe(pid);
  });
});
