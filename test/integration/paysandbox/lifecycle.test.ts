/**
 * Packet lifecycle (SENDING → SENT → RECEIVED/REFUND), gethbinfo, and the mini-program client's
 * wx.sendBizRedPacket with its paySign check (reference §7–§8).
 */
import { createHash } from 'node:crypto';
import type { TestCertificates } from '../../../scripts/local/certs';
import { BizRedPacketFailure, bizRedPacketPaySign, PACKET_REFUND_AFTER_MS } from '../../../scripts/local/paysandbox';
import {
  API_KEY, BASE_MS, GETHBINFO_PATH, INITIAL_BALANCE_FEN, MCH_ID, MP_APPID, OA_APPID, OA_OPENID, SENDMINIPROGRAMHB_PATH, SENDREDPACK_PATH,
  callPay, cashFields, control, miniProgramFields, p12Of, queryFields, startTestPaySandbox, testCertificates, type ClientCert, type TestPaySandbox,
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

const sendCash = (billno: string) => callPay(test, SENDREDPACK_PATH, cashFields(billno), cert);
const sendMini = (billno: string) => callPay(test, SENDMINIPROGRAMHB_PATH, miniProgramFields(billno), cert);
const query = (billno: string, overrides: Record<string, string> = {}) => callPay(test, GETHBINFO_PATH, queryFields(billno, overrides), cert);
const balanceFen = () => test.sandbox.control.merchants().find((merchant) => merchant.mchId === MCH_ID)?.balanceFen;

describe('gethbinfo', () => {
  it('answers a SENT cash packet with its amounts and Beijing times, and no hblist yet', async () => {
    const sent = await sendCash('INFO000000001');

    expect(await query('INFO000000001')).toEqual({
      return_code: 'SUCCESS', return_msg: 'OK', result_code: 'SUCCESS', err_code: 'SUCCESS', err_code_des: 'OK',
      mch_billno: 'INFO000000001', mch_id: MCH_ID, detail_id: sent.send_listid, status: 'SENT', send_type: 'API', hb_type: 'NORMAL',
      total_num: '1', total_amount: '1000', send_time: '2025-03-01 10:00:00',
      wishing: '感谢您参加猜灯谜活动，祝您元宵节快乐！', remark: '猜越多得越多，快来抢！', act_name: '猜灯谜抢红包活动',
    });
  });

  it('answers RECEIVED with the hblist once the user opens a cash packet', async () => {
    await sendCash('INFO000000002');
    test.sandbox.control.advanceClock(60_000);

    const { status, body } = await control(test, 'POST', 'packets/receive', { mch_billno: 'INFO000000002' });

    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'RECEIVED', receivedAtMs: BASE_MS + 60_000 });
    expect(await query('INFO000000002')).toMatchObject({
      status: 'RECEIVED', hblist: { hbinfo: { openid: OA_OPENID, amount: '1000', rcv_time: '2025-03-01 10:01:00' } },
    });
  });

  it.each<{ case: string; billno: string; overrides: Record<string, string>; errCode: string }>([
    { case: 'an unknown billno', billno: 'NOSUCH0000001', overrides: {}, errCode: 'NOT_FOUND' },
    { case: 'bill_type other than MCHT', billno: 'INFO000000003', overrides: { bill_type: 'BILL' }, errCode: 'PARAM_ERROR' },
    { case: 'an appid not bound to the merchant', billno: 'INFO000000003', overrides: { appid: 'wx0c00000000000zz9' }, errCode: 'ILLEGAL_APPID' },
  ])('answers $errCode for $case', async ({ billno, overrides, errCode }) => {
    await sendCash('INFO000000003');

    expect(await query(billno, overrides)).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: errCode, mch_billno: billno });
  });

  it('finds a mini-program packet when queried with the mini-program appid', async () => {
    await sendMini('INFO000000004');

    expect(await query('INFO000000004', { appid: MP_APPID })).toMatchObject({ status: 'SENT', total_amount: '1000' });
  });
});

