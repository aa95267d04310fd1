import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main as accountsCli } from '../../scripts/accounts';
import { LOCAL_OFFICIAL_ACCOUNTS } from '../../scripts/local/stack';
import { saveAccount } from '../../shared/accounts/store';
import { createNodeSdkStore } from '../../shared/store/nodeSdk';
import { ADMIN, adminDb, callFunction, LOCAL_ACCOUNT, sandbox, startTestStack, type Stack } from '../helpers/stack';
import { claim, ledger, openCampaign } from '../integration/redpacket/support';

const [SERVICE, SUB_COMPATIBLE, SUB_PLAIN] = LOCAL_OFFICIAL_ACCOUNTS.map((account) => account.appId) as [string, string, string];
const MODES = [
  { case: 'safe mode (the verified service account)', appid: SERVICE },
  { case: 'compatible mode', appid: SUB_COMPATIBLE },
  { case: 'plain mode', appid: SUB_PLAIN },
];

/** The operator's CLI in this process: npm run -s accounts -- --local URL … */
async function accounts(stack: Stack, ...args: string[]): Promise<string> {
  const lines: string[] = [];
  const code = await accountsCli(['--local', stack.url, ...args], (line) => void lines.push(line));
  if (code !== 0) throw new Error(`accounts ${args.join(' ')} exited ${code}: ${lines.join('\n')}`);
  return lines.join('\n');
}

interface Stats { accounts: Array<{ appid: string; follows: number; firstFollows: number; unfollows: number; channels: Array<{ channel: string; follows: number; firstFollows: number; unfollows: number }> }> }
async function stats(stack: Stack): Promise<Stats> {
  return JSON.parse(await accounts(stack, 'stats', '--json')) as Stats;
}
function countsOf(all: Stats, appid: string) {
  return all.accounts.find((account) => account.appid === appid)!;
}

const follow = (stack: Stack, body: Record<string, unknown>) => sandbox(stack, 'POST', 'users/follow', body);
const unfollow = (stack: Stack, body: Record<string, unknown>) => sandbox(stack, 'POST', 'users/unfollow', body);
const eventsOf = async (stack: Stack, appid: string) => stack.cloudbase.dump('wx_push_events').filter((doc) => doc.appId === appid);

function sha1(values: string[]): string {
  return createHash('sha1').update([...values].sort().join('')).digest('hex');
}

/** A push made by hand to a plain-mode account, signed with its token (what a forger who knows the token could send). */
async function handPush(stack: Stack, appid: string, body: string, options: { signature?: string; timestamp?: number } = {}): Promise<Response> {
  const account = LOCAL_OFFICIAL_ACCOUNTS.find((candidate) => candidate.appId === appid)!;
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = '123456789';
  const signature = options.signature ?? sha1([account.pushToken, timestamp, nonce]);
  return fetch(`${stack.url}/wx/push/${appid}?signature=${signature}&timestamp=${timestamp}&nonce=${nonce}&openid=oHand`, {
    method: 'POST', headers: { 'content-type': 'text/xml' }, body,
  });
}

