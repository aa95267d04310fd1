import type { PushSettings } from '../../../shared/accounts/model';
import { UnauthorizedError } from '../../../shared/errors';
import type { HttpRequest } from '../../../shared/http/request';
import { pushSignatureProof, type ProvenPush, type PushProofDeps } from '../../../shared/push/proof';
import { PushXmlError } from '../../../shared/push/xml';
import { createLogger } from '../../../shared/log';

const log = createLogger({ fn: 'test' });

function request(method: 'GET' | 'POST', appid: string, query: Record<string, string>, body = ''): HttpRequest {
  return { method, path: `/wx/push/${appid}`, subpath: `/${appid}`, query, headers: {}, cookies: {}, body: Buffer.from(body), requestId: 'r', sourceIp: null };
}

function deps(settings: Partial<PushSettings> & { appId: string }): PushProofDeps {
  const full: PushSettings = { originalId: null, mode: 'plain', token: 'AAAAA', encodingAESKey: null, previousEncodingAESKey: null, ...settings };
  return { accounts: { pushSettings: async (appId) => (appId === full.appId ? full : null) }, timestampWindowSeconds: 300 };
}

const verify = (req: HttpRequest, d: PushProofDeps, nowSeconds: number) =>
  Promise.resolve(pushSignatureProof.verify(req, { deps: d, log, nowMs: nowSeconds * 1000 })) as Promise<{ proven: ProvenPush }>;

const APPID = 'wx0000000000000001';

