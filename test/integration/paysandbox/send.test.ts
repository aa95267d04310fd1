/**
 * sendredpack and sendminiprogramhb over real mutual TLS: validation, signatures, idempotency on
 * mch_billno, balance, per-user limits, the rate limit, and concurrency.
 */
import type { TestCertificates } from '../../../scripts/local/certs';
import { PayErrCode, payV2Sign } from '../../../scripts/local/paysandbox';
import {
  API_KEY, BASE_MS, INITIAL_BALANCE_FEN, MCH_ID, MP_APPID, MP_OPENID, OA_APPID, OA_OPENID, SENDMINIPROGRAMHB_PATH, SENDREDPACK_PATH,
  callPay, cashFields, miniProgramFields, p12Of, parseReply, postRaw, startTestPaySandbox, testCertificates, toXml,
  type ClientCert, type TestPaySandbox,
} from './pay-client';

let certs: TestCertificates;
let cert: ClientCert;
let test: TestPaySandbox;

beforeAll(async () => {
  certs = (await testCertificates()).main;
  cert = p12Of(certs);
  test = await startTestPaySandbox(certs);
});
afterAll(async () => {
  await test.close();
});
beforeEach(() => {
  test.sandbox.control.reset();
});

const sendCash = (fields: Record<string, string>) => callPay(test, SENDREDPACK_PATH, fields, cert);
const sendMini = (fields: Record<string, string>) => callPay(test, SENDMINIPROGRAMHB_PATH, fields, cert);
const balanceFen = () => test.sandbox.control.merchants().find((merchant) => merchant.mchId === MCH_ID)?.balanceFen;

describe('a valid send', () => {
  it('pays a cash packet: the full reply, one ledger entry, one debit', async () => {
    const reply = await sendCash(cashFields('CASH000000001'));

    expect(reply).toEqual({
      return_code: 'SUCCESS', return_msg: '发放成功', result_code: 'SUCCESS', err_code: 'SUCCESS', err_code_des: '发放成功',
      mch_billno: 'CASH000000001', mch_id: MCH_ID, wxappid: OA_APPID, re_openid: OA_OPENID, total_amount: '1000',
      send_listid: expect.stringMatching(/^[0-9]{30}$/),
    });
    expect(test.sandbox.control.ledger()).toEqual([{
      mchBillno: 'CASH000000001', mchId: MCH_ID, kind: 'cash', appid: OA_APPID, openid: OA_OPENID, amountFen: 1000, status: 'SENT',
      sendListid: reply.send_listid, createdAtMs: BASE_MS, sentAtMs: BASE_MS, receivedAtMs: null, refundedAtMs: null,
    }]);
    expect(balanceFen()).toBe(INITIAL_BALANCE_FEN - 1000);
  });

  it('pays a mini-program packet and returns its package for wx.sendBizRedPacket', async () => {
    const reply = await sendMini(miniProgramFields('MINI000000001'));

    expect(reply).toMatchObject({ result_code: 'SUCCESS', wxappid: MP_APPID, re_openid: MP_OPENID, total_amount: '1000' });
    expect(reply.package).toMatch(new RegExp(`^sendid=[0-9a-f]{64}&ver=8&sign=[0-9a-f]{128}&mchid=${MCH_ID}&appid=${MP_APPID}$`));
    expect(test.sandbox.control.ledger()).toMatchObject([{ mchBillno: 'MINI000000001', kind: 'miniProgram', status: 'SENT' }]);
  });

  it.each([
    { case: 'MD5 (no sign_type)', signType: 'MD5' as const },
    { case: 'HMAC-SHA256', signType: 'HMAC-SHA256' as const },
  ])('verifies a $case signature', async ({ signType }) => {
    const reply = await callPay(test, SENDREDPACK_PATH, cashFields('SIGN000000001'), cert, { signType });

    expect(reply.result_code).toBe('SUCCESS');
  });

  it('accepts a scene_id packet outside 1–200 元', async () => {
    const reply = await sendCash(cashFields('SCENE00000001', { total_amount: '50', scene_id: 'PRODUCT_2' }));

    expect(reply).toMatchObject({ result_code: 'SUCCESS', total_amount: '50' });
  });
});