describe('receivePush end to end: WeChat users follow the local accounts through the sandbox', () => {
  let stack: Stack;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'push-e2e-'));
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 4 });
  }, 60_000);
  afterAll(async () => {
    await stack.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('answers WeChat\'s URL check with echostr, and refuses one signed with another token', async () => {
    const account = LOCAL_OFFICIAL_ACCOUNTS[0];
    const timestamp = String(Math.floor(Date.now() / 1000));
    const good = await fetch(`${stack.url}/wx/push/${SERVICE}?signature=${sha1([account.pushToken, timestamp, '42'])}&timestamp=${timestamp}&nonce=42&echostr=4375120948345356249`);
    expect(good.status).toBe(200);
    expect(await good.text()).toBe('4375120948345356249');
    const forged = await fetch(`${stack.url}/wx/push/${SERVICE}?signature=${sha1(['AAAAA', timestamp, '42'])}&timestamp=${timestamp}&nonce=42&echostr=1`);
    expect(forged.status).toBe(401);
  });

  it.each(MODES)('counts a follow and answers the channel\'s passive reply in $case', async ({ appid }) => {
    await accounts(stack, 'reply-set', appid, 'account', '--text', `欢迎 <a href="https://example.com/${appid}">领取</a>`);
    // Instances cache channels for 30 s; a fresh user still reads the first value, so the reply is set before anyone follows.
    const delivered = await follow(stack, { user: `mode-${appid}`, appid });
    expect(delivered).toMatchObject({ delivered: true, attempts: 1, status: 200, answer: 'xml', replyError: null, reply: { MsgType: 'text', Content: `欢迎 <a href="https://example.com/${appid}">领取</a>` } });
    const left = await unfollow(stack, { user: `mode-${appid}`, appid });
    expect(left).toMatchObject({ delivered: true, answer: 'success', reply: null });
    const { openids } = await sandbox(stack, 'GET', `users?user=mode-${appid}`);
    const ledger = stack.cloudbase.dump('wx_follows').find((doc) => doc._id === `${appid}:${openids[appid]}`);
    expect(ledger).toMatchObject({ following: false, follows: 1, unfollows: 1, firstChannel: 'account', preExisting: false });
  });

  it('counts follow → unfollow → re-follow as one first follow, one returning follow and one unfollow, per account and channel', async () => {
    const before = countsOf(await stats(stack), SUB_PLAIN);
    // CreateTime has one-second resolution and WeChat's dedupe rule is FromUserName + CreateTime (+ Event):
    // a person's actions are seconds apart, so the sandbox clock moves a second between them.
    await follow(stack, { user: 'carol', appid: SUB_PLAIN });
    await sandbox(stack, 'POST', 'clock', { advanceMs: 1_000 });
    await unfollow(stack, { user: 'carol', appid: SUB_PLAIN });
    await sandbox(stack, 'POST', 'clock', { advanceMs: 1_000 });
    await follow(stack, { user: 'carol', appid: SUB_PLAIN });
    const after = countsOf(await stats(stack), SUB_PLAIN);
    expect(after.follows - before.follows).toBe(2);
    expect(after.firstFollows - before.firstFollows).toBe(1);
    expect(after.unfollows - before.unfollows).toBe(1);
    const text = await accounts(stack, 'stats');
    expect(text).toMatch(new RegExp(`${SUB_PLAIN}  follows \\d+ \\(\\d+ first, [1-9]\\d* returning\\)`));
    const { openids } = await sandbox(stack, 'GET', 'users?user=carol');
    const ledger = stack.cloudbase.dump('wx_follows').find((doc) => doc._id === `${SUB_PLAIN}:${openids[SUB_PLAIN]}`);
    expect(ledger).toMatchObject({ following: true, follows: 2, unfollows: 1, preExisting: false });
    // Another account is untouched by carol.
    expect(stack.cloudbase.dump('wx_follows').some((doc) => doc._id === `${SUB_COMPATIBLE}:${openids[SUB_COMPATIBLE]}`)).toBe(false);
  });

  it('applies a duplicate delivery once, and answers the copy with the same reply', async () => {
    const before = countsOf(await stats(stack), SUB_COMPATIBLE);
    const delivered = await follow(stack, { user: 'dup-dan', appid: SUB_COMPATIBLE, duplicate: true });
    expect(delivered).toMatchObject({ delivered: true, attempts: 2 });
    const after = countsOf(await stats(stack), SUB_COMPATIBLE);
    expect(after.follows - before.follows).toBe(1);
    const { openids } = await sandbox(stack, 'GET', 'users?user=dup-dan');
    const docs = (await eventsOf(stack, SUB_COMPATIBLE)).filter((doc) => doc.openid === openids[SUB_COMPATIBLE]);
    expect(docs).toEqual([expect.objectContaining({ status: 'done', duplicates: 1 })]);
  });

  it('answers a replay inside the window as a duplicate, and refuses an old one without touching anything', async () => {
    const delivered = await follow(stack, { user: 'replay-rita', appid: SERVICE });
    const before = countsOf(await stats(stack), SERVICE);
    const again = await sandbox(stack, 'POST', 'pushes/replay', { id: delivered.id });
    expect(again).toMatchObject({ delivered: true, status: 200 });
    const old = await sandbox(stack, 'POST', 'pushes/replay', { id: delivered.id, ageSeconds: 600 });
    expect(old).toMatchObject({ delivered: false, status: 401 });
    expect(countsOf(await stats(stack), SERVICE)).toEqual(before);
    const { openids } = await sandbox(stack, 'GET', 'users?user=replay-rita');
    expect((await eventsOf(stack, SERVICE)).filter((doc) => doc.openid === openids[SERVICE])).toEqual([expect.objectContaining({ duplicates: 1 })]);
  });

  it('refuses a push whose timestamp is outside the window, and counts nothing', async () => {
    const before = countsOf(await stats(stack), SUB_PLAIN);
    const stale = await follow(stack, { user: 'late-larry', appid: SUB_PLAIN, timestampSkewSeconds: -900 });
    expect(stale).toMatchObject({ delivered: false, status: 401, attempts: 1 });
    expect(countsOf(await stats(stack), SUB_PLAIN)).toEqual(before);
  });

  it.each([
    { case: 'a wrong signature', body: '<xml><ToUserName><![CDATA[gh_10ca100000a3]]></ToUserName><FromUserName><![CDATA[oForged]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>', signature: '0'.repeat(40), status: 401 },
    { case: 'a DTD with entities (billion laughs)', body: '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><xml><ToUserName>&lol2;</ToUserName></xml>', status: 400 },
    { case: 'an external entity', body: '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><FromUserName>&xxe;</FromUserName></xml>', status: 400 },
    { case: 'truncated XML', body: '<xml><ToUserName><![CDATA[gh_10ca100000a3]]></ToUserName><FromUser', status: 400 },
    { case: 'two FromUserName elements', body: '<xml><ToUserName><![CDATA[gh_10ca100000a3]]></ToUserName><FromUserName><![CDATA[oA]]></FromUserName><FromUserName><![CDATA[oB]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>', status: 400 },
    { case: 'a push addressed to another account', body: '<xml><ToUserName><![CDATA[gh_10ca100000a2]]></ToUserName><FromUserName><![CDATA[oA]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>', status: 403 },
    { case: 'a push without its header fields', body: '<xml><ToUserName><![CDATA[gh_10ca100000a3]]></ToUserName></xml>', status: 400 },
  ])('refuses $case without a crash and without touching state', async ({ body, signature, status }) => {
    const before = stack.cloudbase.dump('wx_push_events').length;
    const response = await handPush(stack, SUB_PLAIN, body, signature === undefined ? {} : { signature });
    expect(response.status).toBe(status);
    expect(stack.cloudbase.dump('wx_push_events')).toHaveLength(before);
    // The function still answers WeChat afterwards.
    await expect(follow(stack, { user: `after-${status}-${before}`, appid: SUB_PLAIN })).resolves.toMatchObject({ delivered: true });
  });

  it('keeps accounts apart: one account\'s token does not sign for another, and counts stay per account', async () => {
    const a2 = LOCAL_OFFICIAL_ACCOUNTS[1];
    const timestamp = String(Math.floor(Date.now() / 1000));
    const body = '<xml><ToUserName><![CDATA[gh_10ca100000a3]]></ToUserName><FromUserName><![CDATA[oX]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>';
    const crossed = await handPush(stack, SUB_PLAIN, body, { signature: sha1([a2.pushToken, timestamp, '123456789']), timestamp: Number(timestamp) });
    expect(crossed.status).toBe(401);
    const before = await stats(stack);
    await follow(stack, { user: 'iso-ivy', appid: SUB_COMPATIBLE });
    const after = await stats(stack);
    expect(countsOf(after, SUB_COMPATIBLE).follows - countsOf(before, SUB_COMPATIBLE).follows).toBe(1);
    expect(countsOf(after, SUB_PLAIN)).toEqual(countsOf(before, SUB_PLAIN));
    expect(countsOf(after, SERVICE)).toEqual(countsOf(before, SERVICE));
  });

  it('deduplicates a user message by MsgId', async () => {
    await follow(stack, { user: 'msg-mia', appid: SUB_PLAIN });
    const sent = await sandbox(stack, 'POST', 'users/message', { user: 'msg-mia', appid: SUB_PLAIN, text: 'hello', duplicate: true });
    expect(sent).toMatchObject({ delivered: true, answer: 'success', attempts: 2 });
    const { openids } = await sandbox(stack, 'GET', 'users?user=msg-mia');
    const messages = (await eventsOf(stack, SUB_PLAIN)).filter((doc) => doc.openid === openids[SUB_PLAIN] && doc.msgType === 'text');
    expect(messages).toEqual([expect.objectContaining({ msgId: expect.stringMatching(/^\d+$/), status: 'done', duplicates: 1 })]);
  });

  it('makes a parametric QR channel for the service account, counts follows and scans through it, and refuses one for a subscription account', async () => {
    const out = path.join(tmp, 'spring.png');
    await expect(accounts(stack, 'qr', SERVICE, 'spring-poster', '--campaign', 'cmp42', '--out', out)).resolves.toContain('Permanent QR code for channel spring-poster');
    expect(readFileSync(out).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    await accounts(stack, 'reply-set', SERVICE, 'spring-poster', '--news-title', '春季活动', '--news-url', 'https://example.com/spring', '--news-description', '点此领取');
    const [channel] = JSON.parse(await accounts(stack, 'channel-list', SERVICE, '--json')).channels.filter((doc: { channel: string }) => doc.channel === 'spring-poster');
    expect(channel).toMatchObject({ kind: 'qr', campaignId: 'cmp42', qr: { permanent: true, ticket: expect.any(String) }, reply: { type: 'news', title: '春季活动' } });

    // A channel an instance does not know yet is read again, at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const first = await follow(stack, { user: 'qr-quinn', appid: SERVICE, ticket: channel.qr.ticket });
    expect(first).toMatchObject({ delivered: true, reply: { MsgType: 'news', Articles: [{ Title: '春季活动', Url: 'https://example.com/spring', Description: '点此领取' }] } });
    // Already a follower: scanning again is SCAN, counted as a scan, not a follow.
    await sandbox(stack, 'POST', 'clock', { advanceMs: 1_000 });
    await follow(stack, { user: 'qr-quinn', appid: SERVICE, scene: 'spring-poster' });
    const row = countsOf(await stats(stack), SERVICE).channels.find((entry) => entry.channel === 'spring-poster');
    expect(row).toEqual({ channel: 'spring-poster', follows: 1, firstFollows: 1, unfollows: 0 });
    expect(await accounts(stack, 'stats')).toMatch(/spring-poster\s+follows 1 \(1 first, 0 returning\), unfollows 0, net 1, scans 1/);
    // Unfollowing credits the channel the user came through.
    await sandbox(stack, 'POST', 'clock', { advanceMs: 1_000 });
    await unfollow(stack, { user: 'qr-quinn', appid: SERVICE });
    expect(countsOf(await stats(stack), SERVICE).channels.find((entry) => entry.channel === 'spring-poster')).toMatchObject({ unfollows: 1 });

    await expect(accounts(stack, 'qr', SUB_PLAIN, 'nope')).rejects.toThrow(/cannot make parametric QR codes/);
  });

  it('fills the unionid link from user/info, so a cash packet pays a follower with no operator link', async () => {
    const { openids, unionids } = await sandbox(stack, 'GET', 'users?user=cash-cathy');
    const unionid = unionids['local-open-platform'];
    expect(stack.cloudbase.dump('wx_user_links').some((doc) => doc.unionid === unionid)).toBe(false);
    await follow(stack, { user: 'cash-cathy', appid: SERVICE });
    expect(stack.cloudbase.dump('wx_user_links')).toEqual(expect.arrayContaining([expect.objectContaining({ officialAppId: SERVICE, unionid, openid: openids[SERVICE], source: 'follow' })]));
    await openCampaign(stack, { id: 'follow-cash', kind: 'cash', amount: { fixedFen: 100 }, budgetFen: 1_000 });
    const caller = { type: 'miniprogram' as const, openid: openids[LOCAL_ACCOUNT.miniProgramAppId], appid: LOCAL_ACCOUNT.miniProgramAppId, unionid };
    await expect(claim(stack, 'follow-cash', caller)).resolves.toMatchObject({ ok: true, data: { kind: 'cash', status: 'SENT', amountFen: 100 } });
    expect(await ledger(stack)).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'cash', appid: SERVICE, openid: openids[SERVICE], amountFen: 100 })]));
  });

  it('still answers in time when the store is slow, and the reconciler applies the follow once', async () => {
    const before = countsOf(await stats(stack), SUB_PLAIN);
    stack.cloudbase.setLatency({ delayMs: 1_000 });
    let delivered;
    try {
      delivered = await follow(stack, { user: 'slow-sam', appid: SUB_PLAIN });
    } finally {
      stack.cloudbase.setLatency(null);
    }
    // Within WeChat's 5 s: no retry, `success` (the reply waits for nothing).
    expect(delivered).toMatchObject({ delivered: true, attempts: 1, answer: expect.stringMatching(/^(success|xml)$/) });
    const run = await callFunction(stack, 'receivePush', { action: 'reconcile', minAgeMs: 0 }, ADMIN);
    expect(run).toMatchObject({ ok: true });
    const after = countsOf(await stats(stack), SUB_PLAIN);
    expect(after.follows - before.follows).toBe(1);
    const { openids } = await sandbox(stack, 'GET', 'users?user=slow-sam');
    const [doc] = (await eventsOf(stack, SUB_PLAIN)).filter((event) => event.openid === openids[SUB_PLAIN]);
    expect(doc).toMatchObject({ status: 'done', duplicates: 0 });
  }, 30_000);

  it('refuses the pushes of an account the operator removed', async () => {
    const addAccount = async (appid: string, originalId: string) => {
      const push = { token: `LocalPushToken${appid.slice(-2)}`, encodingAESKey: `LocalSandboxEncodingAESKeyOfAccount${appid.slice(-2).toUpperCase()}000000`, mode: 'plain' as const };
      await sandbox(stack, 'POST', 'accounts', { appid, secret: 'LocalSandboxAppSecret0000000009', kind: 'subscription', verified: false, originalId, push: { ...push, url: `${stack.url}/wx/push/${appid}` } });
      await saveAccount(createNodeSdkStore(adminDb(stack)), {
        appId: appid, kind: 'subscription', verified: false, originalId, messageMode: 'plain', appSecret: 'LocalSandboxAppSecret0000000009', pushToken: push.token, encodingAESKey: push.encodingAESKey,
      }, { defaultAppId: LOCAL_ACCOUNT.officialAppId });
    };
    await addAccount('wx10ca1000000000a8', 'gh_10ca100000a8');
    await addAccount('wx10ca1000000000a9', 'gh_10ca100000a9');
    await accounts(stack, 'remove', 'wx10ca1000000000a9');
    // Instances learn an appid they do not know by reading the registry again (at most once a second).
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await expect(follow(stack, { user: 'new-nina', appid: 'wx10ca1000000000a8' })).resolves.toMatchObject({ delivered: true, answer: 'success' });
    await expect(follow(stack, { user: 'rem-rob', appid: 'wx10ca1000000000a9' })).resolves.toMatchObject({ delivered: false, status: 401 });
    expect((await eventsOf(stack, 'wx10ca1000000000a9'))).toEqual([]);
  });
});