describe('pushSignatureProof', () => {
  // MPPUSH (developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html), reference/official-accounts.md §2.9.
  it('accepts the official URL-verification example and echoes echostr', async () => {
    const req = request('GET', APPID, { signature: 'f464b24fc39322e44b38aa78f5edd27bd1441696', timestamp: '1714036504', nonce: '1514711492', echostr: '4375120948345356249' });
    await expect(verify(req, deps({ appId: APPID }), 1714036504)).resolves.toEqual({ proven: { kind: 'url-check', appId: APPID, echostr: '4375120948345356249' } });
  });

  // wechatpy tests/test_utils.py (token "test"): a peer vector of the same rule.
  it('accepts wechatpy\'s signature vector', async () => {
    const req = request('GET', APPID, { signature: 'f21891de399b4e33a1a93c9a7b8a8fffb5a443ff', timestamp: '1410685589', nonce: 'test', echostr: 'e' });
    await expect(verify(req, deps({ appId: APPID, token: 'test' }), 1410685589)).resolves.toMatchObject({ proven: { kind: 'url-check' } });
  });

  it.each([
    { case: 'a wrong signature', query: { signature: 'f464b24fc39322e44b38aa78f5edd27bd1441697', timestamp: '1714036504', nonce: '1514711492', echostr: '1' }, nowSeconds: 1714036504 },
    { case: 'no signature', query: { timestamp: '1714036504', nonce: '1514711492', echostr: '1' }, nowSeconds: 1714036504 },
    { case: 'a timestamp 301 s old', query: { signature: 'f464b24fc39322e44b38aa78f5edd27bd1441696', timestamp: '1714036504', nonce: '1514711492', echostr: '1' }, nowSeconds: 1714036805 },
    { case: 'a timestamp 301 s ahead', query: { signature: 'f464b24fc39322e44b38aa78f5edd27bd1441696', timestamp: '1714036504', nonce: '1514711492', echostr: '1' }, nowSeconds: 1714036203 },
    { case: 'no timestamp', query: { signature: 'x', nonce: '1', echostr: '1' }, nowSeconds: 1714036504 },
  ])('refuses $case (401)', async ({ query, nowSeconds }) => {
    await expect(verify(request('GET', APPID, query as Record<string, string>), deps({ appId: APPID }), nowSeconds)).rejects.toThrow(UnauthorizedError);
  });

  it('accepts a timestamp just inside the window (covering WeChat\'s three retries and clock skew)', async () => {
    const req = request('GET', APPID, { signature: 'f464b24fc39322e44b38aa78f5edd27bd1441696', timestamp: '1714036504', nonce: '1514711492', echostr: '1' });
    await expect(verify(req, deps({ appId: APPID }), 1714036804)).resolves.toMatchObject({ proven: { kind: 'url-check' } });
  });

  it('refuses unknown and removed accounts alike, before reading anything else', async () => {
    await expect(verify(request('GET', 'wx00000000000000ff', {}), deps({ appId: APPID }), 1)).rejects.toThrow('This route does not accept pushes');
  });

  // MPPUSH plain-mode example: token AAAAA, 1714037059, 486452656 → 899cf89e…
  it('accepts the official plain-mode POST signature and parses the body', async () => {
    const body = '<xml><ToUserName><![CDATA[gh_0000000000aa]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>1714037059</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>';
    const req = request('POST', APPID, { signature: '899cf89e464efb63f54ddac96b0a0a235f53aa78', timestamp: '1714037059', nonce: '486452656' }, body);
    const { proven } = await verify(req, deps({ appId: APPID }), 1714037059);
    expect(proven).toMatchObject({ kind: 'message', transport: 'plain', fields: { FromUserName: 'oUser', Event: 'subscribe' } });
  });

  it('refuses a plain push to an account WeChat encrypts for', async () => {
    const req = request('POST', APPID, { signature: '899cf89e464efb63f54ddac96b0a0a235f53aa78', timestamp: '1714037059', nonce: '486452656' }, '<xml/>');
    await expect(verify(req, deps({ appId: APPID, mode: 'safe', encodingAESKey: 'A'.repeat(43) }), 1714037059)).rejects.toThrow('encrypted pushes only');
  });

  // MPPUSH safe-mode example (key 43×A, appid wxba5fad812f8e6fb9): msg_signature 046e02f8… over the Encrypt value.
  // Its message is the JSON debug_demo event, so the proof verifies and decrypts it, then refuses it as not XML.
  const SAFE = {
    appId: 'wxba5fad812f8e6fb9',
    encrypt: '+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=',
  };
  const safeRequest = (msgSignature: string) =>
    request('POST', SAFE.appId, { signature: 'x', timestamp: '1714112445', nonce: '415670741', encrypt_type: 'aes', msg_signature: msgSignature },
      `<xml><ToUserName><![CDATA[gh_0000000000aa]]></ToUserName><Encrypt><![CDATA[${SAFE.encrypt}]]></Encrypt></xml>`);

  it('verifies and decrypts the official safe-mode example (the JSON inside is then refused as not XML)', async () => {
    const d = deps({ appId: SAFE.appId, mode: 'safe', encodingAESKey: 'A'.repeat(43) });
    await expect(verify(safeRequest('046e02f8204d34f8ba5fa3b1db94908f3df2e9b3'), d, 1714112445)).rejects.toThrow(PushXmlError);
  });

  it('decrypts with the previous EncodingAESKey during a rotation', async () => {
    const d = deps({ appId: SAFE.appId, mode: 'safe', encodingAESKey: 'B'.repeat(43), previousEncodingAESKey: 'A'.repeat(43) });
    await expect(verify(safeRequest('046e02f8204d34f8ba5fa3b1db94908f3df2e9b3'), d, 1714112445)).rejects.toThrow(PushXmlError);
  });

  it.each([
    { case: 'a wrong msg_signature', msgSignature: '046e02f8204d34f8ba5fa3b1db94908f3df2e9b4', key: 'A'.repeat(43), error: 'msg_signature does not match' },
    { case: 'a key that opens nothing', msgSignature: '046e02f8204d34f8ba5fa3b1db94908f3df2e9b3', key: 'B'.repeat(43), error: /padding|app id|length|truncated/ },
  ])('refuses $case', async ({ msgSignature, key, error }) => {
    const d = deps({ appId: SAFE.appId, mode: 'safe', encodingAESKey: key });
    await expect(verify(safeRequest(msgSignature), d, 1714112445)).rejects.toThrow(error);
  });
});
