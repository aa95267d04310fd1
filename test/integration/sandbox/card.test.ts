/**
 * The sandbox's card and media APIs over real HTTP (reference/wechat-api.md §3): uploadimg,
 * getcolors, card/create with WeChat's field rules, code/decrypt, code/get, code/consume, with
 * their errcodes, the access_token check on each, and the card control operations.
 */
import { startWechatSandbox, type RunningWechatSandbox } from '../../../scripts/local/sandbox';
import {
  APPID, BASE_SECONDS, DAY_SECONDS, JPEG_BYTES, OTHER_APPID, OTHER_SECRET, PNG_BYTES, USER_OPENID,
  accessToken, addCard, addOne, client, couponBody, createCard, postApi, sandboxOptions, signedItem, ticket, uploadImage, uploadLogo,
  type Json,
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

const MB = 1024 * 1024;

describe('POST /cgi-bin/media/uploadimg', () => {
  it.each([
    { case: 'a PNG in the card doc field "buffer"', bytes: PNG_BYTES, field: 'buffer' },
    { case: 'a JPG in wechatpy\'s field "media"', bytes: JPEG_BYTES, field: 'media' },
    { case: 'a JPG of exactly 1 MB', bytes: Buffer.concat([JPEG_BYTES, Buffer.alloc(MB - JPEG_BYTES.length)]), field: 'buffer' },
  ])('stores $case and answers its mmbiz URL alone', async ({ bytes, field }) => {
    const reply = await uploadImage(sandbox, await accessToken(sandbox), { bytes, field });

    expect(reply).toEqual({ url: expect.stringMatching(/^http:\/\/mmbiz\.qpic\.cn\/mmbiz\/[A-Za-z0-9_-]{20,}\/0$/) });
  });

  it.each([
    { case: 'a file over 1 MB', bytes: Buffer.concat([PNG_BYTES, Buffer.alloc(MB - PNG_BYTES.length + 1)]), field: 'buffer', errcode: 40009, errmsg: /^invalid image size rid: / },
    { case: 'a GIF', bytes: Buffer.from('GIF89a-not-allowed'), field: 'buffer', errcode: 40005, errmsg: /^invalid file type rid: / },
    { case: 'a PNG renamed from text', bytes: Buffer.from('hello, this is text'), field: 'buffer', errcode: 40005, errmsg: /^invalid file type rid: / },
    { case: 'an empty file', bytes: Buffer.alloc(0), field: 'buffer', errcode: 41005, errmsg: /^media data missing rid: / },
    { case: 'the file in another field', bytes: PNG_BYTES, field: 'file', errcode: 41005, errmsg: /^media data missing rid: / },
  ])('refuses $case with $errcode', async ({ bytes, field, errcode, errmsg }) => {
    const reply = await uploadImage(sandbox, await accessToken(sandbox), { bytes, field });

    expect(reply).toEqual({ errcode, errmsg: expect.stringMatching(errmsg) });
    expect(sandbox.state.images.size).toBe(0);
  });

  it('refuses a body that is not multipart with 41005', async () => {
    const token = await accessToken(sandbox);

    const reply = await postApi(sandbox, 'cgi-bin/media/uploadimg', token, { buffer: PNG_BYTES.toString('base64') });

    expect(reply).toMatchObject({ errcode: 41005 });
  });

  it('reads a hand-written multipart body with a quoted boundary and a text field before the file', async () => {
    const boundary = 'b0undary; with-semicolon';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="buffer"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`),
      PNG_BYTES,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);

    const reply = await client(sandbox)
      .post('cgi-bin/media/uploadimg', {
        searchParams: { access_token: await accessToken(sandbox) },
        headers: { 'content-type': `multipart/form-data; boundary="${boundary}"` },
        body,
      })
      .json<Json>();

    expect(reply).toEqual({ url: expect.any(String) });
    expect(sandbox.state.images.get(reply.url as string)).toMatchObject({ appid: APPID, sizeBytes: PNG_BYTES.length });
  });

  it('refuses a truncated multipart body with 41005', async () => {
    const body = Buffer.from('--xyz\r\nContent-Disposition: form-data; name="buffer"; filename="a.png"\r\n\r\n\x89PNG');

    const reply = await client(sandbox)
      .post('cgi-bin/media/uploadimg', {
        searchParams: { access_token: await accessToken(sandbox) },
        headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
        body,
      })
      .json<Json>();

    expect(reply).toMatchObject({ errcode: 41005 });
  });
});

describe('GET /card/getcolors', () => {
  it('lists the 14 card colours', async () => {
    const reply = await client(sandbox).get('card/getcolors', { searchParams: { access_token: await accessToken(sandbox) } }).json<Json>();

    expect(reply).toEqual({ errcode: 0, errmsg: 'ok', colors: expect.any(Array) });
    const colors = reply.colors as Array<{ name: string; value: string }>;
    expect(colors).toHaveLength(14);
    expect(colors[0]).toEqual({ name: 'Color010', value: '#63b359' });
    expect(colors.map((color) => color.name)).toEqual([
      'Color010', 'Color020', 'Color030', 'Color040', 'Color050', 'Color060', 'Color070',
      'Color080', 'Color081', 'Color082', 'Color090', 'Color100', 'Color101', 'Color102',
    ]);
  });
});

describe('POST /card/create', () => {
  it('answers a card_id of WeChat\'s shape and keeps the approved card with its stock', async () => {
    const token = await accessToken(sandbox);

    const reply = await postApi(sandbox, 'card/create', token, couponBody(await uploadLogo(sandbox, token)));

    expect(reply).toEqual({ errcode: 0, errmsg: 'ok', card_id: expect.stringMatching(/^p[A-Za-z0-9_-]{27}$/) });
    expect(sandbox.control.cards()).toEqual([
      expect.objectContaining({
        cardId: reply.card_id, appid: APPID, cardType: 'GENERAL_COUPON', title: '双人套餐券', status: 'CARD_STATUS_VERIFY_OK',
        useCustomCode: false, bindOpenid: false, getLimit: 50, quantity: 100, stockLeft: 100, codes: [],
      }),
    ]);
  });

  it.each([
    { case: 'a 9-character Chinese title', baseInfo: { title: '一二三四五六七八九' } },
    { case: 'timestamps as strings, as the doc asks', baseInfo: { date_info: { type: 'DATE_TYPE_FIX_TIME_RANGE', begin_timestamp: String(BASE_SECONDS), end_timestamp: String(BASE_SECONDS + DAY_SECONDS) } } },
    { case: 'a fixed term', baseInfo: { date_info: { type: 'DATE_TYPE_FIX_TERM', fixed_term: 30, fixed_begin_term: 0 } } },
    { case: 'custom code, bind_openid and get_limit', baseInfo: { use_custom_code: true, bind_openid: true, get_limit: 1, sub_title: '限时' } },
  ])('accepts $case', async ({ baseInfo }) => {
    const token = await accessToken(sandbox);

    const reply = await postApi(sandbox, 'card/create', token, couponBody(await uploadLogo(sandbox, token), baseInfo));

    expect(reply).toMatchObject({ errcode: 0, card_id: expect.any(String) });
  });

  it.each<{ case: string; baseInfo: Json; errcode: number; errmsg: RegExp }>([
    { case: 'a 10-character title', baseInfo: { title: '一二三四五六七八九十' }, errcode: 40053, errmsg: /^invalid action info: base_info\.title has 10 characters, at most 9 allowed rid: / },
    { case: 'a 10-letter Latin title (characters, not bytes, are counted)', baseInfo: { title: 'ABCDEFGHIJ' }, errcode: 40053, errmsg: /base_info\.title has 10 characters/ },
    { case: 'a 13-character brand_name', baseInfo: { brand_name: '一二三四五六七八九十一二三' }, errcode: 40053, errmsg: /base_info\.brand_name has 13 characters, at most 12/ },
    { case: 'a 17-character notice', baseInfo: { notice: '一'.repeat(17) }, errcode: 40053, errmsg: /base_info\.notice has 17 characters, at most 16/ },
    { case: 'a 1025-character description', baseInfo: { description: '说'.repeat(1025) }, errcode: 40053, errmsg: /base_info\.description has 1025 characters, at most 1024/ },
    { case: 'a 19-character sub_title', baseInfo: { sub_title: '副'.repeat(19) }, errcode: 40053, errmsg: /base_info\.sub_title has 19 characters, at most 18/ },
    { case: 'no title', baseInfo: { title: undefined }, errcode: 40053, errmsg: /base_info\.title is required/ },
    { case: 'no notice', baseInfo: { notice: undefined }, errcode: 40053, errmsg: /base_info\.notice is required/ },
    { case: 'no description', baseInfo: { description: '' }, errcode: 40053, errmsg: /base_info\.description is required/ },
    { case: 'no brand_name', baseInfo: { brand_name: undefined }, errcode: 40053, errmsg: /base_info\.brand_name is required/ },
    { case: 'no logo_url', baseInfo: { logo_url: undefined }, errcode: 40053, errmsg: /base_info\.logo_url is required/ },
    { case: 'a logo not uploaded here', baseInfo: { logo_url: 'http://mmbiz.qpic.cn/mmbiz/made-up/0' }, errcode: 40053, errmsg: /logo_url must be a URL returned by \/cgi-bin\/media\/uploadimg/ },
    { case: 'an unknown code_type', baseInfo: { code_type: 'CODE_TYPE_PDF417' }, errcode: 40053, errmsg: /base_info\.code_type must be one of/ },
    { case: 'a colour value instead of a name', baseInfo: { color: '#63b359' }, errcode: 40053, errmsg: /base_info\.color/ },
    { case: 'no sku', baseInfo: { sku: undefined }, errcode: 40053, errmsg: /base_info\.sku\.quantity must be an integer/ },
    { case: 'a quantity of 0', baseInfo: { sku: { quantity: 0 } }, errcode: 40122, errmsg: /^invalid card quantity: base_info\.sku\.quantity must be from 1 to 100000000 rid: / },
    { case: 'a quantity over 100000000', baseInfo: { sku: { quantity: 100_000_001 } }, errcode: 40122, errmsg: /sku\.quantity/ },
    { case: 'no date_info', baseInfo: { date_info: undefined }, errcode: 40053, errmsg: /base_info\.date_info is required/ },
    { case: 'an unknown date type', baseInfo: { date_info: { type: 'DATE_TYPE_FOREVER' } }, errcode: 40053, errmsg: /date_info\.type must be/ },
    { case: 'a permanent coupon', baseInfo: { date_info: { type: 'DATE_TYPE_PERMANENT' } }, errcode: 40053, errmsg: /DATE_TYPE_PERMANENT is for MEMBER_CARD only/ },
    { case: 'an end before the begin', baseInfo: { date_info: { type: 'DATE_TYPE_FIX_TIME_RANGE', begin_timestamp: BASE_SECONDS + 10, end_timestamp: BASE_SECONDS + 5 } }, errcode: 40079, errmsg: /^invalid time: / },
    { case: 'an end in the past', baseInfo: { date_info: { type: 'DATE_TYPE_FIX_TIME_RANGE', begin_timestamp: BASE_SECONDS - 20, end_timestamp: BASE_SECONDS - 10 } }, errcode: 40079, errmsg: /^invalid time: / },
    { case: 'a fixed term whose hard end has passed', baseInfo: { date_info: { type: 'DATE_TYPE_FIX_TERM', fixed_term: 5, end_timestamp: BASE_SECONDS - 1 } }, errcode: 40079, errmsg: /^invalid time: base_info\.date_info\.end_timestamp must be in the future rid: / },
    { case: 'a fixed term of 0 days', baseInfo: { date_info: { type: 'DATE_TYPE_FIX_TERM', fixed_term: 0 } }, errcode: 40053, errmsg: /fixed_term must be a positive integer/ },
    { case: 'a get_limit of 0', baseInfo: { get_limit: 0 }, errcode: 40053, errmsg: /get_limit must be a positive integer/ },
    { case: 'use_custom_code as a string', baseInfo: { use_custom_code: 'true' }, errcode: 40053, errmsg: /use_custom_code must be true or false/ },
  ])('refuses $case with $errcode and names the field', async ({ baseInfo, errcode, errmsg }) => {
    const token = await accessToken(sandbox);

    const reply = await postApi(sandbox, 'card/create', token, couponBody(await uploadLogo(sandbox, token), baseInfo));

    expect(reply).toEqual({ errcode, errmsg: expect.stringMatching(errmsg) });
    expect(sandbox.control.cards()).toEqual([]);
  });

  it.each<{ case: string; card: (logoUrl: string) => Json; errcode: number; errmsg: RegExp }>([
    { case: 'an unknown card_type', card: (logo) => ({ card_type: 'LUCKY_MONEY', lucky_money: { base_info: baseOf(couponBody(logo)) } }), errcode: 40071, errmsg: /^invalid card type: card_type must be one of GENERAL_COUPON/ },
    { case: 'no card_type', card: (logo) => ({ general_coupon: { base_info: baseOf(couponBody(logo)) } }), errcode: 40071, errmsg: /^invalid card type/ },
    { case: 'the type object under another key', card: (logo) => ({ card_type: 'CASH', general_coupon: { base_info: baseOf(couponBody(logo)) } }), errcode: 40053, errmsg: /card\.cash must be an object/ },
    { case: 'no base_info', card: () => ({ card_type: 'GENERAL_COUPON', general_coupon: { default_detail: 'x' } }), errcode: 40053, errmsg: /card\.general_coupon\.base_info must be an object/ },
    { case: 'a coupon without default_detail', card: (logo) => ({ card_type: 'GENERAL_COUPON', general_coupon: { base_info: baseOf(couponBody(logo)) } }), errcode: 40053, errmsg: /card\.general_coupon\.default_detail is required/ },
    { case: 'a cash card without reduce_cost', card: (logo) => ({ card_type: 'CASH', cash: { base_info: baseOf(couponBody(logo)), least_cost: 1000 } }), errcode: 40053, errmsg: /card\.cash\.reduce_cost \(fen\) must be a positive integer/ },
    { case: 'a discount of 100%', card: (logo) => ({ card_type: 'DISCOUNT', discount: { base_info: baseOf(couponBody(logo)), discount: 100 } }), errcode: 40053, errmsg: /card\.discount\.discount must be a percentage off from 1 to 99/ },
    { case: 'a gift card without gift', card: (logo) => ({ card_type: 'GIFT', gift: { base_info: baseOf(couponBody(logo)) } }), errcode: 40053, errmsg: /card\.gift\.gift is required/ },
  ])('refuses $case with $errcode', async ({ card, errcode, errmsg }) => {
    const token = await accessToken(sandbox);

    const reply = await postApi(sandbox, 'card/create', token, { card: card(await uploadLogo(sandbox, token)) });

    expect(reply).toEqual({ errcode, errmsg: expect.stringMatching(errmsg) });
  });

  it.each([
    { case: 'a cash card', card_type: 'CASH', extra: { least_cost: 10000, reduce_cost: 1000 } },
    { case: 'a discount card', card_type: 'DISCOUNT', extra: { discount: 30 } },
    { case: 'a meeting ticket', card_type: 'MEETING_TICKET', extra: { meeting_detail: '2025 年会，广州' } },
    { case: 'a scenic ticket', card_type: 'SCENIC_TICKET', extra: { ticket_class: '成人票' } },
    { case: 'a member card valid forever', card_type: 'MEMBER_CARD', extra: { prerogative: '会员九折' }, dateInfo: { type: 'DATE_TYPE_PERMANENT' } },
  ])('creates $case', async ({ card_type, extra, dateInfo }) => {
    const token = await accessToken(sandbox);
    const base = baseOf(couponBody(await uploadLogo(sandbox, token), dateInfo === undefined ? {} : { date_info: dateInfo }));

    const reply = await postApi(sandbox, 'card/create', token, { card: { card_type, [card_type.toLowerCase()]: { base_info: base, ...extra } } });

    expect(reply).toMatchObject({ errcode: 0 });
    expect(sandbox.control.cards()[0]?.cardType).toBe(card_type);
  });

  it.each([
    { case: 'a body that is not JSON', body: '{card:', errcode: 47001 },
    { case: 'a body without card', body: '{}', errcode: 40053 },
  ])('refuses $case with $errcode', async ({ body, errcode }) => {
    const reply = await client(sandbox)
      .post('card/create', { searchParams: { access_token: await accessToken(sandbox) }, body, headers: { 'content-type': 'application/json' } })
      .json<Json>();

    expect(reply).toMatchObject({ errcode });
  });
});

describe('access_token on every card endpoint', () => {
  const endpoints = [
    { path: 'card/create', method: 'POST' as const },
    { path: 'card/getcolors', method: 'GET' as const },
    { path: 'card/code/decrypt', method: 'POST' as const },
    { path: 'card/code/get', method: 'POST' as const },
    { path: 'card/code/consume', method: 'POST' as const },
    { path: 'cgi-bin/media/uploadimg', method: 'POST' as const },
  ];

  it.each(endpoints.flatMap(({ path, method }) => [
    { case: `${path} without a token`, path, method, query: {}, errcode: 41001 },
    { case: `${path} with a forged token`, path, method, query: { access_token: 'forged' }, errcode: 40001 },
  ]))('refuses $case', async ({ path, method, query, errcode }) => {
    const reply = await client(sandbox)(path, { method, searchParams: query, ...(method === 'POST' ? { json: {} } : {}) }).json<Json>();

    expect(reply).toMatchObject({ errcode });
  });

  it.each(endpoints)('refuses an expired token on $path with 42001', async ({ path, method }) => {
    const token = await accessToken(sandbox);
    sandbox.control.expireTokens(APPID);

    const reply = await client(sandbox)(path, { method, searchParams: { access_token: token }, ...(method === 'POST' ? { json: {} } : {}) }).json<Json>();

    expect(reply).toMatchObject({ errcode: 42001 });
  });

  it.each(endpoints.filter(({ method }) => method === 'POST'))('requires POST on $path (43002)', async ({ path }) => {
    const reply = await client(sandbox).get(path, { searchParams: { access_token: await accessToken(sandbox) } }).json<Json>();

    expect(reply).toMatchObject({ errcode: 43002 });
  });
});

describe('POST /card/code/decrypt', () => {
  it('maps the encrypt_code wx.addCard returned to the real 12-digit code', async () => {
    const token = await accessToken(sandbox);
    const cardId = await createCard(sandbox, token);
    const encryptCode = await addOne(sandbox, { cardId, apiTicket: await ticket(sandbox, token) });

    const reply = await postApi(sandbox, 'card/code/decrypt', token, { encrypt_code: encryptCode });

    expect(reply).toEqual({ errcode: 0, errmsg: 'ok', code: expect.stringMatching(/^\d{12}$/) });
    expect(sandbox.control.cards()[0]?.codes.map((code) => code.code)).toEqual([reply.code]);
  });

  it.each([
    { case: 'a garbled encrypt_code', encrypt: (real: string) => `${real.slice(0, -2)}AA` },
    { case: 'the real code instead', encrypt: () => '123456789012' },
    { case: 'no encrypt_code', encrypt: () => undefined },
  ])('refuses $case with 40075', async ({ encrypt }) => {
    const token = await accessToken(sandbox);
    const cardId = await createCard(sandbox, token);
    const encryptCode = await addOne(sandbox, { cardId, apiTicket: await ticket(sandbox, token) });

    const reply = await postApi(sandbox, 'card/code/decrypt', token, { encrypt_code: encrypt(encryptCode) });

    expect(reply).toEqual({ errcode: 40075, errmsg: expect.stringMatching(/^invalid encrypt code rid: /) });
  });

  it("refuses another account's encrypt_code with 40075", async () => {
    const token = await accessToken(sandbox);
    const cardId = await createCard(sandbox, token);
    const encryptCode = await addOne(sandbox, { cardId, apiTicket: await ticket(sandbox, token) });

    const reply = await postApi(sandbox, 'card/code/decrypt', await accessToken(sandbox, OTHER_APPID, OTHER_SECRET), { encrypt_code: encryptCode });

    expect(reply).toMatchObject({ errcode: 40075 });
  });
});

/** A card, one user card of it and the real code. */
async function issuedCode(baseInfo: Json = {}, item: { code?: string; outerStr?: string } = {}): Promise<{ token: string; cardId: string; code: string }> {
  const token = await accessToken(sandbox);
  const cardId = await createCard(sandbox, token, baseInfo);
  const encryptCode = await addOne(sandbox, { cardId, apiTicket: await ticket(sandbox, token), ...item });
  const decrypted = await postApi(sandbox, 'card/code/decrypt', token, { encrypt_code: encryptCode });
  return { token, cardId, code: decrypted.code as string };
}

describe('POST /card/code/get', () => {
  it('describes a fresh code: its card and validity, owner, consumability and channel', async () => {
    const { token, cardId, code } = await issuedCode({}, { outerStr: 'poster-7' });

    const reply = await postApi(sandbox, 'card/code/get', token, { code, check_consume: true });

    expect(reply).toEqual({
      errcode: 0,
      errmsg: 'ok',
      card: { card_id: cardId, begin_time: BASE_SECONDS - DAY_SECONDS, end_time: BASE_SECONDS + 30 * DAY_SECONDS },
      openid: USER_OPENID,
      can_consume: true,
      user_card_status: 'NORMAL',
      outer_str: 'poster-7',
    });
  });

  it('counts a fixed-term validity from the receive time and reports a card not yet begun as not consumable', async () => {
    const { token, code } = await issuedCode({ date_info: { type: 'DATE_TYPE_FIX_TERM', fixed_term: 10, fixed_begin_term: 1 } });

    const reply = await postApi(sandbox, 'card/code/get', token, { code });

    expect(reply).toMatchObject({
      card: { begin_time: BASE_SECONDS + DAY_SECONDS, end_time: BASE_SECONDS + 11 * DAY_SECONDS },
      can_consume: false,
      user_card_status: 'NORMAL',
    });
  });

  it('finds a custom code only with its card_id', async () => {
    const { token, cardId } = await issuedCode({ use_custom_code: true }, { code: 'CUSTOM-0001' });

    expect(await postApi(sandbox, 'card/code/get', token, { code: 'CUSTOM-0001' })).toMatchObject({ errcode: 40056 });
    expect(await postApi(sandbox, 'card/code/get', token, { code: 'CUSTOM-0001', card_id: cardId })).toMatchObject({ errcode: 0, openid: USER_OPENID });
  });

  it.each([
    { case: 'an unknown code', body: (code: string) => ({ code: `${code}9` }), errcode: 40056, errmsg: /^invalid serial code rid: / },
    { case: 'no code', body: () => ({}), errcode: 40056, errmsg: /^invalid serial code rid: / },
    { case: 'an unknown card_id', body: (code: string) => ({ code, card_id: 'pFAKEFAKEFAKEFAKEFAKEFAKEFAKE' }), errcode: 40073, errmsg: /^invalid card id rid: / },
    { case: 'a non-boolean check_consume', body: (code: string) => ({ code, check_consume: 'yes' }), errcode: 40097, errmsg: /^invalid args rid: / },
  ])('refuses $case with $errcode', async ({ body, errcode, errmsg }) => {
    const { token, code } = await issuedCode();

    expect(await postApi(sandbox, 'card/code/get', token, body(code))).toEqual({ errcode, errmsg: expect.stringMatching(errmsg) });
  });

  it('refuses a code of another card of the account with 40056', async () => {
    const { token, code } = await issuedCode();
    const otherCardId = await createCard(sandbox, token);

    expect(await postApi(sandbox, 'card/code/get', token, { code, card_id: otherCardId })).toMatchObject({ errcode: 40056 });
  });

  it("answers another account's code as unknown (40056)", async () => {
    const { code } = await issuedCode();

    const reply = await postApi(sandbox, 'card/code/get', await accessToken(sandbox, OTHER_APPID, OTHER_SECRET), { code });

    expect(reply).toMatchObject({ errcode: 40056 });
  });

  it.each([
    { case: 'consumed', act: (token: string, code: string) => postApi(sandbox, 'card/code/consume', token, { code }), status: 'CONSUMED', errcode: 40099, errmsg: /^invalid code, this code has consumed\. rid: / },
    { case: 'deleted by the user', act: (_token: string, code: string, cardId: string) => Promise.resolve(sandbox.control.deleteCard({ appid: APPID, openid: USER_OPENID, cardId, code })), status: 'DELETE', errcode: 40127, errmsg: /^invalid user-card status! / },
    { case: 'expired', act: () => Promise.resolve(sandbox.control.advanceClock((30 * DAY_SECONDS + 1) * 1000)), status: 'EXPIRE', errcode: 40127, errmsg: /^invalid user-card status! / },
  ])('refuses a $case code with $errcode when check_consume is true or left out, and describes it otherwise', async ({ act, status, errcode, errmsg }) => {
    const issued = await issuedCode();
    await act(issued.token, issued.code, issued.cardId);
    // Days later the morning's token has expired: take the current one.
    const token = await accessToken(sandbox);
    const { code } = issued;

    expect(await postApi(sandbox, 'card/code/get', token, { code, check_consume: true })).toEqual({ errcode, errmsg: expect.stringMatching(errmsg) });
    expect(await postApi(sandbox, 'card/code/get', token, { code })).toMatchObject({ errcode });
    expect(await postApi(sandbox, 'card/code/get', token, { code, check_consume: false })).toMatchObject({
      errcode: 0,
      user_card_status: status,
      can_consume: false,
    });
  });
});

describe('POST /card/code/consume', () => {
  it('consumes once and records which account consumed it and when', async () => {
    const { token, cardId, code } = await issuedCode();
    sandbox.control.advanceClock(60_000);

    const reply = await postApi(sandbox, 'card/code/consume', token, { code });

    expect(reply).toEqual({ errcode: 0, errmsg: 'ok', card: { card_id: cardId }, openid: USER_OPENID });
    expect(sandbox.control.cards()[0]?.codes).toEqual([
      expect.objectContaining({ code, openid: USER_OPENID, status: 'CONSUMED', consumedAtMs: BASE_SECONDS * 1000 + 60_000, consumedByAppid: APPID }),
    ]);
  });

  it('refuses a second consume with 40099 and keeps the first record', async () => {
    const { token, code } = await issuedCode();
    await postApi(sandbox, 'card/code/consume', token, { code });
    sandbox.control.advanceClock(60_000);

    const reply = await postApi(sandbox, 'card/code/consume', token, { code });

    expect(reply).toEqual({ errcode: 40099, errmsg: expect.stringMatching(/^invalid code, this code has consumed\. rid: /) });
    expect(sandbox.control.cards()[0]?.codes[0]?.consumedAtMs).toBe(BASE_SECONDS * 1000);
  });

  it('consumes a custom code only with its card_id', async () => {
    const { token, cardId } = await issuedCode({ use_custom_code: true }, { code: 'VIP-42' });

    expect(await postApi(sandbox, 'card/code/consume', token, { code: 'VIP-42' })).toMatchObject({ errcode: 40056 });
    expect(await postApi(sandbox, 'card/code/consume', token, { code: 'VIP-42', card_id: cardId })).toMatchObject({ errcode: 0, card: { card_id: cardId } });
  });

  it.each([
    { case: 'an unknown code', setUp: () => Promise.resolve(), body: (code: string) => ({ code: code.replace(/.$/, (d) => String((Number(d) + 1) % 10)) }), errcode: 40056 },
    { case: 'a deleted code', setUp: (cardId: string, code: string) => Promise.resolve(sandbox.control.deleteCard({ appid: APPID, openid: USER_OPENID, cardId, code })), body: (code: string) => ({ code }), errcode: 40127 },
    { case: 'an expired code', setUp: () => Promise.resolve(sandbox.control.advanceClock((30 * DAY_SECONDS + 1) * 1000)), body: (code: string) => ({ code }), errcode: 40127 },
  ])('refuses $case with $errcode', async ({ setUp, body, errcode }) => {
    const { cardId, code } = await issuedCode();
    await setUp(cardId, code);

    expect(await postApi(sandbox, 'card/code/consume', await accessToken(sandbox), body(code))).toMatchObject({ errcode });
    expect(sandbox.control.cards()[0]?.codes[0]?.consumedAtMs).toBeUndefined();
  });

  it('refuses a fixed-term card before its begin with 40079, and consumes it once begun', async () => {
    const { token, code } = await issuedCode({ date_info: { type: 'DATE_TYPE_FIX_TERM', fixed_term: 10, fixed_begin_term: 1 } });

    expect(await postApi(sandbox, 'card/code/consume', token, { code })).toMatchObject({ errcode: 40079 });
    sandbox.control.advanceClock(DAY_SECONDS * 1000);
    expect(await postApi(sandbox, 'card/code/consume', await accessToken(sandbox), { code })).toMatchObject({ errcode: 0 });
  });

  it("refuses another account's code as unknown (40056)", async () => {
    const { code } = await issuedCode();

    const reply = await postApi(sandbox, 'card/code/consume', await accessToken(sandbox, OTHER_APPID, OTHER_SECRET), { code });

    expect(reply).toMatchObject({ errcode: 40056 });
  });
});

describe('stats and faults on card endpoints', () => {
  it('counts card calls and their errors like any WeChat endpoint', async () => {
    const { token, code } = await issuedCode();
    sandbox.control.resetStats();
    await postApi(sandbox, 'card/code/consume', token, { code });
    await postApi(sandbox, 'card/code/consume', token, { code });

    expect(sandbox.control.stats()).toEqual({
      calls: { '/card/code/consume': 2 },
      detail: { '/card/code/consume': 2 },
      errors: { '/card/code/consume': { '40099': 1 } },
    });
  });

  it('applies an injected fault to a card endpoint before normal handling', async () => {
    const { token, code } = await issuedCode();
    sandbox.control.addFault({ path: '/card/code/consume', errcode: -1 });

    expect(await postApi(sandbox, 'card/code/consume', token, { code })).toMatchObject({ errcode: -1 });
    expect(sandbox.control.cards()[0]?.codes[0]?.status).toBe('NORMAL');
    expect(await postApi(sandbox, 'card/code/consume', token, { code })).toMatchObject({ errcode: 0 });
  });
});

describe('card control operations', () => {
  it('lists cards over HTTP, filtered by account', async () => {
    const { cardId, code } = await issuedCode();
    const otherToken = await accessToken(sandbox, OTHER_APPID, OTHER_SECRET);
    await createCard(sandbox, otherToken);

    const all = await client(sandbox).get('__sandbox/cards').json<{ cards: Json[] }>();
    const mine = await client(sandbox).get('__sandbox/cards', { searchParams: { appid: APPID } }).json<{ cards: Json[] }>();

    expect(all.cards).toHaveLength(2);
    expect(mine.cards).toEqual([
      expect.objectContaining({
        cardId, appid: APPID, stockLeft: 99, quantity: 100,
        codes: [{ code, openid: USER_OPENID, status: 'NORMAL', outerStr: '', receivedAtMs: BASE_SECONDS * 1000, beginTimestamp: BASE_SECONDS - DAY_SECONDS, endTimestamp: BASE_SECONDS + 30 * DAY_SECONDS }],
      }),
    ]);
  });

  it('changes a card status over HTTP', async () => {
    const token = await accessToken(sandbox);
    const cardId = await createCard(sandbox, token);

    const response = await client(sandbox).post('__sandbox/cards/status', { json: { card_id: cardId, status: 'CARD_STATUS_NOT_VERIFY' } });

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ cardId, status: 'CARD_STATUS_NOT_VERIFY' });
  });

  it('forgets images, cards, codes and nonces on reset', async () => {
    const { token, cardId } = await issuedCode();
    const apiTicket = await ticket(sandbox, token);
    await addOne(sandbox, { cardId, apiTicket, nonceStr: 'kept-nonce' });

    sandbox.control.reset();

    expect(sandbox.control.cards()).toEqual([]);
    expect(sandbox.state.images.size).toBe(0);
    expect(sandbox.state.cards.usedNonces.size).toBe(0);
  });

  it.each([
    { case: 'an unknown card', path: 'cards/status', json: { card_id: 'pNOPE', status: 'CARD_STATUS_VERIFY_OK' }, error: /pNOPE/ },
    { case: 'an unknown status', path: 'cards/status', json: { card_id: 'x', status: 'APPROVED' }, error: /x is not a sandbox card|status/ },
    { case: 'a misspelt field', path: 'cards/status', json: { cardId: 'x', status: 'CARD_STATUS_VERIFY_OK' }, error: /unknown field\(s\) cardId/ },
    { case: 'an unknown appid', path: 'client/add-card', json: { appid: 'wx-nobody', openid: USER_OPENID, cardList: [] }, error: /wx-nobody/ },
    { case: 'no openid', path: 'client/add-card', json: { appid: APPID, cardList: [] }, error: /openid/ },
    { case: 'a cardList that is not a list', path: 'client/add-card', json: { appid: APPID, openid: USER_OPENID, cardList: '[]' }, error: /cardList must be an array/ },
    { case: 'a delete of a code the user does not have', path: 'client/delete-card', json: { appid: APPID, openid: USER_OPENID, cardId: 'pNOPE', code: '1' }, error: /has no card pNOPE/ },
  ])('answers $case with 400', async ({ path, json, error }) => {
    const response = await client(sandbox).post(`__sandbox/${path}`, { json });

    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toEqual({ error: expect.stringMatching(error) });
  });

  it('refuses to delete a card of another user, and a card deleted already', async () => {
    const { cardId, code } = await issuedCode();

    expect(() => sandbox.control.deleteCard({ appid: APPID, openid: 'o-someone-else', cardId, code })).toThrow(/has no card/);
    sandbox.control.deleteCard({ appid: APPID, openid: USER_OPENID, cardId, code });
    expect(() => sandbox.control.deleteCard({ appid: APPID, openid: USER_OPENID, cardId, code })).toThrow(/is DELETE/);
  });

  it('refuses an add-card for an unknown account before any check', async () => {
    expect((await addCard(sandbox, [signedItem({ cardId: 'p', apiTicket: 't' })], { appid: 'wx-nobody' })).status).toBe(400);
  });
});

function baseOf(body: Json): Json {
  return ((body.card as Json).general_coupon as Json).base_info as Json;
}