describe('lifecycle', () => {
  it('keeps a packet SENDING for sendingDelayMs of the sandbox clock, then SENT', async () => {
    const slow = await startTestPaySandbox(certs, { sendingDelayMs: 5000 });
    try {
      await callPay(slow, SENDREDPACK_PATH, cashFields('SLOW000000001'), cert);
      const status = async () => (await callPay(slow, GETHBINFO_PATH, queryFields('SLOW000000001'), cert)).status;

      expect(await status()).toBe('SENDING');
      slow.sandbox.control.advanceClock(5000);
      expect(await status()).toBe('SENT');
    } finally {
      await slow.close();
    }
  });

  it('refunds a packet the user has not opened after 24 hours, crediting the merchant', async () => {
    await sendCash('REFUND0000001');
    test.sandbox.control.advanceClock(PACKET_REFUND_AFTER_MS - 1);
    expect((await query('REFUND0000001')).status).toBe('SENT');

    const { body } = await control(test, 'POST', 'clock', { advanceMs: 1 });

    expect(body).toEqual({ nowMs: BASE_MS + PACKET_REFUND_AFTER_MS, offsetMs: PACKET_REFUND_AFTER_MS });
    expect(await query('REFUND0000001')).toMatchObject({ status: 'REFUND', refund_time: '2025-03-02 10:00:00', refund_amount: '1000' });
    expect(balanceFen()).toBe(INITIAL_BALANCE_FEN);
    expect(test.sandbox.control.ledger()).toMatchObject([{ mchBillno: 'REFUND0000001', status: 'REFUND', refundedAtMs: BASE_MS + PACKET_REFUND_AFTER_MS }]);
  });

  it('refunds on the control action and credits the merchant once', async () => {
    await sendCash('REFUND0000002');

    expect((await control(test, 'POST', 'packets/refund', { mch_billno: 'REFUND0000002' })).body).toMatchObject({ status: 'REFUND' });
    const again = await control(test, 'POST', 'packets/refund', { mch_billno: 'REFUND0000002' });

    expect(again).toEqual({ status: 400, body: { error: expect.stringMatching(/is REFUND, only a SENT packet/) } });
    expect(balanceFen()).toBe(INITIAL_BALANCE_FEN);
  });

  it('does not refund an opened packet, even after 24 hours', async () => {
    await sendCash('REFUND0000003');
    test.sandbox.control.receivePacket({ mch_billno: 'REFUND0000003' });
    test.sandbox.control.advanceClock(2 * PACKET_REFUND_AFTER_MS);

    expect((await query('REFUND0000003')).status).toBe('RECEIVED');
    expect(balanceFen()).toBe(INITIAL_BALANCE_FEN - 1000);
  });

  it.each([
    { case: 'a mini-program packet (opened by the client)', send: () => sendMini('RECV000000001'), error: /client\/send-biz-red-packet/ },
    { case: 'an unknown billno', send: async () => undefined, error: /no paid packet/ },
  ])('refuses packets/receive for $case', async ({ send, error }) => {
    await send();

    const { status, body } = await control(test, 'POST', 'packets/receive', { mch_billno: 'RECV000000001' });

    expect(status).toBe(400);
    expect(body.error).toMatch(error);
  });
});