describe('refusals', () => {
  it.each([
    { case: 'a wrong signature', fields: () => ({ ...cashFields('BAD000000001'), sign: 'F'.repeat(32) }), errCode: 'SIGN_ERROR' },
    { case: 'a lowercase signature', fields: () => lower(signedFields(cashFields('BAD000000002'))), errCode: 'SIGN_ERROR' },
    { case: 'a signature made with another key', fields: () => signedFields(cashFields('BAD000000003'), 'X'.repeat(32)), errCode: 'SIGN_ERROR' },
    { case: 'a field changed after signing', fields: () => ({ ...signedFields(cashFields('BAD000000004')), total_amount: '2000' }), errCode: 'SIGN_ERROR' },
    { case: 'an unknown sign_type', fields: () => signedFields({ ...cashFields('BAD000000005'), sign_type: 'SHA1' }), errCode: 'SIGN_ERROR' },
    { case: 'no sign', fields: () => cashFields('BAD000000006'), errCode: 'SIGN_ERROR' },
  ])('answers $errCode for $case', async ({ fields, errCode }) => {
    const { text } = await postRaw(test.sandbox.url, SENDREDPACK_PATH, toXml(fields()), cert, test.caPem);

    expect(await parseReply(text)).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: errCode });
    expect(test.sandbox.control.ledger()).toEqual([]);
  });

  it.each([
    { case: 'a missing re_openid', fields: cashFields('P1', { re_openid: '' }), errCode: 'PARAM_ERROR', des: /re_openid/ },
    { case: 'a missing client_ip on sendredpack', fields: cashFields('P2', { client_ip: '' }), errCode: 'PARAM_ERROR', des: /client_ip/ },
    { case: 'a malformed client_ip', fields: cashFields('P3', { client_ip: '1.2.3' }), errCode: 'PARAM_ERROR', des: /client_ip/ },
    { case: 'a mch_billno of 29 characters', fields: cashFields('A'.repeat(29)), errCode: 'PARAM_ERROR', des: /mch_billno/ },
    { case: 'a mch_billno with a dash', fields: cashFields('ABC-123'), errCode: 'PARAM_ERROR', des: /mch_billno/ },
    { case: 'a send_name of 33 characters', fields: cashFields('P4', { send_name: '名'.repeat(33) }), errCode: 'PARAM_ERROR', des: /send_name/ },
    { case: 'a wishing of 129 characters', fields: cashFields('P5', { wishing: 'w'.repeat(129) }), errCode: 'PARAM_ERROR', des: /wishing/ },
    { case: 'a remark of 257 characters', fields: cashFields('P6', { remark: 'r'.repeat(257) }), errCode: 'PARAM_ERROR', des: /remark/ },
    { case: 'an act_name of 33 characters', fields: cashFields('P7', { act_name: 'a'.repeat(33) }), errCode: 'PARAM_ERROR', des: /act_name/ },
    { case: 'a nonce_str of 33 characters', fields: cashFields('P8', { nonce_str: 'n'.repeat(33) }), errCode: 'PARAM_ERROR', des: /nonce_str/ },
    { case: 'total_num 2', fields: cashFields('P9', { total_num: '2' }), errCode: 'PARAM_ERROR', des: /total_num/ },
    { case: 'an amount in yuan', fields: cashFields('P10', { total_amount: '10.00' }), errCode: 'PARAM_ERROR', des: /total_amount/ },
    { case: 'an unknown scene_id', fields: cashFields('P11', { scene_id: 'PRODUCT_9' }), errCode: 'PARAM_ERROR', des: /scene_id/ },
    { case: '99 fen without scene_id', fields: cashFields('M1', { total_amount: '99' }), errCode: 'MONEY_LIMIT', des: /1元到200元/ },
    { case: '200.01 元 without scene_id', fields: cashFields('M2', { total_amount: '20001' }), errCode: 'MONEY_LIMIT', des: /1元到200元/ },
    { case: 'a mini-program appid on sendredpack', fields: cashFields('A1', { wxappid: MP_APPID }), errCode: 'ILLEGAL_APPID', des: /公众号/ },
    { case: 'an appid not bound to the merchant', fields: cashFields('A2', { wxappid: 'wx0c00000000000zz9' }), errCode: 'ILLEGAL_APPID', des: /未与商户号绑定/ },
    { case: 'an openid that is not an openid', fields: cashFields('O1', { re_openid: 'not-an-openid' }), errCode: 'OPENID_ERROR', des: /openid/ },
    { case: 'an unknown mch_id', fields: cashFields('U1', { mch_id: '1900000999' }), errCode: 'CA_ERROR', des: /证书/ },
  ])('answers $errCode for $case, paying nothing', async ({ fields, errCode, des }) => {
    const reply = await sendCash(fields);

    expect(reply).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: errCode, mch_billno: fields.mch_billno });
    expect(reply.err_code_des).toMatch(des);
    expect(test.sandbox.control.ledger()).toEqual([]);
    expect(balanceFen()).toBe(INITIAL_BALANCE_FEN);
  });

  it.each([
    { case: 'an official-account appid', fields: miniProgramFields('MA1', { wxappid: OA_APPID, re_openid: OA_OPENID }), errCode: 'ILLEGAL_APPID' },
    { case: 'no notify_way', fields: miniProgramFields('MA2', { notify_way: '' }), errCode: 'PARAM_ERROR' },
    { case: 'another notify_way', fields: miniProgramFields('MA3', { notify_way: 'JSAPI' }), errCode: 'PARAM_ERROR' },
  ])('answers $errCode on sendminiprogramhb for $case', async ({ fields, errCode }) => {
    expect(await sendMini(fields)).toMatchObject({ result_code: 'FAIL', err_code: errCode });
  });

  it('answers OPENID_ERROR for an openid of the mini-program sent under the official account', async () => {
    await sendMini(miniProgramFields('OWN000000001'));

    const reply = await sendCash(cashFields('OWN000000002', { re_openid: MP_OPENID }));

    expect(reply.err_code).toBe('OPENID_ERROR');
  });

  it.each([
    { case: 'not XML', body: 'total_amount=1000' },
    { case: 'an empty body', body: '' },
    { case: 'a DOCTYPE with an entity', body: '<!DOCTYPE xml [<!ENTITY x "1000">]><xml><total_amount>&x;</total_amount></xml>' },
    { case: 'a duplicated field', body: '<xml><mch_id>1</mch_id><mch_id>2</mch_id></xml>' },
    { case: 'a nested field', body: '<xml><mch_id><a>1</a></mch_id></xml>' },
    { case: 'another root', body: '<root><mch_id>1</mch_id></root>' },
  ])('answers return_code FAIL for $case', async ({ body }) => {
    const { text } = await postRaw(test.sandbox.url, SENDREDPACK_PATH, body, cert, test.caPem);

    const reply = await parseReply(text);
    expect(reply.return_code).toBe('FAIL');
    expect(reply.return_msg).toMatch(/XML|post数据为空/);
    expect(reply.err_code).toBeUndefined();
    expect(test.sandbox.control.stats().replies).toEqual({ [SENDREDPACK_PATH]: { XML_ERROR: 1 } });
  });

  it('auto-registers nothing when autoRegisterUsers is false, until the control API registers the user', async () => {
    const strict = await startTestPaySandbox(certs, { autoRegisterUsers: false });
    try {
      const send = () => callPay(strict, SENDREDPACK_PATH, cashFields('STRICT0000001'), cert);
      expect((await send()).err_code).toBe('OPENID_ERROR');

      strict.sandbox.control.registerUser({ appid: OA_APPID, openid: OA_OPENID });

      expect((await send()).result_code).toBe('SUCCESS');
    } finally {
      await strict.close();
    }
  });
});

