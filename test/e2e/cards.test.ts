import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/lib/cloudbaserc';
import { adminDb, callFunction, LOCAL_ACCOUNT, sandbox, startTestStack, upstreamCalls, user, type Stack } from '../helpers/stack';

const run = promisify(execFile);
const TEMPLATES = path.join(ROOT, 'scripts', 'card-templates');

/** The operator's tool, as a newcomer runs it: npm run cards -- --local URL … */
async function cards(stack: Stack, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/cards.ts', '--local', stack.url, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
  });
  return stdout;
}

async function createCard(stack: Stack, template: string): Promise<string> {
  const out = await cards(stack, 'create', path.join(TEMPLATES, template), '--logo', path.join(TEMPLATES, 'logo.png'), '--register');
  const cardId = /card created: (p[0-9A-Za-z_-]{27})/.exec(out)?.[1];
  expect(out).toContain(`registered ${cardId}`);
  return cardId!;
}

/** Plays the WeChat app: wx.addCard with the cardList signCard returned, as the user `officialOpenid` (WeChat then pushes user_get_card unless told not to). */
function addCard(stack: Stack, officialOpenid: string, cardList: unknown, options: { deliverPush?: boolean } = {}): Promise<any> {
  return sandbox(stack, 'POST', 'client/add-card', { appid: LOCAL_ACCOUNT.officialAppId, openid: officialOpenid, cardList, ...options });
}

const alice = user('o-mp-alice', 'u-alice');
const bob = user('o-mp-bob', 'u-bob');
const carol = user('o-mp-carol'); // no unionid: cannot be linked
const staff = user('o-mp-staff', 'u-staff');

