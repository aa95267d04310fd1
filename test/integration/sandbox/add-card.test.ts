/**
 * The sandbox's WeChat client emulation, `POST /__sandbox/client/add-card` (wx.addCard), over
 * real HTTP: cardLists signed by hand verify and issue codes; every documented trap is refused
 * (reference/wechat-api.md §4), and a refused batch changes nothing.
 */
import { createHash } from 'node:crypto';
import { startWechatSandbox, type RunningWechatSandbox } from '../../../scripts/local/sandbox';
import {
  APPID, BASE_SECONDS, DAY_SECONDS, OTHER_APPID, OTHER_OPENID, OTHER_SECRET, USER_OPENID,
  accessToken, addCard, addOne, cardSignature, createCard, postApi, sandboxOptions, signedItem, ticket,
  type Json, type SignItem,
} from './card-helpers';

let sandbox: RunningWechatSandbox;

beforeAll(async () => {
  sandbox = await startWechatSandbox(sandboxOptions);
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => {
  sandbox.control.reset();
});

/** A token, a wx_card ticket and one card with the given base_info overrides. */
async function setUp(baseInfo: Json = {}): Promise<{ token: string; apiTicket: string; cardId: string }> {
  const token = await accessToken(sandbox);
  return { token, apiTicket: await ticket(sandbox, token), cardId: await createCard(sandbox, token, baseInfo) };
}

function items(body: Json): Json[] {
  return body.cardList as Json[];
}

describe('the test signer', () => {
  // wechatpy tests/test_utils.py test_wechat_card_signer: 789, 456, 123 → f7c3bc1d…
  it('reproduces the wechatpy golden vector, so the cardLists below are signed by the documented rule', () => {
    expect(cardSignature(['789', '456', '123'])).toBe('f7c3bc1d808e04732adf679965ccc34ca7ae3441');
  });
});

describe('POST /__sandbox/client/add-card', () => {
  it('verifies a correctly signed item, issues a 12-digit code and answers like wx.addCard', async () => {
    const { token, apiTicket, cardId } = await setUp();
    const item = signedItem({ cardId, apiTicket, outerStr: 'poster-7' });

    const { status, body } = await addCard(sandbox, [item]);

    expect(status).toBe(200);
    expect(body).toEqual({
      errMsg: 'addCard:ok',
      cardList: [{ cardId, code: expect.stringMatching(/^[A-Za-z0-9+/]{64}$/), cardExt: item.cardExt, isSuccess: true }],
    });
    const decrypted = await postApi(sandbox, 'card/code/decrypt', token, { encrypt_code: items(body)[0]?.code });
    expect(decrypted).toMatchObject({ errcode: 0, code: expect.stringMatching(/^\d{12}$/) });
    expect(sandbox.control.cards()[0]).toMatchObject({
      stockLeft: 99,
      codes: [{ code: decrypted.code, openid: USER_OPENID, status: 'NORMAL', outerStr: 'poster-7', receivedAtMs: BASE_SECONDS * 1000 }],
    });
  });

  it('adds several cards in one call, each with its own code', async () => {
    const { token, apiTicket, cardId } = await setUp();
    const secondCardId = await createCard(sandbox, token);

    const { body } = await addCard(sandbox, [signedItem({ cardId, apiTicket }), signedItem({ cardId: secondCardId, apiTicket }), signedItem({ cardId, apiTicket })]);

    expect(body.errMsg).toBe('addCard:ok');
    expect(items(body).map((item) => [item.cardId, item.isSuccess])).toEqual([[cardId, true], [secondCardId, true], [cardId, true]]);
    expect(new Set(items(body).map((item) => item.code)).size).toBe(3);
    expect(sandbox.control.cards().map((card) => [card.stockLeft, card.codes.length])).toEqual([[98, 2], [99, 1]]);
  });

  it('accepts a timestamp sent as a JSON number, signed as its digits', async () => {
    const { apiTicket, cardId } = await setUp();
    const signature = cardSignature([apiTicket, cardId, String(BASE_SECONDS), 'n-1']);
    const cardExt = JSON.stringify({ timestamp: BASE_SECONDS, nonce_str: 'n-1', signature });

    expect((await addCard(sandbox, [{ cardId, cardExt }])).body.errMsg).toBe('addCard:ok');
  });

  it('refuses a correctly signed cardExt whose timestamp is a quoted string, as wx.addCard does', async () => {
    const { apiTicket, cardId } = await setUp();

    const { body } = await addCard(sandbox, [signedItem({ cardId, apiTicket, timestamp: String(BASE_SECONDS) })]);

    expect(body.errMsg).toBe('addCard:fail cardList[0]: cardExt.timestamp must be a JSON number, not a quoted string');
    expect(sandbox.control.cards()[0]?.codes).toEqual([]);
  });

  it('accepts any wx_card ticket still valid, not only the newest', async () => {
    const { token, apiTicket, cardId } = await setUp();
    await ticket(sandbox, token);

    expect((await addCard(sandbox, [signedItem({ cardId, apiTicket })])).body.errMsg).toBe('addCard:ok');
  });

  it('accepts a changed outer_str, which is not signed', async () => {
    const { apiTicket, cardId } = await setUp();
    const item = signedItem({ cardId, apiTicket, outerStr: 'a' });
    const cardExt = item.cardExt.replace('"outer_str":"a"', '"outer_str":"b"');

    expect((await addCard(sandbox, [{ cardId, cardExt }])).body.errMsg).toBe('addCard:ok');
    expect(sandbox.control.cards()[0]?.codes[0]?.outerStr).toBe('b');
  });

  it('issues the given code for a custom-code card, once', async () => {
    const { token, apiTicket, cardId } = await setUp({ use_custom_code: true });

    const encryptCode = await addOne(sandbox, { cardId, apiTicket, code: 'VIP-0001' });
    const again = await addCard(sandbox, [signedItem({ cardId, apiTicket, code: 'VIP-0001' })], { openid: OTHER_OPENID });

    expect(await postApi(sandbox, 'card/code/decrypt', token, { encrypt_code: encryptCode })).toMatchObject({ code: 'VIP-0001' });
    expect(again.body.errMsg).toBe('addCard:fail cardList[0]: code VIP-0001 was already issued for this card');
  });

  it('issues a bind_openid card to the user whose openid was signed', async () => {
    const { apiTicket, cardId } = await setUp({ bind_openid: true });

    expect(await addOne(sandbox, { cardId, apiTicket, openid: USER_OPENID })).toEqual(expect.any(String));
    expect(sandbox.control.cards()[0]?.codes[0]?.openid).toBe(USER_OPENID);
  });

  it.each<{ case: string; baseInfo?: Json; item: (c: { apiTicket: string; jsapiTicket: string; cardId: string }) => SignItem | { cardId: unknown; cardExt: unknown }; reason: string }>([
    {
      case: "the doc's trailing-space api_ticket",
      item: ({ apiTicket, cardId }) => ({ cardId, apiTicket: `${apiTicket} ` }),
      reason: 'invalid signature (checked against every live wx_card api_ticket of the account)',
    },
    { case: 'the jsapi ticket instead of wx_card', item: ({ jsapiTicket, cardId }) => ({ cardId, apiTicket: jsapiTicket }), reason: 'invalid signature' },
    {
      case: 'an uppercase signature',
      item: ({ apiTicket, cardId }) => ({ cardId, apiTicket, nonceStr: 'n-up', signature: cardSignature([apiTicket, cardId, String(BASE_SECONDS), 'n-up']).toUpperCase() }),
      reason: 'invalid signature',
    },
    {
      case: 'values concatenated unsorted',
      item: ({ apiTicket, cardId }) => ({ cardId, apiTicket, nonceStr: 'n-uns', signature: sha1Hex(`${apiTicket}${cardId}${BASE_SECONDS}n-uns`) }),
      reason: 'invalid signature',
    },
    {
      case: 'a timestamp changed after signing',
      item: ({ apiTicket, cardId }) => tamper(signedItem({ cardId, apiTicket }), (ext) => ({ ...ext, timestamp: BASE_SECONDS + 1 })),
      reason: 'invalid signature',
    },
    {
      case: 'a card_id changed after signing',
      item: ({ apiTicket, cardId }) => ({ ...signedItem({ cardId: `${cardId.slice(0, -1)}${cardId.endsWith('X') ? 'Y' : 'X'}`, apiTicket }), cardId }),
      reason: 'invalid signature',
    },
    { case: 'a code on a card without use_custom_code', item: ({ apiTicket, cardId }) => ({ cardId, apiTicket, code: '123456789012' }), reason: 'code must not be sent for a card without use_custom_code' },
    { case: 'no code on a custom-code card', baseInfo: { use_custom_code: true }, item: ({ apiTicket, cardId }) => ({ cardId, apiTicket }), reason: 'code is required for a custom-code card' },
    { case: 'another user\'s openid on a bind_openid card', baseInfo: { bind_openid: true }, item: ({ apiTicket, cardId }) => ({ cardId, apiTicket, openid: OTHER_OPENID }), reason: 'the signed openid is not the adding user' },
    { case: 'no openid on a bind_openid card', baseInfo: { bind_openid: true }, item: ({ apiTicket, cardId }) => ({ cardId, apiTicket }), reason: 'openid is required for a bind_openid card' },
    { case: "another user's openid on an open card", item: ({ apiTicket, cardId }) => ({ cardId, apiTicket, openid: OTHER_OPENID }), reason: 'the signed openid is not the adding user' },
    { case: 'a nonce_str of 33 characters', item: ({ apiTicket, cardId }) => ({ cardId, apiTicket, nonceStr: 'n'.repeat(33) }), reason: 'cardExt.nonce_str is longer than 32 characters' },
    { case: 'a cardExt object instead of a JSON string', item: ({ apiTicket, cardId }) => ({ cardId, cardExt: JSON.parse(signedItem({ cardId, apiTicket }).cardExt) as unknown }), reason: 'an item must be {cardId: string, cardExt: string}' },
    { case: 'a cardExt that is not JSON', item: ({ cardId }) => ({ cardId, cardExt: '{timestamp:1}' }), reason: 'cardExt is not JSON' },
    { case: 'a cardExt without signature', item: ({ cardId }) => ({ cardId, cardExt: JSON.stringify({ timestamp: BASE_SECONDS }) }), reason: 'cardExt.signature is required' },
    { case: 'a cardExt without timestamp', item: ({ cardId }) => ({ cardId, cardExt: JSON.stringify({ signature: 'x' }) }), reason: 'cardExt.timestamp must be unix seconds' },
    { case: 'an unknown card', item: ({ apiTicket }) => ({ cardId: 'pUNKNOWNUNKNOWNUNKNOWNUNKNOWN', apiTicket }), reason: 'invalid card id (40073)' },
  ])('refuses $case', async ({ baseInfo, item, reason }) => {
    const { token, apiTicket, cardId } = await setUp(baseInfo);
    const jsapiTicket = await ticket(sandbox, token, 'jsapi');
    const built = item({ apiTicket, jsapiTicket, cardId });
    const listItem = 'apiTicket' in built ? signedItem(built) : built;

    const { status, body } = await addCard(sandbox, [listItem]);

    expect(status).toBe(200);
    expect(body).toEqual({
      errMsg: expect.stringContaining(`addCard:fail cardList[0]: ${reason}`),
      cardList: [{ cardId: listItem.cardId, cardExt: listItem.cardExt, isSuccess: false }],
    });
    expect(sandbox.control.cards().flatMap((card) => card.codes)).toEqual([]);
  });

  it('refuses a nonce_str the account has used before, even for another card and user', async () => {
    const { token, apiTicket, cardId } = await setUp();
    const otherCardId = await createCard(sandbox, token);
    await addOne(sandbox, { cardId, apiTicket, nonceStr: 'once-only' });

    const { body } = await addCard(sandbox, [signedItem({ cardId: otherCardId, apiTicket, nonceStr: 'once-only' })], { openid: OTHER_OPENID });

    expect(body.errMsg).toBe('addCard:fail cardList[0]: nonce_str once-only was already used for this account');
  });

  it('refuses a nonce_str repeated inside one cardList', async () => {
    const { apiTicket, cardId } = await setUp();

    const { body } = await addCard(sandbox, [signedItem({ cardId, apiTicket, nonceStr: 'same' }), signedItem({ cardId, apiTicket, nonceStr: 'same' })]);

    expect(body.errMsg).toBe('addCard:fail cardList[1]: nonce_str same was already used for this account');
  });

  it('lets another account use the same nonce_str', async () => {
    const { apiTicket, cardId } = await setUp();
    const otherToken = await accessToken(sandbox, OTHER_APPID, OTHER_SECRET);
    const other = { apiTicket: await ticket(sandbox, otherToken), cardId: await createCard(sandbox, otherToken) };
    await addOne(sandbox, { cardId, apiTicket, nonceStr: 'shared' });

    const { body } = await addCard(sandbox, [signedItem({ ...other, nonceStr: 'shared' })], { appid: OTHER_APPID });

    expect(body.errMsg).toBe('addCard:ok');
  });

  it("refuses a card of another account, signed with that account's ticket (40073)", async () => {
    await setUp();
    const otherToken = await accessToken(sandbox, OTHER_APPID, OTHER_SECRET);
    const otherCardId = await createCard(sandbox, otherToken);

    const { body } = await addCard(sandbox, [signedItem({ cardId: otherCardId, apiTicket: await ticket(sandbox, otherToken) })]);

    expect(body.errMsg).toBe('addCard:fail cardList[0]: invalid card id (40073)');
  });

  it('refuses a signature made with an expired ticket', async () => {
    const { apiTicket, cardId } = await setUp();
    sandbox.control.advanceClock(7_200_000);

    const { body } = await addCard(sandbox, [signedItem({ cardId, apiTicket })]);

    expect(body.errMsg).toMatch(/^addCard:fail cardList\[0\]: invalid signature/);
  });

  it("counts a fixed-term card from the cardExt's unsigned fixed_begintimestamp and stops at the card's hard end", async () => {
    const hardEnd = BASE_SECONDS + 20 * DAY_SECONDS;
    const { token, apiTicket, cardId } = await setUp({ date_info: { type: 'DATE_TYPE_FIX_TERM', fixed_term: 30, fixed_begin_term: 0, end_timestamp: hardEnd } });
    const beginAt = BASE_SECONDS - DAY_SECONDS;
    const encryptCode = await addOne(sandbox, { cardId, apiTicket, fixedBeginTimestamp: beginAt });
    const { code } = await postApi(sandbox, 'card/code/decrypt', token, { encrypt_code: encryptCode });

    expect(await postApi(sandbox, 'card/code/get', token, { code })).toMatchObject({ card: { begin_time: beginAt, end_time: hardEnd } });
    sandbox.control.advanceClock((20 * DAY_SECONDS + 1) * 1000);
    const late = await addCard(sandbox, [signedItem({ cardId, apiTicket: await ticket(sandbox, await accessToken(sandbox)) })], { openid: OTHER_OPENID });
    expect(late.body.errMsg).toBe('addCard:fail cardList[0]: invalid time (40079)');
  });

  it('refuses a card that is not approved (40078) and accepts it once approved', async () => {
    const { apiTicket, cardId } = await setUp();
    sandbox.control.setCardStatus({ card_id: cardId, status: 'CARD_STATUS_NOT_VERIFY' });

    const refused = await addCard(sandbox, [signedItem({ cardId, apiTicket })]);
    sandbox.control.setCardStatus({ card_id: cardId, status: 'CARD_STATUS_VERIFY_OK' });
    const accepted = await addCard(sandbox, [signedItem({ cardId, apiTicket })]);

    expect(refused.body.errMsg).toBe('addCard:fail cardList[0]: invalid card status (40078): CARD_STATUS_NOT_VERIFY');
    expect(accepted.body.errMsg).toBe('addCard:ok');
  });

  it("refuses a card past its date range's end (40079)", async () => {
    const { cardId } = await setUp({ date_info: { type: 'DATE_TYPE_FIX_TIME_RANGE', begin_timestamp: BASE_SECONDS, end_timestamp: BASE_SECONDS + DAY_SECONDS } });
    sandbox.control.advanceClock((DAY_SECONDS + 1) * 1000);
    const fresh = await ticket(sandbox, await accessToken(sandbox));

    const { body } = await addCard(sandbox, [signedItem({ cardId, apiTicket: fresh, timestamp: BASE_SECONDS + DAY_SECONDS + 1 })]);

    expect(body.errMsg).toBe('addCard:fail cardList[0]: invalid time (40079)');
  });

  it("refuses a user's card beyond get_limit (45033), earlier receipts and the same batch counted", async () => {
    const { apiTicket, cardId } = await setUp({ get_limit: 2 });
    await addOne(sandbox, { cardId, apiTicket });

    const { body } = await addCard(sandbox, [signedItem({ cardId, apiTicket }), signedItem({ cardId, apiTicket })]);
    const otherUser = await addCard(sandbox, [signedItem({ cardId, apiTicket }), signedItem({ cardId, apiTicket })], { openid: OTHER_OPENID });

    expect(body.errMsg).toBe('addCard:fail cardList[1]: user get card num is out of get_limit (45033)');
    expect(otherUser.body.errMsg).toBe('addCard:ok');
  });

  it('counts a consumed card against get_limit', async () => {
    const { token, apiTicket, cardId } = await setUp({ get_limit: 1 });
    const encryptCode = await addOne(sandbox, { cardId, apiTicket });
    const { code } = await postApi(sandbox, 'card/code/decrypt', token, { encrypt_code: encryptCode });
    await postApi(sandbox, 'card/code/consume', token, { code });

    expect((await addCard(sandbox, [signedItem({ cardId, apiTicket })])).body.errMsg).toBe('addCard:fail cardList[0]: user get card num is out of get_limit (45033)');
  });

  it('refuses a card out of stock (45031)', async () => {
    const { apiTicket, cardId } = await setUp({ sku: { quantity: 1 } });
    await addOne(sandbox, { cardId, apiTicket });

    const { body } = await addCard(sandbox, [signedItem({ cardId, apiTicket })], { openid: OTHER_OPENID });

    expect(body.errMsg).toBe('addCard:fail cardList[0]: stock is out of limit (45031)');
    expect(sandbox.control.cards()[0]?.stockLeft).toBe(0);
  });

  it('fails the whole batch when one item is bad: nothing issued, no stock taken, no nonce spent', async () => {
    const { apiTicket, cardId } = await setUp();
    const good = signedItem({ cardId, apiTicket, nonceStr: 'good-one' });
    const bad = signedItem({ cardId, apiTicket: `${apiTicket} ` });

    const { body } = await addCard(sandbox, [good, bad]);

    expect(body).toEqual({
      errMsg: expect.stringMatching(/^addCard:fail cardList\[1\]: invalid signature/),
      cardList: [
        { cardId, cardExt: good.cardExt, isSuccess: false },
        { cardId, cardExt: bad.cardExt, isSuccess: false },
      ],
    });
    expect(sandbox.control.cards()[0]).toMatchObject({ stockLeft: 100, codes: [] });
    expect((await addCard(sandbox, [good])).body.errMsg).toBe('addCard:ok');
  });

  it('names every bad item of a batch', async () => {
    const { apiTicket, cardId } = await setUp();

    const { body } = await addCard(sandbox, [signedItem({ cardId, apiTicket, code: '1' }), signedItem({ cardId, apiTicket }), 'junk']);

    expect(body.errMsg).toBe(
      'addCard:fail cardList[0]: code must not be sent for a card without use_custom_code; cardList[2]: an item must be {cardId: string, cardExt: string}',
    );
    expect(items(body).map((item) => item.isSuccess)).toEqual([false, false, false]);
  });

  it('refuses an empty cardList', async () => {
    expect((await addCard(sandbox, [])).body).toEqual({ errMsg: 'addCard:fail cardList is empty', cardList: [] });
  });
});

function tamper(item: { cardId: string; cardExt: string }, change: (ext: Json) => Json): { cardId: string; cardExt: string } {
  return { cardId: item.cardId, cardExt: JSON.stringify(change(JSON.parse(item.cardExt) as Json)) };
}

// Written out instead of cardSignature: this trap is precisely the missing sort.
function sha1Hex(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}
