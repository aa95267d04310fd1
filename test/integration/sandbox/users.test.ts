/**
 * The sandbox plays WeChat users and delivers their pushes as WeChat does (users.ts), and answers
 * the official-account APIs around them: qrcode/create + showqrcode, user/info, message/custom/send,
 * with 48001 for accounts that lack them (reference/official-accounts.md §1). The account's server is
 * a small receiver here that checks every request with the product's own signing code.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import got from 'got';
import { startWechatSandbox, type RunningWechatSandbox } from '../../../scripts/local/sandbox';
import { buildEncryptedReply, decryptPushMessage, verifyPushSignature } from '../../../shared/signing';

type Json = Record<string, any>;
const SERVICE = 'wx00000000000000a1';
const SUBSCRIPTION = 'wx00000000000000a2';
const PLAIN = 'wx00000000000000a3';
const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const ORIGINAL_IDS: Record<string, string> = { [SERVICE]: 'gh_00000000a1a1', [SUBSCRIPTION]: 'gh_00000000a2a2', [PLAIN]: 'gh_00000000a3a3' };
const TOKENS: Record<string, string> = { [SERVICE]: 'tokenA1', [SUBSCRIPTION]: 'tokenA2', [PLAIN]: 'tokenA3' };

interface Received { appid: string; query: Record<string, string>; body: string; xml: string }
let received: Received[] = [];
/** How the receiver answers: per request, after an optional delay. */
let answer: (request: Received) => { delayMs?: number; body: string } = () => ({ body: 'success' });
let receiver: http.Server;
let receiverUrl: string;
let sandbox: RunningWechatSandbox;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      const appid = url.pathname.slice(1);
      const query = Object.fromEntries(url.searchParams);
      const token = TOKENS[appid]!;
      const signed = verifyPushSignature({ token, timestamp: query.timestamp!, nonce: query.nonce!, signature: query.signature! });
      const encrypted = /<Encrypt><!\[CDATA\[([^\]]+)\]\]>/.exec(body)?.[1];
      const xml = !signed ? 'BAD SIGNATURE' : encrypted === undefined ? body : decryptPushMessage({ token, encodingAESKey: KEY, appId: appid, timestamp: query.timestamp!, nonce: query.nonce!, msgSignature: query.msg_signature!, encrypted });
      const request = { appid, query, body, xml };
      received.push(request);
      const { delayMs = 0, body: reply } = answer(request);
      setTimeout(() => {
        if (!res.destroyed) res.writeHead(200, { 'content-type': 'text/plain' }).end(reply);
      }, delayMs).unref();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const push = (appid: string, mode: 'safe' | 'compatible' | 'plain') => ({ token: TOKENS[appid]!, encodingAESKey: KEY, mode, url: `${receiverUrl}/${appid}` });
  sandbox = await startWechatSandbox({
    accounts: [
      { appid: SERVICE, secret: 'secret-a1', originalId: ORIGINAL_IDS[SERVICE], openPlatformId: 'op-1', push: push(SERVICE, 'safe') },
      { appid: SUBSCRIPTION, secret: 'secret-a2', kind: 'subscription', verified: false, originalId: ORIGINAL_IDS[SUBSCRIPTION], openPlatformId: 'op-1', push: push(SUBSCRIPTION, 'compatible') },
      { appid: PLAIN, secret: 'secret-a3', kind: 'subscription', verified: true, originalId: ORIGINAL_IDS[PLAIN], push: push(PLAIN, 'plain') },
      { appid: 'wx00000000000000b2', secret: 'secret-b2', kind: 'miniprogram', openPlatformId: 'op-1' },
    ],
    ipWhitelist: ['127.0.0.1'],
    pushTimeoutMs: 300,
  });
});
afterAll(async () => {
  await sandbox.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});
beforeEach(() => {
  sandbox.control.reset();
  received = [];
  answer = () => ({ body: 'success' });
});

const control = async (method: 'GET' | 'POST', path: string, json?: unknown): Promise<{ statusCode: number; body: Json }> =>
  (await got(`${sandbox.url}/__sandbox/${path}`, { method, ...(json === undefined ? {} : { json }), responseType: 'json', throwHttpErrors: false, retry: { limit: 0 } })) as never;