describe('idempotency on mch_billno', () => {
  it('answers the same packet for the same billno and parameters: one ledger entry, one debit', async () => {
    const first = await sendCash(cashFields('IDEM000000001'));
    const second = await sendCash(cashFields('IDEM000000001', { nonce_str: 'anotherNonce', wishing: '再来一次' }));

    expect(second).toEqual(first);
    expect(test.sandbox.control.ledger()).toHaveLength(1);
    expect(balanceFen()).toBe(INITIAL_BALANCE_FEN - 1000);
  });

  it('answers the same package for a repeated mini-program billno', async () => {
    const first = await sendMini(miniProgramFields('IDEM000000002'));
    const second = await sendMini(miniProgramFields('IDEM000000002'));

    expect(second.package).toBe(first.package);
    expect(second.send_listid).toBe(first.send_listid);
  });

  it.each<{ case: string; change: Record<string, string> }>([
    { case: 'a changed amount', change: { total_amount: '1001' } },
    { case: 'a changed openid', change: { re_openid: 'oOAuser_000000000000000002' } },
  ])('answers FATAL_ERROR for the same billno with $case, paying nothing more', async ({ change }) => {
    await sendCash(cashFields('IDEM000000003'));

    const reply = await sendCash(cashFields('IDEM000000003', change));

    expect(reply).toMatchObject({ result_code: 'FAIL', err_code: 'FATAL_ERROR' });
    expect(test.sandbox.control.ledger()).toHaveLength(1);
    expect(balanceFen()).toBe(INITIAL_BALANCE_FEN - 1000);
  });

  it('answers FATAL_ERROR for a cash billno reused on sendminiprogramhb', async () => {
    await sendCash(cashFields('IDEM000000004'));

    expect((await sendMini(miniProgramFields('IDEM000000004'))).err_code).toBe('FATAL_ERROR');
  });

  it('keeps billnos per merchant: the same billno at another merchant is another packet', async () => {
    await sendCash(cashFields('IDEM000000005'));
    const other = await callPay(test, SENDREDPACK_PATH, cashFields('IDEM000000005', { mch_id: '1900000110' }),
      p12Of((await testCertificates()).other, '1900000110'), { apiKey: 'SandboxApiKey0000000000000000002' });

    expect(other.result_code).toBe('SUCCESS');
    expect(test.sandbox.control.ledger().map((entry) => entry.mchId)).toEqual([MCH_ID, '1900000110']);
  });

  it('pays exactly 10 packets for 50 concurrent sends of 10 distinct billnos', async () => {
    const billnos = Array.from({ length: 10 }, (_, index) => `RACE${String(index).padStart(9, '0')}`);
    const openid = (index: number) => `oRACEuser_0000000000000${String(index).padStart(3, '0')}`;

    const replies = await Promise.all(Array.from({ length: 50 }, (_, index) =>
      sendCash(cashFields(billnos[index % 10] as string, { re_openid: openid(index % 10) }))));

    expect(replies.every((reply) => reply.result_code === 'SUCCESS')).toBe(true);
    const ledger = test.sandbox.control.ledger();
    expect(ledger.map((entry) => entry.mchBillno).sort()).toEqual(billnos);
    for (const billno of billnos) {
      expect(new Set(replies.filter((reply) => reply.mch_billno === billno).map((reply) => reply.send_listid)).size).toBe(1);
    }
    expect(balanceFen()).toBe(INITIAL_BALANCE_FEN - 10 * 1000);
  });
});

