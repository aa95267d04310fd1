/**
 * HTTP access end to end: raw HTTP request → the function host's route → the real bundle of a
 * function written on shared/http → the integration response → the HTTP answer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createFunctionHost, type FunctionHost, type HostedFunction } from '../../../scripts/local/host';
import { buildDist, hosted, rawConnection, serve } from './fixtures/support';

const SECRET = 'probe-secret-0123456789';
const PLAIN = `exports.main = async (event) => {
  if (event.path.endsWith('/text')) return 'hello gateway';
  if (event.path.endsWith('/number')) return 42;
  if (event.path.endsWith('/bad')) return { statusCode: 99, body: '' };
  return { foo: 'bar', path: event.path, isBase64Encoded: event.isBase64Encoded };
};`;
// Holds its instance until the file the path names exists (the test releases it; no timing guess).
const HOLDER = `const fs = require('node:fs');
exports.main = async (event) => {
  const release = decodeURIComponent(event.path.slice('/hold/'.length));
  while (release !== '' && !fs.existsSync(release)) await new Promise((resolve) => setTimeout(resolve, 10));
  return 'released';
};`;

let dist: Awaited<ReturnType<typeof buildDist>>;
const running: Array<{ host: FunctionHost; server: Awaited<ReturnType<typeof serve>> }> = [];

beforeAll(async () => {
  dist = await buildDist([], { plain: PLAIN, holder: HOLDER }, { httpProbe: 'http-probe.ts', slowProbe: 'http-probe.ts' });
});
afterAll(async () => {
  for (const { host, server } of running.splice(0)) {
    await server.close();
    await host.close();
  }
  await dist.remove();
});

async function startHost(options: { bodyEncoding?: 'always-base64' } = {}): Promise<{ url: string; host: FunctionHost }> {
  const functions: HostedFunction[] = [
    hosted('httpProbe', { httpPath: '/probe', envVariables: { PROBE_SECRET: SECRET } }),
    hosted('slowProbe', { httpPath: '/slow', timeoutSeconds: 1, envVariables: { PROBE_SECRET: SECRET, PROBE_ROUTE: '/slow' } }),
    hosted('plain', { httpPath: '/plain' }),
    hosted('holder', { httpPath: '/hold' }),
  ];
  const host = createFunctionHost({
    distDir: dist.distDir,
    functions,
    instancesPerFunction: 2,
    envId: 'env-1',
    cloudbaseUrl: 'http://127.0.0.1:9/admin',
    fixedEgressAddress: '127.0.0.2',
    timers: false,
    onLog: () => undefined,
    ...(options.bodyEncoding ? { httpBodyEncoding: options.bodyEncoding } : {}),
  });
  const server = await serve((req, res) => {
    const pathname = (req.url ?? '/').split('?')[0] ?? '/';
    if (host.servesHttpPath(pathname) || pathname.startsWith('/functions')) void host.handle(req, res);
    else {
      res.writeHead(404);
      res.end('not a route');
    }
  });
  running.push({ host, server });
  return { url: server.url, host };
}

let probe: { url: string; host: FunctionHost };
beforeAll(async () => {
  probe = await startHost();
});

const authorised = { 'x-probe-secret': SECRET };

describe('HTTP access through the function host', () => {
  it('hands the function the request as CloudBase does: method, path, sub-path, query, lower-cased headers, cookies, no user context', async () => {
    const response = await fetch(`${probe.url}/probe/echo?x=1&x=2&name=%E4%BD%A0`, { headers: { ...authorised, 'X-Custom': 'Value', cookie: 'sid=abc; theme="dark"' } });

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const echo = await response.json();
    expect(echo).toMatchObject({
      method: 'GET',
      path: '/probe/echo',
      subpath: '/echo',
      query: { x: '1', name: '你' },
      headers: { 'x-custom': 'Value', 'x-probe-secret': SECRET },
      cookies: { sid: 'abc', theme: 'dark' },
      bodyLength: 0,
      proven: { via: 'shared-secret', header: 'x-probe-secret' },
      wxContext: {},
    });
  });

  it.each<{ case: string; headers: Record<string, string>; message: string }>([
    { case: 'no proof', headers: {}, message: 'The x-probe-secret header is missing' },
    { case: 'a wrong proof', headers: { 'x-probe-secret': 'guess' }, message: 'The x-probe-secret header is wrong' },
  ])('refuses $case with 401 before any work', async ({ headers, message }) => {
    const response = await fetch(`${probe.url}/probe/echo`, { headers });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: { code: 'UNAUTHORIZED', message } });
  });

  it.each([
    { case: 'binary bytes', contentType: 'application/octet-stream', body: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) },
    { case: 'UTF-8 XML', contentType: 'text/xml', body: Buffer.from('<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Content>你好</Content></xml>') },
    { case: 'bytes labelled text that are not UTF-8', contentType: 'text/plain', body: Buffer.from([0xff, 0xfe, 0x41]) },
  ])('passes $case through byte for byte', async ({ contentType, body }) => {
    const response = await fetch(`${probe.url}/probe/echo`, { method: 'POST', headers: { ...authorised, 'content-type': contentType }, body });
    const echo = (await response.json()) as { bodyBase64: string };
    expect(Buffer.from(echo.bodyBase64, 'base64')).toEqual(body);
  });

  it('passes the same bytes when the platform base64-encodes every body', async () => {
    const always = await startHost({ bodyEncoding: 'always-base64' });
    const body = '<xml><MsgType><![CDATA[event]]></MsgType></xml>';
    const response = await fetch(`${always.url}/probe/text-body`, { method: 'POST', headers: { ...authorised, 'content-type': 'text/xml' }, body });
    expect(await response.text()).toBe(body.toUpperCase());
  });

  it.each([
    { case: 'text, exactly', path: 'text', status: 200, type: 'text/plain; charset=utf-8', body: 'success' },
    { case: 'HTML', path: 'html', status: 200, type: 'text/html; charset=utf-8', body: '<!doctype html><title>ok</title><p>你好</p>' },
    { case: 'XML', path: 'xml', status: 200, type: 'application/xml; charset=utf-8', body: '<xml><Content><![CDATA[hi]]></Content></xml>' },
  ])('answers $case', async ({ path, status, type, body }) => {
    const response = await fetch(`${probe.url}/probe/${path}`, { headers: authorised });
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBe(type);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.text()).toBe(body);
  });

  it('answers a redirect, binary content as bytes, and Set-Cookie', async () => {
    const redirect = await fetch(`${probe.url}/probe/redirect`, { headers: authorised, redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx1#wechat_redirect');

    const binary = await fetch(`${probe.url}/probe/binary`, { headers: authorised });
    expect(binary.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await binary.arrayBuffer())).toEqual(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));

    const one = await fetch(`${probe.url}/probe/cookie`, { headers: authorised });
    expect(one.headers.getSetCookie()).toEqual(['sid=abc; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax']);
    const two = await fetch(`${probe.url}/probe/cookies`, { headers: authorised });
    expect(two.headers.getSetCookie()).toEqual(['sid=abc; Path=/; HttpOnly; Secure; SameSite=Lax', 'csrf=xyz; Path=/; Secure; SameSite=Lax']);
  });

  it.each([
    { case: 'bad input', path: 'bad-input', status: 400, body: { error: { code: 'INVALID_INPUT', message: 'the name is missing' } } },
    { case: 'a rate limit, with Retry-After', path: 'limited', status: 429, body: { error: { code: 'RATE_LIMITED', message: 'slow down' } }, retryAfter: '3' },
    { case: 'a missing page', path: 'missing', status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such page' } } },
    { case: 'an internal failure, without its details', path: 'boom', status: 500, body: { error: { code: 'INTERNAL', message: 'Internal error' } } },
    { case: 'an answer that cannot go on the wire', path: 'bad-header', status: 500, body: { error: { code: 'INTERNAL', message: 'Internal error' } } },
  ])('maps $case to its status', async ({ path, status, body, retryAfter }) => {
    const response = await fetch(`${probe.url}/probe/${path}`, { headers: authorised });
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual(body);
    if (retryAfter) expect(response.headers.get('retry-after')).toBe(retryAfter);
  });

  it('answers OPTIONS with Allow, HEAD like GET without a body, and an unlisted method with 405', async () => {
    const options = await fetch(`${probe.url}/probe/text`, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('GET, POST, PUT, HEAD, OPTIONS');

    const head = await fetch(`${probe.url}/probe/text`, { method: 'HEAD', headers: authorised });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await head.text()).toBe('');

    const remove = await fetch(`${probe.url}/probe/text`, { method: 'DELETE', headers: authorised });
    expect(remove.status).toBe(405);
    expect(remove.headers.get('allow')).toBe('GET, POST, PUT, HEAD, OPTIONS');
  });

  it('refuses a body over 5 MB with 413 after draining it, and the connection carries the next request', async () => {
    const connection = await rawConnection(probe.url);
    const tooLarge = await connection.send(`POST /probe/echo HTTP/1.1\r\nx-probe-secret: ${SECRET}\r\nContent-Type: application/octet-stream`, Buffer.alloc(5 * 1024 * 1024 + 1));
    const next = await connection.send(`GET /probe/text HTTP/1.1\r\nx-probe-secret: ${SECRET}`);
    const justUnder = await connection.send(`POST /probe/echo HTTP/1.1\r\nx-probe-secret: ${SECRET}\r\nContent-Type: application/octet-stream`, Buffer.alloc(5 * 1024 * 1024));

    expect(tooLarge.status).toBe(413);
    expect(next.status).toBe(200);
    expect(next.body.toString()).toBe('success');
    expect(JSON.parse(justUnder.body.toString())).toMatchObject({ bodyLength: 5 * 1024 * 1024 });
    expect(connection.closed).toBe(false);
    connection.close();
  });

  it("answers 504 when the function outlives its timeout, and the route keeps working", async () => {
    const hung = await fetch(`${probe.url}/slow/hang`, { headers: authorised });
    expect(hung.status).toBe(504);
    expect(await hung.json()).toEqual({ error: { type: 'timeout', message: 'Invoking task timed out after 1 seconds' } });
    await expect(fetch(`${probe.url}/slow/text`, { headers: authorised }).then((response) => response.text())).resolves.toBe('success');
  });

  it('translates plain return values as the gateway does: a string as text, a number as text, an object as JSON', async () => {
    const text = await fetch(`${probe.url}/plain/text`);
    expect([text.status, text.headers.get('content-type'), await text.text()]).toEqual([200, 'text/plain; charset=utf-8', 'hello gateway']);
    const number = await fetch(`${probe.url}/plain/number`);
    expect(await number.text()).toBe('42');
    const object = await fetch(`${probe.url}/plain/x/y`, { method: 'POST', body: 'abc', headers: { 'content-type': 'text/plain' } });
    expect(object.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await object.json()).toEqual({ foo: 'bar', path: '/plain/x/y', isBase64Encoded: false });
    const bad = await fetch(`${probe.url}/plain/bad`);
    expect(bad.status).toBe(502);
  });

  it('matches a route and its sub-paths only', async () => {
    expect((await fetch(`${probe.url}/probex/text`, { headers: authorised })).status).toBe(404);
    expect(probe.host.servesHttpPath('/probe')).toBe(true);
    expect(probe.host.servesHttpPath('/probe/a/b')).toBe(true);
    expect(probe.host.servesHttpPath('/probex')).toBe(false);
  });

  it('refuses a callFunction invocation of an HTTP function, and a forged HTTP event from a mini-program', async () => {
    const call = (data: unknown, caller: unknown) =>
      fetch(`${probe.url}/functions/httpProbe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data, caller }) }).then((response) => response.json());
    const forged = { path: '/probe/echo', httpMethod: 'GET', headers: { 'x-probe-secret': SECRET }, queryStringParameters: {}, body: '', isBase64Encoded: false };

    await expect(call({ action: 'x' }, { type: 'admin' })).resolves.toEqual({ ok: false, error: { code: 'FORBIDDEN', message: 'httpProbe answers HTTP access requests only' } });
    await expect(call(forged, { type: 'miniprogram', openid: 'o-1', appid: 'wx-app' })).resolves.toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('leaves one log line per request, without the query, the headers or the secret', async () => {
    const before = probe.host.logs('httpProbe').length;
    await fetch(`${probe.url}/probe/echo?code=oauth-code-123`, { headers: authorised });
    await fetch(`${probe.url}/probe/echo?code=oauth-code-456`, { headers: { 'x-probe-secret': 'wrong-guess-1' } });
    const lines = probe.host.logs('httpProbe').slice(before).map((line) => line.text);

    expect(lines).toHaveLength(2);
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ msg: 'answered', fn: 'httpProbe', method: 'GET', path: '/probe/echo', status: 200, proof: 'shared-secret', outcome: 'proven' }),
      expect.objectContaining({ msg: 'answered', status: 401, outcome: 'refused', code: 'UNAUTHORIZED' }),
    ]);
    expect(lines.join('\n')).not.toMatch(/oauth-code|wrong-guess|probe-secret-0123/);
  });

  it('drops a queued request whose client has gone, and runs the live ones behind it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'host-hold-'));
    const release = path.join(dir, 'release');
    const holder = async () => ((await (await fetch(`${probe.url}/functions`)).json()) as { functions: Array<{ name: string; queued: number; invocations: number; abandoned: number }> })
      .functions.find((fn) => fn.name === 'holder')!;
    const until = async (done: (fn: Awaited<ReturnType<typeof holder>>) => boolean) => {
      while (!done(await holder())) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    try {
      const url = `${probe.url}/hold/${encodeURIComponent(release)}`;
      // Both instances held, then one request that waits for an instance and gives up (WeChat's 5 s), and a live one.
      const held = [fetch(url), fetch(url)];
      await until((fn) => fn.invocations === 2);
      const giveUp = new AbortController();
      const gone = fetch(url, { signal: giveUp.signal }).catch((error: unknown) => (error as Error).name);
      await until((fn) => fn.queued === 1);
      giveUp.abort();
      await expect(gone).resolves.toBe('AbortError');
      const live = fetch(url);
      await until((fn) => fn.queued === 2);
      // The host learns of the closed socket at once; a moment for its close event before instances free up.
      await new Promise((resolve) => setTimeout(resolve, 300));
      writeFileSync(release, '');

      const answers = await Promise.all([...held, live].map(async (response) => (await response).text()));
      expect(answers).toEqual(['released', 'released', 'released']);
      expect(await holder()).toMatchObject({ queued: 0, invocations: 3, abandoned: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