describe('client/send-biz-red-packet', () => {
  const TIME_STAMP = String(Math.floor(BASE_MS / 1000));
  const NONCE = 'e61463f8efa94090b1f366cccfbbb444';

  /** What the product must hand the mini-program for a sendminiprogramhb reply. */
  async function clientArgs(billno: string): Promise<{ appId: string; timeStamp: string; nonceStr: string; package: string; signType: string; paySign: string }> {
    const reply = await sendMini(billno);
    const encoded = encodeURIComponent(reply.package as string);
    return {
      appId: MP_APPID, timeStamp: TIME_STAMP, nonceStr: NONCE, package: encoded, signType: 'MD5',
      paySign: bizRedPacketPaySign({ appId: MP_APPID, nonceStr: NONCE, package: encoded, timeStamp: TIME_STAMP }, API_KEY),
    };
  }
  const open = (args: unknown) => control(test, 'POST', 'client/send-biz-red-packet', args);

  it('opens the packet for a correct paySign: ok, and the packet is RECEIVED', async () => {
    const args = await clientArgs('BIZ0000000001');

    expect(await open(args)).toEqual({ status: 200, body: { errMsg: 'sendBizRedPacket:ok' } });
    expect(test.sandbox.control.ledger()).toMatchObject([{ mchBillno: 'BIZ0000000001', status: 'RECEIVED', receivedAtMs: BASE_MS }]);
    expect((await query('BIZ0000000001', { appid: MP_APPID })).status).toBe('RECEIVED');
  });

  it('answers 已经绑定过红包 when the packet is opened a second time', async () => {
    const args = await clientArgs('BIZ0000000002');
    await open(args);

    expect((await open(args)).body).toEqual({ errMsg: 'sendBizRedPacket:fail', ...BizRedPacketFailure.ALREADY_BOUND });
  });

  it('answers 已经过期 after 24 hours, when the packet has been refunded', async () => {
    const args = await clientArgs('BIZ0000000003');
    test.sandbox.control.advanceClock(PACKET_REFUND_AFTER_MS);

    expect((await open(args)).body).toEqual({ errMsg: 'sendBizRedPacket:fail', ...BizRedPacketFailure.EXPIRED });
  });

  it.each([
    {
      case: 'signType included in the signature (the wx.requestPayment rule)',
      change: (args: Args) => ({ ...args, paySign: md5(`appId=${args.appId}&nonceStr=${args.nonceStr}&package=${args.package}&signType=MD5&timeStamp=${args.timeStamp}&key=${API_KEY}`) }),
      failure: BizRedPacketFailure.SIGN,
    },
    { case: 'an uppercase paySign while the rule says lowercase', change: (args: Args) => ({ ...args, paySign: args.paySign.toUpperCase() }), failure: BizRedPacketFailure.SIGN },
    {
      case: 'the raw package signed instead of the URL-encoded one',
      change: (args: Args) => {
        const raw = decodeURIComponent(args.package);
        return { ...args, paySign: bizRedPacketPaySign({ appId: args.appId, nonceStr: args.nonceStr, package: raw, timeStamp: args.timeStamp }, API_KEY) };
      },
      failure: BizRedPacketFailure.SIGN,
    },
    { case: 'a changed timeStamp', change: (args: Args) => ({ ...args, timeStamp: String(Number(args.timeStamp) + 1) }), failure: BizRedPacketFailure.SIGN },
    { case: 'the package passed without URL-encoding', change: (args: Args) => ({ ...args, package: decodeURIComponent(args.package) }), failure: BizRedPacketFailure.FORMAT },
    { case: 'a package this sandbox never issued', change: (args: Args) => ({ ...args, package: args.package.replace(/sendid%3D[0-9a-f]/, 'sendid%3Dz') }), failure: BizRedPacketFailure.FORMAT },
    { case: 'another appId', change: (args: Args) => ({ ...args, appId: OA_APPID }), failure: BizRedPacketFailure.FORMAT },
    { case: 'signType HMAC-SHA256', change: (args: Args) => ({ ...args, signType: 'HMAC-SHA256' }), failure: BizRedPacketFailure.FORMAT },
    { case: 'a nonceStr of 33 characters', change: (args: Args) => ({ ...args, nonceStr: 'n'.repeat(33) }), failure: BizRedPacketFailure.FORMAT },
  ])('fails for $case, leaving the packet SENT', async ({ change, failure }) => {
    const args = await clientArgs('BIZ0000000004');

    expect((await open(change(args))).body).toEqual({ errMsg: 'sendBizRedPacket:fail', ...failure });
    expect(test.sandbox.control.ledger()).toMatchObject([{ status: 'SENT' }]);
  });

  it('refuses a body with unknown fields as bad control input', async () => {
    const args = await clientArgs('BIZ0000000005');

    const { status, body } = await open({ ...args, openid: 'oSomeone' });

    expect(status).toBe(400);
    expect(body.error).toMatch(/unknown field\(s\) openid/);
  });
});

type Args = { appId: string; timeStamp: string; nonceStr: string; package: string; signType: string; paySign: string };

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}
