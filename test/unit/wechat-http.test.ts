import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, WechatApiError } from '../../shared/errors';
import { createWechatHttp, UpstreamTransportError } from '../../shared/wechat/http';

describe('createWechatHttp', () => {
  let server: http.Server;
  let baseUrl: string;
  const received: Array<{ method: string; url: string; body: string }> = [];
  let reply: (res: http.ServerResponse) => void = (res) => res.end('{}');

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        received.push({ method: req.method ?? '', url: req.url ?? '', body });
        reply(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => {
    received.length = 0;
  });

  it('sends the query and JSON body and returns the parsed answer', async () => {
    reply = (res) => res.end('{"access_token":"T","expires_in":7200}');
    const client = createWechatHttp({ baseUrl });
    await expect(client.postJson('/cgi-bin/stable_token', { a: 1, skip: undefined }, { x: true })).resolves.toEqual({ access_token: 'T', expires_in: 7200 });
    expect(received).toEqual([{ method: 'POST', url: '/cgi-bin/stable_token?a=1', body: '{"x":true}' }]);
  });

  it('turns a non-zero errcode into a WechatApiError with the errcode verbatim', async () => {
    reply = (res) => res.end('{"errcode":45009,"errmsg":"reach max api daily quota limit"}');
    const promise = createWechatHttp({ baseUrl }).getJson('/cgi-bin/token', {});
    await expect(promise).rejects.toThrow(WechatApiError);
    await expect(promise).rejects.toMatchObject({ errcode: 45009, code: ErrorCode.QUOTA_EXCEEDED, endpoint: '/cgi-bin/token' });
  });

  it.each([
    { case: 'not JSON', send: (res: http.ServerResponse) => res.end('<html>'), reason: 'answer is not JSON' },
    { case: 'HTTP 502', send: (res: http.ServerResponse) => { res.statusCode = 502; res.end('{}'); }, reason: 'HTTP 502' },
    { case: 'dropped connection', send: (res: http.ServerResponse) => res.socket?.destroy(), reason: 'ECONNRESET' },
  ])('reports a $case as an UpstreamTransportError without retrying', async ({ send, reason }) => {
    reply = send;
    const promise = createWechatHttp({ baseUrl }).getJson('/cgi-bin/ticket/getticket', { access_token: 'SECRET-TOKEN-VALUE' });
    await expect(promise).rejects.toThrow(UpstreamTransportError);
    await expect(promise).rejects.toMatchObject({ reason });
    await expect(promise.catch((error: Error) => `${error.message} ${String((error.cause as Error)?.message)}`)).resolves.not.toContain('SECRET-TOKEN-VALUE');
    expect(received).toHaveLength(1);
  });

  it('times out a hanging server', async () => {
    reply = () => undefined;
    await expect(createWechatHttp({ baseUrl, timeoutMs: 200 }).getJson('/cgi-bin/token', {})).rejects.toMatchObject({ reason: 'ETIMEDOUT' });
  });
});
