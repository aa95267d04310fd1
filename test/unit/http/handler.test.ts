import { ConfigError, ForbiddenError, SignatureError, UnauthorizedError } from '../../../shared/errors';
import {
  bodyForm, bodyJson, defineHttpHandler, respond, setCookie, sharedSecretProof,
  type CallerProof, type HttpHandlerSpec, type HttpRequest,
} from '../../../shared/http';

type Deps = { secret: string };

function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    path: '/hook/a',
    httpMethod: 'POST',
    headers: { 'X-Key': 'k-1', 'Content-Type': 'text/plain' },
    queryStringParameters: { q: '1' },
    requestContext: { requestId: 'req-1', envId: 'env', appId: 1, uin: 1 },
    body: 'hello',
    isBase64Encoded: false,
    ...overrides,
  };
}

function handler(overrides: Partial<HttpHandlerSpec<Deps, unknown>> = {}) {
  const lines: string[] = [];
  const run = jest.fn(async (request: HttpRequest) => respond.json({ subpath: request.subpath, body: request.body.toString() }));
  const spec: HttpHandlerSpec<Deps, unknown> = {
    name: 'hook',
    route: '/hook',
    methods: ['GET', 'POST'],
    wxContext: () => ({}),
    env: {},
    init: () => ({ secret: 'k-1' }),
    proof: sharedSecretProof<Deps>('x-key', (deps) => deps.secret),
    run,
    ...overrides,
  };
  jest.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
  jest.spyOn(console, 'error').mockImplementation((line: string) => void lines.push(line));
  return { main: defineHttpHandler(spec), run, lines };
}

afterEach(() => jest.restoreAllMocks());

describe('defineHttpHandler', () => {
  it('gives run the raw body and the sub-path below its route, after the proof', async () => {
    const { main, run } = handler();
    await expect(main(event())).resolves.toMatchObject({ statusCode: 200, isBase64Encoded: false, body: '{"subpath":"/a","body":"hello"}' });
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('decodes a base64-flagged body to its exact bytes', async () => {
    const bytes = Buffer.from([0, 255, 10, 13, 0x80]);
    const seen: Buffer[] = [];
    const { main } = handler({ run: async (request) => (seen.push(request.body), respond.empty()) });
    await main(event({ body: bytes.toString('base64'), isBase64Encoded: true }));
    expect(seen[0]).toEqual(bytes);
  });

  it('reads the path as given when the platform does not pass the route prefix', async () => {
    const { main } = handler();
    await expect(main(event({ path: '/a' }))).resolves.toMatchObject({ body: '{"subpath":"/a","body":"hello"}' });
  });

  it.each([
    { case: 'no proof at all', headers: {}, message: 'The x-key header is missing' },
    { case: 'a wrong proof', headers: { 'x-key': 'k-2' }, message: 'The x-key header is wrong' },
  ])('refuses $case with 401 and never runs', async ({ headers, message }) => {
    const { main, run } = handler();
    const answer = await main(event({ headers }));
    expect(answer).toMatchObject({ statusCode: 401, body: JSON.stringify({ error: { code: 'UNAUTHORIZED', message } }) });
    expect(run).not.toHaveBeenCalled();
  });

  it('locks the route when the configured secret is empty', async () => {
    const { main } = handler({ init: () => ({ secret: '' }) });
    await expect(main(event({ headers: { 'x-key': '' } }))).resolves.toMatchObject({ statusCode: 401 });
  });

  it.each<{ case: string; proof: CallerProof<Deps, unknown>; status: number; message: string }>([
    { case: 'a signature that does not verify (its details hidden)', proof: { name: 'sig', verify: () => { throw new SignatureError('msg_signature mismatch: expected abc'); } }, status: 401, message: 'Unauthorized' },
    { case: 'a forbidden caller', proof: { name: 'p', verify: () => { throw new ForbiddenError('this account is removed'); } }, status: 403, message: 'this account is removed' },
    { case: 'a proof that breaks', proof: { name: 'p', verify: () => { throw new TypeError('store exploded'); } }, status: 500, message: 'Internal error' },
  ])('answers $case with $status', async ({ proof, status, message }) => {
    const { main, run } = handler({ proof });
    const answer = await main(event());
    expect(answer).toMatchObject({ statusCode: status });
    expect(JSON.parse((answer as { body: string }).body)).toMatchObject({ error: { message } });
    expect(run).not.toHaveBeenCalled();
  });

  it('answers what a proof answers itself, such as a redirect to sign in', async () => {
    const proof: CallerProof<Deps, unknown> = { name: 'session', verify: () => ({ respond: respond.redirect('/console/login') }) };
    const { main, run } = handler({ proof });
    await expect(main(event())).resolves.toMatchObject({ statusCode: 302, headers: { location: '/console/login' } });
    expect(run).not.toHaveBeenCalled();
  });

  it('reads configuration once and answers 500 without its details while it is broken', async () => {
    const init = jest.fn((): Deps => {
      throw new ConfigError(['PROBE_SECRET is missing']);
    });
    const { main } = handler({ init });
    for (let i = 0; i < 2; i += 1) {
      const answer = await main(event());
      expect(answer).toMatchObject({ statusCode: 500 });
      expect(JSON.stringify(answer)).not.toContain('PROBE_SECRET');
    }
    expect(init).toHaveBeenCalledTimes(1);
  });

  it('refuses a body over its limit with 413 before the proof and before decoding it', async () => {
    const verify = jest.fn(() => ({ proven: {} }));
    const { main } = handler({ maxBodyBytes: 4, proof: { name: 'p', verify } });
    await expect(main(event({ body: Buffer.alloc(5).toString('base64'), isBase64Encoded: true }))).resolves.toMatchObject({ statusCode: 413 });
    expect(verify).not.toHaveBeenCalled();
    await expect(main(event({ body: Buffer.alloc(4).toString('base64'), isBase64Encoded: true }))).resolves.toMatchObject({ statusCode: 200 });
  });

  it.each([
    { case: 'a body flagged base64 that is not', patch: { body: 'not base64!', isBase64Encoded: true } },
    { case: 'headers that are not text', patch: { headers: { 'x-key': 7 } } },
    { case: 'a path that is not a path', patch: { path: 'hook' } },
    { case: 'an unknown method', patch: { httpMethod: 'BREW' } },
  ])('refuses $case with 400', async ({ patch }) => {
    const { main } = handler();
    await expect(main(event(patch))).resolves.toMatchObject({ statusCode: 400 });
  });

  it.each([
    { case: 'a callFunction event', input: { action: 'get' } },
    { case: 'a timer event', input: { Type: 'Timer', TriggerName: 'x', Time: '', Message: '' } },
    { case: 'an HTTP event from a mini-program (userInfo injected)', input: { ...event(), userInfo: { openId: 'o' } } },
    { case: 'a non-object', input: 'GET /' },
  ])('refuses $case with the callable FORBIDDEN envelope', async ({ input }) => {
    const { main } = handler();
    await expect(main(input)).resolves.toEqual({ ok: false, error: { code: 'FORBIDDEN', message: 'hook answers HTTP access requests only' } });
  });

  it.each([
    { case: 'an OPENID in the context', wxContext: { OPENID: 'o-1', SOURCE: 'wx_client' }, env: {} },
    { case: 'a client source', wxContext: {}, env: { TCB_SOURCE: 'wx_devtools' } },
  ])('refuses an HTTP-shaped event with $case', async ({ wxContext, env }) => {
    const { main, run } = handler({ wxContext: () => wxContext, env });
    await expect(main(event())).resolves.toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(run).not.toHaveBeenCalled();
  });

  it('renders refusals with errorResponse when given', async () => {
    const { main } = handler({ errorResponse: (failure) => respond.html(`<p>${failure.status}</p>`, failure.status) });
    await expect(main(event({ headers: {} }))).resolves.toMatchObject({ statusCode: 401, body: '<p>401</p>', headers: { 'content-type': 'text/html; charset=utf-8' } });
  });

  it('logs one line per request with no query, header, cookie or body', async () => {
    const { main, lines } = handler();
    await main(event({ headers: { 'x-key': 'k-1', cookie: 'sid=secret-session' }, queryStringParameters: { code: 'oauth-code' }, body: 'body-text' }));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'answered', fn: 'hook', method: 'POST', path: '/hook/a', status: 200, proof: 'shared-secret', outcome: 'proven', requestId: 'req-1' });
    expect(lines[0]).not.toMatch(/k-1|secret-session|oauth-code|body-text/);
  });
});