async function accessToken(appid: string): Promise<string> {
  const { body } = await got.post(`${sandbox.url}/cgi-bin/stable_token`, { json: { grant_type: 'client_credential', appid, secret: `secret-${appid.slice(-2)}` }, responseType: 'json', localAddress: '127.0.0.1' });
  return (body as Json).access_token;
}
const call = async (path: string, appid: string, json?: unknown): Promise<Json> => {
  const token = await accessToken(appid);
  const response = await got(`${sandbox.url}/${path}${path.includes('?') ? '&' : '?'}access_token=${token}`, { method: json === undefined ? 'GET' : 'POST', ...(json === undefined ? {} : { json }), throwHttpErrors: false });
  return JSON.parse(response.body) as Json;
};

describe('sandbox users', () => {
  it('give a user one openid per app and one unionid per Open Platform, the same every time', async () => {
    const first = (await control('GET', 'users?user=alice')).body;
    const again = (await control('GET', 'users?user=alice')).body;
    expect(again).toEqual(first);
    expect(first.openids[SERVICE]).toMatch(/^o[A-Za-z0-9_-]{27}$/);
    expect(new Set(Object.values(first.openids)).size).toBe(4);
    expect(first.unionids).toEqual({ 'op-1': expect.stringMatching(/^oU[A-Za-z0-9_-]{26}$/) });
    expect((await control('GET', 'users?user=bob')).body.openids[SERVICE]).not.toBe(first.openids[SERVICE]);
  });

  it.each([
    { case: 'safe mode: only ToUserName and Encrypt, msg_signature in the query', appid: SERVICE, plainFields: false, encrypted: true },
    { case: 'compatible mode: the plain fields and Encrypt', appid: SUBSCRIPTION, plainFields: true, encrypted: true },
    { case: 'plain mode: the plain fields only', appid: PLAIN, plainFields: true, encrypted: false },
  ])('deliver a follow signed in $case', async ({ appid, plainFields, encrypted }) => {
    const result = (await control('POST', 'users/follow', { user: 'alice', appid })).body;
    expect(result).toMatchObject({ delivered: true, attempts: 1, answer: 'success', reply: null });
    const [request] = received;
    expect(request!.xml).toMatch(new RegExp(`^<xml><ToUserName><!\\[CDATA\\[${ORIGINAL_IDS[appid]}\\]\\]></ToUserName><FromUserName><!\\[CDATA\\[o[A-Za-z0-9_-]{27}\\]\\]></FromUserName><CreateTime>\\d+</CreateTime><MsgType><!\\[CDATA\\[event\\]\\]></MsgType><Event><!\\[CDATA\\[subscribe\\]\\]></Event><EventKey><!\\[CDATA\\[\\]\\]></EventKey></xml>$`));
    expect(request!.body.includes('<FromUserName>')).toBe(plainFields);
    expect(request!.query.encrypt_type === 'aes').toBe(encrypted);
    expect(request!.query.openid).toMatch(/^o/);
  });

  it('retry three times with the very same request when no answer comes within the timeout', async () => {
    answer = () => ({ delayMs: 1_000, body: 'success' });
    const result = (await control('POST', 'users/follow', { user: 'slow', appid: PLAIN })).body;
    expect(result).toMatchObject({ delivered: false, attempts: 4, answer: 'timeout' });
    expect(received).toHaveLength(4);
    expect(new Set(received.map((request) => JSON.stringify([request.query, request.body]))).size).toBe(1);
  });

  it('stop retrying as soon as an answer comes in time', async () => {
    answer = () => ({ delayMs: received.length <= 2 ? 1_000 : 0, body: 'success' });
    await expect(control('POST', 'users/follow', { user: 'flaky', appid: PLAIN })).resolves.toMatchObject({ body: { delivered: true, attempts: 3 } });
  });

  it('hand back a safe-mode passive reply decrypted, and flag one that is not encrypted', async () => {
    answer = (request) => {
      const openid = /<FromUserName><!\[CDATA\[([^\]]+)/.exec(request.xml)![1]!;
      const xml = `<xml><ToUserName><![CDATA[${openid}]]></ToUserName><FromUserName><![CDATA[${ORIGINAL_IDS[SERVICE]}]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content></xml>`;
      return { body: buildEncryptedReply({ token: TOKENS[SERVICE]!, encodingAESKey: KEY, appId: SERVICE, xml, timestamp: 1, nonce: request.query.nonce! }) };
    };
    await expect(control('POST', 'users/follow', { user: 'r1', appid: SERVICE })).resolves.toMatchObject({ body: { answer: 'xml', reply: { MsgType: 'text', Content: '你好' }, replyError: null } });
    answer = () => ({ body: '<xml><ToUserName><![CDATA[x]]></ToUserName><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>' });
    await expect(control('POST', 'users/follow', { user: 'r2', appid: SERVICE })).resolves.toMatchObject({ body: { reply: null, replyError: 'a safe-mode account must encrypt its replies' } });
  });

  it('deliver a duplicate, a replay byte for byte, and an old replay re-signed', async () => {
    const first = (await control('POST', 'users/follow', { user: 'dup', appid: PLAIN, duplicate: true })).body;
    expect(first).toMatchObject({ delivered: true, attempts: 2 });
    await control('POST', 'pushes/replay', { id: first.id });
    await control('POST', 'pushes/replay', { id: first.id, ageSeconds: 600 });
    expect(received).toHaveLength(4);
    expect(received[2]).toEqual(received[0]);
    expect(Number(received[3]!.query.timestamp)).toBe(Number(received[0]!.query.timestamp) - 600);
    expect(received[3]!.xml).toBe(received[0]!.xml); // still correctly signed, just old
  });

  it('refuse following twice, and send SCAN when a follower scans a code', async () => {
    await control('POST', 'users/follow', { user: 'sam', appid: SERVICE });
    await expect(control('POST', 'users/follow', { user: 'sam', appid: SERVICE })).resolves.toMatchObject({ statusCode: 400, body: { error: expect.stringMatching(/already follows/) } });
    const code = await call('cgi-bin/qrcode/create', SERVICE, { action_name: 'QR_LIMIT_STR_SCENE', action_info: { scene: { scene_str: 'poster' } } });
    await control('POST', 'users/follow', { user: 'sam', appid: SERVICE, ticket: code.ticket });
    expect(received[1]!.xml).toContain('<Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[poster]]></EventKey>');
    await control('POST', 'users/follow', { user: 'tia', appid: SERVICE, scene: 'poster' });
    expect(received[2]!.xml).toContain('<EventKey><![CDATA[qrscene_poster]]></EventKey>');
  });
});

describe('the official-account APIs around them', () => {
  it.each([
    { case: 'qrcode/create for a subscription account', path: 'cgi-bin/qrcode/create', appid: SUBSCRIPTION, json: { action_name: 'QR_LIMIT_STR_SCENE', action_info: { scene: { scene_str: 'x' } } } },
    { case: 'qrcode/create for a verified subscription account', path: 'cgi-bin/qrcode/create', appid: PLAIN, json: { action_name: 'QR_LIMIT_STR_SCENE', action_info: { scene: { scene_str: 'x' } } } },
    { case: 'user/info for an unverified account', path: 'cgi-bin/user/info?openid=o1', appid: SUBSCRIPTION },
    { case: 'message/custom/send for an unverified account', path: 'cgi-bin/message/custom/send', appid: SUBSCRIPTION, json: { touser: 'o1', msgtype: 'text', text: { content: 'x' } } },
  ])('answer 48001 to $case', async ({ path, appid, json }) => {
    await expect(call(path, appid, json)).resolves.toMatchObject({ errcode: 48001, errmsg: expect.stringMatching(/^api unauthorized/) });
  });

  it('make temporary and permanent codes with WeChat\'s rules, and show a PNG until a temporary one expires', async () => {
    await expect(call('cgi-bin/qrcode/create', SERVICE, { action_name: 'QR_STR_SCENE', expire_seconds: 60, action_info: { scene: { scene_str: 'tmp' } } })).resolves.toMatchObject({ errcode: 0, ticket: expect.any(String), expire_seconds: 60, url: expect.stringMatching(/^http:\/\/weixin\.qq\.com\/q\//) });
    const permanent = await call('cgi-bin/qrcode/create', SERVICE, { action_name: 'QR_LIMIT_SCENE', action_info: { scene: { scene_id: 7 } } });
    expect(permanent).not.toHaveProperty('expire_seconds');
    await expect(call('cgi-bin/qrcode/create', SERVICE, { action_name: 'QR_LIMIT_SCENE', action_info: { scene: { scene_id: 100_001 } } })).resolves.toMatchObject({ errcode: 40053 });
    await expect(call('cgi-bin/qrcode/create', SERVICE, { action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: 'x'.repeat(65) } } })).resolves.toMatchObject({ errcode: 40053 });
    // Without action_info.scene, nothing identifies the channel (reference §1.1 pitfall).
    await expect(call('cgi-bin/qrcode/create', SERVICE, { action_name: 'QR_STR_SCENE', action_info: {} })).resolves.toMatchObject({ errcode: 40053 });
    const temporary = await call('cgi-bin/qrcode/create', SERVICE, { action_name: 'QR_STR_SCENE', expire_seconds: 60, action_info: { scene: { scene_str: 'soon' } } });
    const image = await got(`${sandbox.url}/cgi-bin/showqrcode?ticket=${encodeURIComponent(temporary.ticket)}`, { responseType: 'buffer' });
    expect(image.body.subarray(1, 4).toString()).toBe('PNG');
    sandbox.control.advanceClock(61_000);
    await expect(got(`${sandbox.url}/cgi-bin/showqrcode?ticket=${encodeURIComponent(temporary.ticket)}`, { throwHttpErrors: false })).resolves.toMatchObject({ statusCode: 404 });
    await expect(control('POST', 'users/follow', { user: 'late', appid: SERVICE, ticket: temporary.ticket })).resolves.toMatchObject({ statusCode: 400 });
  });

  it('tell user/info subscribe 0 for a non-follower, and the unionid only on an Open Platform', async () => {
    const { openids } = (await control('GET', 'users?user=uma')).body;
    await expect(call(`cgi-bin/user/info?openid=${openids[SERVICE]}`, SERVICE)).resolves.toEqual({ subscribe: 0, openid: openids[SERVICE] });
    await control('POST', 'users/follow', { user: 'uma', appid: SERVICE });
    await control('POST', 'users/follow', { user: 'uma', appid: PLAIN });
    const info = await call(`cgi-bin/user/info?openid=${openids[SERVICE]}`, SERVICE);
    expect(info).toMatchObject({ subscribe: 1, openid: openids[SERVICE], unionid: expect.stringMatching(/^oU/), subscribe_scene: 'ADD_SCENE_SEARCH' });
    expect(info).not.toHaveProperty('nickname');
    // The verified subscription account is on no Open Platform: no unionid.
    expect(await call(`cgi-bin/user/info?openid=${openids[PLAIN]}`, PLAIN)).not.toHaveProperty('unionid');
    await expect(call('cgi-bin/user/info?openid=oNobody', SERVICE)).resolves.toMatchObject({ errcode: 40003 });
  });

  it('allow customer-service messages only in the window a user action opened', async () => {
    const { openids } = (await control('GET', 'users?user=vic')).body;
    const send = () => call('cgi-bin/message/custom/send', SERVICE, { touser: openids[SERVICE], msgtype: 'text', text: { content: 'hi' } });
    await expect(send()).resolves.toMatchObject({ errcode: 43004 });
    await control('POST', 'users/follow', { user: 'vic', appid: SERVICE });
    for (let n = 0; n < 3; n += 1) await expect(send()).resolves.toMatchObject({ errcode: 0 });
    await expect(send()).resolves.toMatchObject({ errcode: 45047 });
    await control('POST', 'users/message', { user: 'vic', appid: SERVICE, text: 'hello' });
    await expect(send()).resolves.toMatchObject({ errcode: 0 });
    sandbox.control.advanceClock(48 * 3_600_000 + 1);
    await expect(send()).resolves.toMatchObject({ errcode: 45015 });
  });
});