describe('money and limits', () => {
  it('answers NOTENOUGH when the balance is short, and pays the same billno after a top-up', async () => {
    test.sandbox.control.setBalance({ mchId: MCH_ID, balanceFen: 999 });

    expect((await sendCash(cashFields('MONEY00000001'))).err_code).toBe('NOTENOUGH');
    test.sandbox.control.setBalance({ mchId: MCH_ID, balanceFen: 1000 });
    expect((await sendCash(cashFields('MONEY00000001'))).result_code).toBe('SUCCESS');

    expect(balanceFen()).toBe(0);
  });

  it('answers SENDNUM_LIMIT for the 11th packet of one openid in a Beijing day, and pays again the next day', async () => {
    for (let index = 1; index <= 10; index += 1) {
      expect((await sendCash(cashFields(`COUNT${String(index).padStart(8, '0')}`))).result_code).toBe('SUCCESS');
    }

    expect((await sendCash(cashFields('COUNT00000011'))).err_code).toBe('SENDNUM_LIMIT');
    expect((await sendCash(cashFields('COUNT00000011', { re_openid: 'oOAuser_000000000000000099' }))).result_code).toBe('SUCCESS');
    // 10:00 + 14 h = midnight in Beijing.
    test.sandbox.control.advanceClock(14 * 3_600_000);
    expect((await sendCash(cashFields('COUNT00000012'))).result_code).toBe('SUCCESS');
  });

  it('answers RCVDAMOUNT_LIMIT when one openid would pass 1000 元 in a day', async () => {
    for (let index = 1; index <= 5; index += 1) {
      expect((await sendCash(cashFields(`AMOUNT${String(index).padStart(7, '0')}`, { total_amount: '20000' }))).result_code).toBe('SUCCESS');
    }

    expect((await sendCash(cashFields('AMOUNT0000006', { total_amount: '100' }))).err_code).toBe('RCVDAMOUNT_LIMIT');
  });

  it('applies configured user limits', async () => {
    const tight = await startTestPaySandbox(certs, { userDailyCount: 1, userDailyAmountFen: 1500 });
    try {
      const send = (billno: string, amount: string, openid = OA_OPENID) =>
        callPay(tight, SENDREDPACK_PATH, cashFields(billno, { total_amount: amount, re_openid: openid }), cert);
      expect((await send('TIGHT00000001', '1600')).err_code).toBe('RCVDAMOUNT_LIMIT');
      expect((await send('TIGHT00000002', '1500')).result_code).toBe('SUCCESS');
      expect((await send('TIGHT00000003', '100')).err_code).toBe('SENDNUM_LIMIT');
    } finally {
      await tight.close();
    }
  });

  it('answers FREQ_LIMIT past the per-merchant rate, and accepts again in the next second', async () => {
    const limited = await startTestPaySandbox(certs, { rateLimitPerSecond: 3 });
    try {
      const send = (billno: string) => callPay(limited, SENDREDPACK_PATH, cashFields(billno), cert);
      const replies = await Promise.all(['RATE000000001', 'RATE000000002', 'RATE000000003', 'RATE000000004'].map(send));

      expect(replies.map((reply) => reply.err_code).sort()).toEqual(['FREQ_LIMIT', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
      limited.sandbox.control.advanceClock(1000);
      const retried = replies.find((reply) => reply.err_code === PayErrCode.FREQ_LIMIT)?.mch_billno as string;
      expect((await send(retried)).result_code).toBe('SUCCESS');
      expect(limited.sandbox.control.ledger()).toHaveLength(4);
    } finally {
      await limited.close();
    }
  });
});

function signedFields(fields: Record<string, string>, apiKey = API_KEY): Record<string, string> {
  const signType = fields.sign_type === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5';
  return { ...fields, sign: payV2Sign(fields, apiKey, signType) };
}

function lower(fields: Record<string, string>): Record<string, string> {
  return { ...fields, sign: (fields.sign ?? '').toLowerCase() };
}