describe('request body readers', () => {
  const request = (body: string): HttpRequest => ({ method: 'POST', path: '/', subpath: '/', query: {}, headers: {}, cookies: {}, body: Buffer.from(body), requestId: '', sourceIp: null });

  it('refuses deeply nested JSON without parsing it', () => {
    expect(() => bodyJson(request(`${'['.repeat(10_000)}${']'.repeat(10_000)}`))).toThrow('nested deeper than 32 levels');
    expect(bodyJson(request('{"a":["[",{"b":"]]]]"}]}'))).toEqual({ a: ['[', { b: ']]]]' }] });
  });

  it('reads a form, first value of a repeated name', () => {
    expect(bodyForm(request('a=1&b=%E4%BD%A0&a=2'))).toEqual({ a: '1', b: '你' });
  });
});

describe('response helpers', () => {
  it.each([
    { case: 'a protocol-relative URL', location: '//evil.example/x' },
    { case: 'a javascript: URL', location: 'javascript:alert(1)' },
    { case: 'a location with a line break', location: '/a\r\nset-cookie: x=1' },
  ])('refuses to redirect to $case', ({ location }) => {
    expect(() => respond.redirect(location)).toThrow();
  });

  it.each([
    { case: 'a semicolon in the value', name: 'sid', value: 'a;b' },
    { case: 'a space in the name', name: 's id', value: 'a' },
  ])('refuses a cookie with $case', ({ name, value }) => {
    expect(() => setCookie(name, value)).toThrow();
  });

  it('builds a deleting cookie', () => {
    expect(setCookie('sid', '', { maxAgeSeconds: 0, sameSite: 'Strict' })).toBe('sid=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict');
  });
});

describe('UnauthorizedError', () => {
  it('is meant for the caller', () => {
    expect(new UnauthorizedError('x')).toMatchObject({ code: 'UNAUTHORIZED', expose: true });
  });
});