describe('cards end to end: operator tools, signCard, wx.addCard, decryptCode, consumeCode', () => {
  let stack: Stack;
  let coupon: string;
  let meeting: string;

  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 4 });
    coupon = await createCard(stack, 'general-coupon.json');
    meeting = await createCard(stack, 'meeting-ticket.json'); // custom code + bind_openid
    await cards(stack, 'link-user', '--unionid', 'u-alice', '--openid', 'oOA-alice');
    await cards(stack, 'link-user', '--unionid', 'u-bob', '--openid', 'oOA-bob');
    await cards(stack, 'staff-add', '--openid', 'o-mp-staff', '--name', 'Front desk');
  }, 60_000);
  afterAll(() => stack.close());

  it('signs a registered card that WeChat accepts, decrypts the code for its owner, and redeems it once', async () => {
    const signed = await callFunction(stack, 'signCard', { cards: [{ cardId: coupon, outerStr: 'poster-a' }] }, alice);
    expect(signed).toMatchObject({ ok: true, data: { cardList: [{ cardId: coupon, cardExt: expect.any(String) }] } });
    const cardExt = JSON.parse(signed.data.cardList[0].cardExt);
    // The timestamp is a JSON number: wx.addCard fails on a quoted one.
    expect(signed.data.cardList[0].cardExt).toMatch(/"timestamp":\d{10},/);
    // outer_str carries a signed reference to the caller, the operator's tag at its end (cards/reference.ts).
    expect(cardExt).toEqual({
      timestamp: expect.any(Number), nonce_str: expect.stringMatching(/^[0-9A-Za-z]{32}$/),
      outer_str: expect.stringMatching(/^u1\.wx10ca1000000000b2\.o-mp-alice\.[A-Za-z0-9_-]{16}\.poster-a$/), signature: expect.stringMatching(/^[0-9a-f]{40}$/),
    });

    const added = await addCard(stack, 'oOA-alice', signed.data.cardList);
    expect(added).toMatchObject({ errMsg: 'addCard:ok', cardList: [{ isSuccess: true }] });
    const encryptCode = added.cardList[0].code;

    const opened = await callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, alice);
    expect(opened).toEqual({ ok: true, data: { cardId: coupon, code: expect.stringMatching(/^\d{12}$/) } });
    const { code } = opened.data;

    // Bob holds Alice's encrypt_code (say, a forwarded screenshot): not a decryption oracle.
    await expect(callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, bob)).resolves.toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });

    await expect(callFunction(stack, 'consumeCode', { cardId: coupon, code }, alice)).resolves.toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const first = await callFunction(stack, 'consumeCode', { cardId: coupon, code }, staff);
    expect(first).toMatchObject({ ok: true, data: { status: 'consumed', cardId: coupon, code } });
    const before = await upstreamCalls(stack);
    const again = await callFunction(stack, 'consumeCode', { cardId: coupon, code }, staff);
    expect(again).toMatchObject({ ok: true, data: { status: 'already_consumed', consumedAtMs: first.data.consumedAtMs } });
    expect(await upstreamCalls(stack)).toEqual(before);
    const sandboxCards = await sandbox(stack, 'GET', `cards?appid=${LOCAL_ACCOUNT.officialAppId}`);
    expect(JSON.stringify(sandboxCards)).toContain('CONSUMED');
  });

  it('signs custom-code, bind_openid cards for the caller\'s own official-account openid only', async () => {
    const signed = await callFunction(stack, 'signCard', { cards: [{ cardId: meeting, code: 'SEAT0042' }] }, alice);
    expect(signed).toMatchObject({ ok: true });
    expect(JSON.parse(signed.data.cardList[0].cardExt)).toMatchObject({ code: 'SEAT0042', openid: 'oOA-alice' });
    // Bob cannot add a card signed for Alice.
    await expect(addCard(stack, 'oOA-bob', signed.data.cardList)).resolves.toMatchObject({ errMsg: expect.stringMatching(/^addCard:fail/) });
    await expect(addCard(stack, 'oOA-alice', signed.data.cardList)).resolves.toMatchObject({ errMsg: 'addCard:ok' });
  });

  it.each([
    { case: 'an unregistered card', data: () => ({ cards: [{ cardId: 'pUNREGISTERED000000000000000' }] }), who: alice, code: 'NOT_FOUND' },
    { case: 'a custom-code card without its code', data: (ids: Ids) => ({ cards: [{ cardId: ids.meeting }] }), who: alice, code: 'INVALID_INPUT' },
    { case: 'a code for a card without custom codes', data: (ids: Ids) => ({ cards: [{ cardId: ids.coupon, code: '123' }] }), who: alice, code: 'INVALID_INPUT' },
    { case: 'a bind_openid card for a user with no unionid', data: (ids: Ids) => ({ cards: [{ cardId: ids.meeting, code: 'SEAT0001' }] }), who: carol, code: 'NOT_ELIGIBLE' },
    { case: 'an empty list', data: () => ({ cards: [] }), who: alice, code: 'INVALID_INPUT' },
    { case: 'eleven cards', data: (ids: Ids) => ({ cards: Array.from({ length: 11 }, () => ({ cardId: ids.coupon })) }), who: alice, code: 'INVALID_INPUT' },
    { case: 'a client-chosen openid', data: (ids: Ids) => ({ cards: [{ cardId: ids.coupon }], openid: 'oOA-bob' }), who: alice, code: 'INVALID_INPUT' },
    { case: 'a malformed card id', data: () => ({ cards: [{ cardId: 42 }] }), who: alice, code: 'INVALID_INPUT' },
  ])('refuses $case with a typed error', async ({ data, who, code }) => {
    const result = await callFunction(stack, 'signCard', data({ coupon, meeting }), who);
    expect(result).toMatchObject({ ok: false, error: { code } });
  });

  it('tells an unlinked user how to link, in words the client can show', async () => {
    const result = await callFunction(stack, 'signCard', { cards: [{ cardId: meeting, code: 'SEAT0002' }] }, user('o-mp-dave', 'u-dave'));
    expect(result).toMatchObject({ ok: false, error: { code: 'NOT_ELIGIBLE', message: expect.stringMatching(/follow the official account/) } });
  });

  describe('decryptCode is not an oracle: a code is decrypted only for a caller proven to own it', () => {
    const carolOfficial = 'oOA-carol';
    const dave = user('o-mp-dave2', 'u-dave2'); // a unionid, but no link to the official account
    let carolsCode: string;
    let encryptCode: string;

    beforeAll(async () => {
      const signed = await callFunction(stack, 'signCard', { cards: [{ cardId: coupon }] }, carol);
      // WeChat's user_get_card push has not arrived (yet): nothing proves the code is carol's.
      const added = await addCard(stack, carolOfficial, signed.data.cardList, { deliverPush: false });
      encryptCode = added.cardList[0].code;
      const [owned] = (await sandbox(stack, 'GET', `cards?appid=${LOCAL_ACCOUNT.officialAppId}`)).cards.find((card: { cardId: string }) => card.cardId === coupon).codes.filter((entry: { openid: string }) => entry.openid === carolOfficial);
      carolsCode = owned.code;
    });

    it.each([
      { case: 'its owner without a unionid and no card event recorded', who: () => carol, reason: 'NO_UNIONID' },
      { case: 'a stranger without a unionid', who: () => user('o-mp-eve'), reason: 'NO_UNIONID' },
      { case: 'a user with a unionid but no account link', who: () => dave, reason: 'ACCOUNT_NOT_LINKED' },
    ])('refuses $case, saying what is missing', async ({ who, reason }) => {
      const result = await callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, who());
      expect(result).toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: expect.any(String), reason } });
      expect(JSON.stringify(result)).not.toContain(carolsCode);
    });

    it('decrypts for the user a verified card event names, and for nobody else', async () => {
      const owners = adminDb(stack).collection('card_code_owners');
      await owners.doc(`${coupon}:${carolsCode}`).set({
        cardId: coupon, code: carolsCode, officialAppId: LOCAL_ACCOUNT.officialAppId, officialOpenid: carolOfficial,
        miniProgram: { appid: LOCAL_ACCOUNT.miniProgramAppId, openid: carol.type === 'miniprogram' ? carol.openid : '' },
        source: 'user_get_card', recordedAtMs: Date.now(),
      });

      await expect(callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, carol)).resolves.toEqual({ ok: true, data: { cardId: coupon, code: carolsCode } });
      await expect(callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, user('o-mp-eve'))).resolves.toMatchObject({ ok: false, error: { reason: 'NO_UNIONID' } });
      // Bob is linked, and WeChat says the code is oOA-carol's.
      await expect(callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, bob)).resolves.toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });

      // Carol deletes the card (user_del_card): the record no longer proves anything.
      await owners.doc(`${coupon}:${carolsCode}`).update({ releasedAtMs: Date.now() });
      await expect(callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, carol)).resolves.toMatchObject({ ok: false, error: { code: 'NOT_ELIGIBLE', reason: 'NO_UNIONID' } });
    });
  });

  describe('card events prove ownership: signCard signs a reference to the user into outer_str, WeChat pushes it back in user_get_card', () => {
    const gina = user('o-mp-gina'); // no unionid: never linkable, only the card event can prove her code

    it('decrypts for the mini-program user the verified event names, refuses everyone else, and forgets her on user_del_card', async () => {
      const signed = await callFunction(stack, 'signCard', { cards: [{ cardId: coupon, outerStr: 'shelf-3' }] }, gina);
      const added = await sandbox(stack, 'POST', 'client/add-card', { appid: LOCAL_ACCOUNT.officialAppId, user: 'gina', cardList: signed.data.cardList });
      expect(added).toMatchObject({ errMsg: 'addCard:ok', pushes: [{ delivered: true, attempts: 1, answer: 'success' }] });
      const encryptCode = added.cardList[0].code;

      const opened = await callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, gina);
      expect(opened).toEqual({ ok: true, data: { cardId: coupon, code: expect.stringMatching(/^\d{12}$/) } });
      await expect(callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, user('o-mp-eve'))).resolves.toMatchObject({ ok: false, error: { code: 'NOT_ELIGIBLE', reason: 'NO_UNIONID' } });
      await expect(callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, bob)).resolves.toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });

      // The event's UnionId filled the link (wx_user_links) by itself.
      const { unionids, openids } = await sandbox(stack, 'GET', 'users?user=gina');
      const link = (await adminDb(stack).collection('wx_user_links').doc(`${LOCAL_ACCOUNT.officialAppId}:${unionids['local-open-platform']}`).get()).data as Array<Record<string, unknown>>;
      expect(link).toEqual([expect.objectContaining({ openid: openids[LOCAL_ACCOUNT.officialAppId], source: 'card' })]);

      await sandbox(stack, 'POST', 'client/delete-card', { appid: LOCAL_ACCOUNT.officialAppId, openid: openids[LOCAL_ACCOUNT.officialAppId], cardId: coupon, code: opened.data.code });
      await expect(callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, gina)).resolves.toMatchObject({ ok: false, error: { code: 'NOT_ELIGIBLE', reason: 'NO_UNIONID' } });
    });

    it('gives a changed outer_str to nobody: the client cannot name another user', async () => {
      const eve = user('o-mp-eve3');
      const signed = await callFunction(stack, 'signCard', { cards: [{ cardId: coupon }] }, eve);
      const cardExt = JSON.parse(signed.data.cardList[0].cardExt);
      // outer_str is not covered by WeChat's cardExt signature, so the add succeeds with the forged reference.
      cardExt.outer_str = cardExt.outer_str.replace('o-mp-eve3', 'o-mp-hank');
      const added = await sandbox(stack, 'POST', 'client/add-card', { appid: LOCAL_ACCOUNT.officialAppId, user: 'eve3', cardList: [{ cardId: coupon, cardExt: JSON.stringify(cardExt) }] });
      expect(added).toMatchObject({ errMsg: 'addCard:ok', pushes: [{ delivered: true }] });
      const encryptCode = added.cardList[0].code;
      await expect(callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, user('o-mp-hank'))).resolves.toMatchObject({ ok: false, error: { reason: 'NO_UNIONID' } });
      await expect(callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, eve)).resolves.toMatchObject({ ok: false, error: { reason: 'NO_UNIONID' } });
    });
  });

  it('answers a code consumed elsewhere as already consumed, and records it', async () => {
    const frank = user('o-mp-frank', 'u-frank');
    await adminDb(stack).collection('wx_user_links').doc(`${LOCAL_ACCOUNT.officialAppId}:u-frank`).set({
      officialAppId: LOCAL_ACCOUNT.officialAppId, unionid: 'u-frank', openid: 'oOA-frank', source: 'operator', linkedAtMs: Date.now(),
    });
    const signed = await callFunction(stack, 'signCard', { cards: [{ cardId: coupon }] }, frank);
    const added = await addCard(stack, 'oOA-frank', signed.data.cardList);
    const decrypted = await callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode: added.cardList[0].code }, frank);
    expect(decrypted).toMatchObject({ ok: true });
    const opened = decrypted.data;
    // Another system of the operator redeems it with the account's token (the MP console, a till…).
    const [token] = (await adminDb(stack).collection('wx_credentials').doc(`${LOCAL_ACCOUNT.officialAppId}:access_token`).get()).data as Array<{ value: string }>;
    const consumed = await fetch(`${stack.url}/card/code/consume?access_token=${token!.value}`, { method: 'POST', body: JSON.stringify({ card_id: coupon, code: opened.code }) });
    expect(await consumed.json()).toMatchObject({ errcode: 0 });

    const scan = await callFunction(stack, 'consumeCode', { cardId: coupon, code: opened.code }, staff);
    expect(scan).toMatchObject({ ok: true, data: { status: 'already_consumed', cardId: coupon, code: opened.code } });
    const before = await upstreamCalls(stack);
    await expect(callFunction(stack, 'consumeCode', { cardId: coupon, code: opened.code }, staff)).resolves.toMatchObject({ ok: true, data: { status: 'already_consumed', consumedAtMs: scan.data.consumedAtMs } });
    expect(await upstreamCalls(stack)).toEqual(before);
  });

  it('refuses a garbled encrypt code and cards it does not know', async () => {
    await expect(callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode: 'AAAAAAAAAAAAAAAA' }, alice)).resolves.toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    await expect(callFunction(stack, 'decryptCode', { cardId: 'pUNREGISTERED000000000000000', encryptCode: 'AAAAAAAAAAAAAAAA' }, alice)).resolves.toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('recovers once when the token expires in the middle of a decrypt', async () => {
    const signed = await callFunction(stack, 'signCard', { cards: [{ cardId: coupon }] }, bob);
    const added = await addCard(stack, 'oOA-bob', signed.data.cardList);
    await sandbox(stack, 'POST', 'tokens/expire', { appid: LOCAL_ACCOUNT.officialAppId });
    const opened = await callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode: added.cardList[0].code }, bob);
    expect(opened).toMatchObject({ ok: true, data: { cardId: coupon } });
  });

  it('signs for many users at once with no WeChat call once warm', async () => {
    await Promise.all(Array.from({ length: 8 }, (_, i) => callFunction(stack, 'signCard', { cards: [{ cardId: coupon }] }, user(`o-warm-${i}`))));
    const before = await upstreamCalls(stack);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => callFunction(stack, 'signCard', { cards: [{ cardId: coupon }, { cardId: coupon }] }, user(`o-many-${i}`))),
    );
    expect(results.every((result) => result.ok)).toBe(true);
    const nonces = results.flatMap((result) => result.data.cardList.map((item: { cardExt: string }) => JSON.parse(item.cardExt).nonce_str));
    expect(new Set(nonces).size).toBe(120);
    expect(await upstreamCalls(stack)).toEqual(before);
  });

  it('rate-limits one user', async () => {
    const greedy = user('o-mp-greedy');
    const results = [];
    for (let i = 0; i < 25 * 4; i += 1) results.push(await callFunction(stack, 'signCard', { cards: [{ cardId: coupon }] }, greedy));
    expect(results.some((result) => result.ok === false && result.error.code === 'RATE_LIMITED')).toBe(true);
  });

  it('stops signing a card the operator unregisters', async () => {
    const gift = await createCard(stack, 'gift.json');
    expect(await cards(stack, 'unregister', gift)).toContain('no longer issuable');
    expect(await cards(stack, 'list')).toMatch(new RegExp(`${gift}\\s+stopped`));
    const result = await callFunction(stack, 'signCard', { cards: [{ cardId: gift }] }, alice);
    expect(result).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });
});

type Ids = { coupon: string; meeting: string };
