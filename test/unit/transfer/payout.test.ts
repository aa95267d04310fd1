/**
 * The transfer payout (shared/claims/payout/transfer.ts): its policy tables — every bill state and
 * every answer of WeChat (or its absence) as the engine's outcome — the campaign fields a scene
 * needs, the body persisted with each bill number, and the settings it reads.
 */
import { envReader, type EnvReader } from '../../../shared/config';
import { readClaimConfig } from '../../../shared/claims/config';
import { RefusalReason } from '../../../shared/claims/errors';
import type { ClaimDoc, EligibilityName } from '../../../shared/claims/model';
import {
  BILL_STATE_POLICY, billMismatch, billReply, errorReply, merchantTransfer, planTransferCampaign, transferBillNotice, transferRefusalFor,
} from '../../../shared/claims/payout/transfer';
import { Outcome, type PayoutContext } from '../../../shared/claims/payout/types';
import { createLogger } from '../../../shared/log';
import { PayV3ApiError, PayV3UnknownOutcomeError } from '../../../shared/pay/v3/errors';
import { FINAL_TRANSFER_STATES, TRANSFER_POLICY, TRANSFER_STATES, mayReplaceTransferBill, type TransferState } from '../../../shared/pay/v3/policy';
import type { TransferBillsClient } from '../../../shared/pay/v3/transfer';

const HOUR_MS = 3_600_000;
const CREATED_MS = Date.UTC(2026, 6, 1);
const FRESH = { package: null, queryCount: 0, createdAtMs: CREATED_MS };

describe('the bill states', () => {
  it('maps every WeChat state: SUCCESS pays, only FAIL and CANCELLED close, the rest wait', () => {
    const outcomes = Object.fromEntries(TRANSFER_STATES.map((state) => [state, BILL_STATE_POLICY[state].outcome]));

    expect(outcomes).toEqual({
      ACCEPTED: Outcome.WAITING, PROCESSING: Outcome.WAITING, WAIT_USER_CONFIRM: Outcome.WAITING, TRANSFERING: Outcome.WAITING,
      SUCCESS: Outcome.RECEIVED, FAIL: Outcome.CLOSED, CANCELLED: Outcome.CLOSED, CANCELING: Outcome.WAITING,
    });
    // The same line the APIv3 client draws: final states are final, and only FAIL/CANCELLED free the number.
    for (const state of TRANSFER_STATES) {
      expect({ state, final: BILL_STATE_POLICY[state].outcome !== Outcome.WAITING }).toEqual({ state, final: FINAL_TRANSFER_STATES.has(state) });
      expect({ state, closes: BILL_STATE_POLICY[state].outcome === Outcome.CLOSED }).toEqual({ state, closes: mayReplaceTransferBill(state) });
    }
    for (const entry of Object.values(BILL_STATE_POLICY)) expect(entry.source).not.toBe('');
  });

  it.each([
    { case: 'a bill waiting for its user, package in hand', state: 'WAIT_USER_CONFIRM', claim: { ...FRESH, package: 'PKG' }, refetch: false },
    { case: 'a bill waiting for its user, no package yet', state: 'WAIT_USER_CONFIRM', claim: FRESH, refetch: true },
    { case: 'an accepted bill (T-guide: the same request again)', state: 'ACCEPTED', claim: FRESH, refetch: true },
    { case: 'a bill locking its funds', state: 'PROCESSING', claim: FRESH, refetch: false },
    { case: 'a confirmed bill', state: 'TRANSFERING', claim: { ...FRESH, package: 'PKG' }, refetch: false },
  ] as const)('asks for the identical create again only for $case when needed', ({ state, claim, refetch }) => {
    expect(billReply({ state }, claim, CREATED_MS).refetch === true).toBe(refetch);
  });

  it('looks at a waiting user rarely, doubling up to 2 h, and right after the expected close; then every 10 min', () => {
    const waitAfter = (queryCount: number, nowMs: number) => billReply({ state: 'WAIT_USER_CONFIRM' }, { package: 'PKG', queryCount, createdAtMs: CREATED_MS }, nowMs).retryAfterMs;

    expect([0, 1, 2, 6, 7, 12].map((count) => waitAfter(count, CREATED_MS))).toEqual([60_000, 120_000, 240_000, 3_840_000, 7_200_000, 7_200_000]);
    expect(waitAfter(12, CREATED_MS + 23.5 * HOUR_MS)).toBe(0.5 * HOUR_MS + 60_000);
    expect(waitAfter(12, CREATED_MS + 25 * HOUR_MS)).toBe(600_000);
    // States WeChat moves by itself are looked at soon.
    expect(billReply({ state: 'TRANSFERING' }, FRESH, CREATED_MS).retryAfterMs).toBe(2_000);
  });

  it.each([
    { case: 'the 24 h close', bill: { state: 'FAIL', failReason: 'OVERDUE_CLOSE' }, code: 'OVERDUE_CLOSE', refusal: RefusalReason.TRANSFER_EXPIRED },
    { case: 'the operator\'s cancel', bill: { state: 'CANCELLED' }, code: 'CANCELLED', refusal: RefusalReason.TRANSFER_CANCELLED },
    { case: 'the payee\'s daily count', bill: { state: 'FAIL', failReason: 'DAY_RECEIVED_COUNT_EXCEED' }, code: 'DAY_RECEIVED_COUNT_EXCEED', refusal: RefusalReason.USER_DAILY_LIMIT },
    { case: 'risk control', bill: { state: 'FAIL', failReason: 'TRANSFER_RISK' }, code: 'TRANSFER_RISK', refusal: RefusalReason.RISK_BLOCKED },
    { case: 'a reason nobody listed', bill: { state: 'FAIL', failReason: 'SOMETHING_NEW' }, code: 'SOMETHING_NEW', refusal: RefusalReason.TRANSFER_DECLINED },
    { case: 'no reason at all', bill: { state: 'FAIL' }, code: 'FAIL', refusal: RefusalReason.TRANSFER_DECLINED },
  ] as const)('closes on $case, keeping the code the user\'s refusal follows', ({ bill, code, refusal }) => {
    const reply = billReply({ ...bill, transferBillNo: 'T1' }, FRESH, CREATED_MS);

    expect(reply).toMatchObject({ outcome: Outcome.CLOSED, code, receipt: { wechatStatus: bill.state, orderId: 'T1' } });
    expect(transferRefusalFor(reply.code)).toBe(refusal);
  });

  it('tells the operator about a bill that stays PROCESSING (a low 运营账户), not about one that just started', () => {
    expect(billReply({ state: 'PROCESSING' }, { ...FRESH, queryCount: 1 }, CREATED_MS).alert).toBeUndefined();
    expect(billReply({ state: 'PROCESSING' }, { ...FRESH, queryCount: 6 }, CREATED_MS).alert).toMatch(/运营账户 is too low/);
  });

  it('tells the operator about a close that is the merchant\'s to fix', () => {
    expect(billReply({ state: 'FAIL', failReason: 'TRANSFER_SCENE_INVALID' }, FRESH, CREATED_MS).alert).toMatch(/transferSceneId is not a scene the merchant holds/);
    expect(billReply({ state: 'FAIL', failReason: 'OVERDUE_CLOSE' }, FRESH, CREATED_MS).alert).toBeUndefined();
  });
});

describe('WeChat\'s error answers', () => {
  const apiError = (status: number, errCode: string) =>
    new PayV3ApiError('transfer-bills.create', { status, errCode, errMessage: `${errCode} message`, verified: true });

  it('never end a claim nor free its number, whatever the code: the money rule', () => {
    const errors = [
      ...TRANSFER_POLICY.map((row) => apiError(row.status === '*' ? 400 : row.status, row.code === '*' ? 'ANY' : row.code)),
      apiError(400, 'BRAND_NEW_CODE'),
      apiError(500, 'SYSTEM_ERROR'),
      new PayV3UnknownOutcomeError('transfer-bills.create', 'ETIMEDOUT'),
      new PayV3UnknownOutcomeError('transfer-bills.create', 'answer signature not verified: bad_signature', { status: 200 }),
    ];
    const outcomes = new Set(errors.map((error) => errorReply(error).outcome));

    expect([...outcomes].filter((outcome) => outcome !== Outcome.UNKNOWN && outcome !== Outcome.REFUSED && outcome !== Outcome.NOT_FOUND)).toEqual([]);
  });

  it.each([
    { case: 'SYSTEM_ERROR', error: apiError(500, 'SYSTEM_ERROR'), outcome: Outcome.UNKNOWN, retryAfterMs: 1_000 },
    { case: 'an unknown code', error: apiError(400, 'BRAND_NEW_CODE'), outcome: Outcome.UNKNOWN, retryAfterMs: 1_000 },
    { case: 'a timeout', error: new PayV3UnknownOutcomeError('transfer-bills.create', 'ETIMEDOUT'), outcome: Outcome.UNKNOWN, retryAfterMs: 1_000 },
    { case: 'FREQUENCY_LIMITED', error: apiError(429, 'FREQUENCY_LIMITED'), outcome: Outcome.REFUSED, retryAfterMs: 1_000 },
    { case: 'NOT_ENOUGH', error: apiError(403, 'NOT_ENOUGH'), outcome: Outcome.REFUSED, retryAfterMs: 60_000, alert: /运营账户.*top it up.*the same bills go through/ },
    { case: 'PARAM_ERROR', error: apiError(400, 'PARAM_ERROR'), outcome: Outcome.REFUSED, retryAfterMs: 300_000, alert: /PARAM_ERROR \(HTTP 400 PARAM_ERROR message\): WeChat Pay refused/ },
    { case: 'NO_AUTH', error: apiError(403, 'NO_AUTH'), outcome: Outcome.REFUSED, retryAfterMs: 300_000, alert: /商家转账/ },
  ])('maps $case to $outcome after $retryAfterMs ms', ({ error, outcome, retryAfterMs, alert }) => {
    const reply = errorReply(error);

    expect(reply).toMatchObject({ outcome, retryAfterMs });
    if (alert === undefined) expect(reply.alert).toBeUndefined();
    else expect(reply.alert).toMatch(alert);
  });
});

describe('planTransferCampaign', () => {
  const good = { transferRemark: '新会员有礼', reportInfos: { 活动名称: '新会员有礼', 奖励说明: '注册会员抽奖一等奖' } };
  const plan = (input: Record<string, unknown>) => {
    const problems: string[] = [];
    return { plan: planTransferCampaign(input, problems), problems };
  };

  it('defaults to scene 1000 and WeChat\'s own label, and pays 10 fen to 200 元', () => {
    expect(plan(good)).toEqual({
      problems: [],
      plan: {
        fields: {
          transfer: { sceneId: '1000', reportInfos: [{ infoType: '活动名称', infoContent: '新会员有礼' }, { infoType: '奖励说明', infoContent: '注册会员抽奖一等奖' }], remark: '新会员有礼', userRecvPerception: null },
          sendName: '', wishing: '', actName: '', remark: '', sceneId: null,
        },
        minAmountFen: 10,
        maxAmountFen: 20_000,
        rangeText: expect.stringContaining('10–20000 fen'),
      },
    });
  });

  it.each([
    { case: 'no remark', input: { ...good, transferRemark: undefined }, problem: 'transferRemark is required (the remark the user sees, at most 32 characters)' },
    { case: 'a remark of 33 characters', input: { ...good, transferRemark: '奖'.repeat(33) }, problem: 'transferRemark must be at most 32 characters' },
    { case: 'a list instead of info_type → text', input: { ...good, reportInfos: [['活动名称', 'x']] }, problem: 'reportInfos must be an object of info_type → text: scene 1000 (现金营销) takes 活动名称, 奖励说明' },
    { case: 'an info type of another scene', input: { ...good, reportInfos: { 活动名称: 'x', 岗位类型: 'y' } }, problem: 'reportInfos of scene 1000 (现金营销) must be exactly 活动名称, 奖励说明; missing 奖励说明; not for this scene: 岗位类型' },
    { case: 'an info text of 33 characters', input: { ...good, reportInfos: { 活动名称: 'x'.repeat(33), 奖励说明: 'y' } }, problem: 'reportInfos.活动名称 must be at most 32 characters' },
    { case: 'a label scene 1000 does not show', input: { ...good, userRecvPerception: '劳务报酬' }, problem: 'userRecvPerception of scene 1000 must be one of 现金奖励, 活动奖励 (or left out: WeChat\'s default)' },
    { case: 'a scene id that is not digits', input: { ...good, transferSceneId: 'cash' }, problem: 'transferSceneId must be the digits of a transfer scene, e.g. "1000" (现金营销)' },
    { case: 'a per-bill maximum from which WeChat wants a real name', input: { ...good, transferMaxFen: 200_000 }, problem: expect.stringContaining('transferMaxFen must be a whole number of fen from 10 to 199999') },
  ])('refuses $case', ({ input, problem }) => {
    expect(plan(input).problems).toEqual([problem]);
  });

  it('takes another scene\'s own report infos, and a raised per-bill maximum', () => {
    const result = plan({ transferSceneId: '1005', transferRemark: '报酬', reportInfos: { 岗位类型: '讲师', 报酬说明: '课酬' }, transferMaxFen: 50_000 });

    expect(result.problems).toEqual([]);
    expect(result.plan).toMatchObject({ maxAmountFen: 50_000, fields: { transfer: { sceneId: '1005', userRecvPerception: null } } });
  });
});

describe('the transfer payout over its client', () => {
  const calls: string[] = [];
  const transfers: TransferBillsClient = {
    mchId: '1900000109',
    prepare: async () => undefined,
    create: async (bill) => {
      calls.push(`create ${bill.body}`);
      return { outBillNo: bill.outBillNo, transferBillNo: 'T1', state: 'WAIT_USER_CONFIRM', createTime: '', packageInfo: 'PKG', failReason: undefined };
    },
    queryByOutBillNo: async () => ({ found: false }),
    queryByTransferBillNo: async () => ({ found: false }),
    cancel: async () => ({ outBillNo: 'B', transferBillNo: 'T1', state: 'CANCELING', updateTime: '' }),
    close: () => undefined,
  };
  const context = (notifyUrl: string | undefined): PayoutContext => ({
    settings: {
      officialAppId: 'wx10ca1000000000a1', miniProgramAppId: 'wx10ca1000000000b2', apiKey: '', clientIp: '127.0.0.1',
      miniProgramQueryAppId: { mode: 'official', appId: 'wx10ca1000000000a1' }, mchId: '1900000109', transferNotifyUrl: notifyUrl, transfersPerSecond: 90,
    },
    log: createLogger({ fn: 'test' }),
    redPackets: undefined as never,
    transfers,
    now: () => CREATED_MS,
  });
  const claim = {
    _id: 'c:openid:wx10ca1000000000b2:oUser', mchBillno: 'BILL0001', appId: 'wx10ca1000000000b2', openid: 'oUser', amountFen: 100, billBody: null,
    status: 'WAITING', package: 'PKG', nextAttemptAtMs: 0, queryCount: 0, createdAtMs: CREATED_MS,
    transfer: { sceneId: '1000', reportInfos: [{ infoType: '活动名称', infoContent: 'a' }, { infoType: '奖励说明', infoContent: 'b' }], remark: 'r', userRecvPerception: '现金奖励' },
  } as unknown as ClaimDoc;

  it('pays mini-program users under the mini-program, and page users (the service account\'s web view) under the service account', () => {
    const payout = merchantTransfer.create(context(undefined));

    expect(payout.payeeAppId('miniprogram')).toBe('wx10ca1000000000b2');
    // The follow and web-view eligibilities of the claim pages are not in this engine yet; their users claim on a page.
    expect(payout.payeeAppId('webview' as EligibilityName)).toBe('wx10ca1000000000a1');
  });

  it('persists the create body with the bill number (the notify URL inside), and sends exactly those bytes', async () => {
    const payout = merchantTransfer.create(context('https://env.example.com/pay/notify'));
    const { billBody } = payout.billFields!(claim);

    expect(billBody).toBe('{"appid":"wx10ca1000000000b2","out_bill_no":"BILL0001","transfer_scene_id":"1000","openid":"oUser","transfer_amount":100,' +
      '"transfer_remark":"r","notify_url":"https://env.example.com/pay/notify","user_recv_perception":"现金奖励",' +
      '"transfer_scene_report_infos":[{"info_type":"活动名称","info_content":"a"},{"info_type":"奖励说明","info_content":"b"}]}');
    expect(JSON.parse(merchantTransfer.create(context(undefined)).billFields!(claim).billBody!)).not.toHaveProperty('notify_url');
    await expect(payout.send({ ...claim, billBody: billBody! })).resolves.toMatchObject({ outcome: Outcome.WAITING, receipt: { package: 'PKG', orderId: 'T1' } });
    expect(calls).toEqual([`create ${billBody}`]);
    await expect(payout.send(claim)).rejects.toThrow('has no persisted transfer body');
  });

  it('answers exactly wx.requestMerchantTransfer\'s arguments while the bill waits, "come back" without a package, a refusal once received', () => {
    const payout = merchantTransfer.create(context(undefined));

    expect(payout.answer(claim, CREATED_MS)).toEqual({ mchId: '1900000109', appId: 'wx10ca1000000000b2', package: 'PKG' });
    expect(() => payout.answer({ ...claim, package: null }, CREATED_MS)).toThrow(expect.objectContaining({ code: 'UPSTREAM_BUSY' }));
    expect(() => payout.answer({ ...claim, status: 'RECEIVED' }, CREATED_MS)).toThrow(expect.objectContaining({ reason: 'transfer_received', publicReason: 'TRANSFER_RECEIVED' }));
  });
});

describe('billMismatch and transferBillNotice', () => {
  const claim = { mchBillno: 'B1', amountFen: 100, openid: 'oUser', appId: 'wxA' };

  it.each([
    { case: 'the same bill', bill: { outBillNo: 'B1', amountFen: 100, openid: 'oUser', appId: 'wxA' }, mismatch: null },
    { case: 'another amount', bill: { outBillNo: 'B1', amountFen: 101, openid: 'oUser', appId: 'wxA' }, mismatch: 'transfer_amount 101, not 100' },
    { case: 'another payee', bill: { outBillNo: 'B1', amountFen: 100, openid: 'oOther', appId: 'wxA' }, mismatch: 'another openid' },
    { case: 'another app', bill: { outBillNo: 'B1', amountFen: 100, openid: 'oUser', appId: 'wxB' }, mismatch: 'appid wxB, not wxA' },
  ])('finds $case', ({ bill, mismatch }) => {
    expect(billMismatch(bill, claim)).toBe(mismatch);
  });

  it.each([
    { state: 'SUCCESS', failReason: undefined, outcome: 'received', code: 'SUCCESS' },
    { state: 'FAIL', failReason: 'OVERDUE_CLOSE', outcome: 'closed', code: 'OVERDUE_CLOSE' },
    { state: 'CANCELLED', failReason: undefined, outcome: 'closed', code: 'CANCELLED' },
  ] as const)('reads a $state notify as the codes a query would give', ({ state, failReason, outcome, code }) => {
    const notice = transferBillNotice({
      id: 'n1', createTime: '', summary: '',
      bill: { mchId: '1900000109', outBillNo: 'B1', transferBillNo: 'T1', state: state as TransferState, amountFen: 100, openid: 'oUser', failReason, createTime: '', updateTime: '' },
    });

    expect(notice).toEqual({ payout: 'transfer', billno: 'B1', outcome, code, wechatStatus: state, orderId: 'T1', amountFen: 100, openid: 'oUser' });
  });
});

describe('readClaimConfig for transfers', () => {
  const base = { PAY_MCH_ID: '1900000109', WX_OA_APPID: 'wx10ca1000000000a1', WX_MP_APPID: 'wx10ca1000000000b2' };
  const read = (env: Record<string, string | undefined>): ReturnType<typeof readClaimConfig> => readClaimConfig(envReader(env) as EnvReader, CREATED_MS);

  it('needs no APIv2 key (a merchant with transfers only) and takes the notify URL and the pace', () => {
    const config = read({ ...base, PAY_V3_NOTIFY_URL: 'https://env.example.com/pay/notify', PAY_TRANSFERS_PER_SECOND: '50' });

    expect(config.payout).toMatchObject({ apiKey: '', mchId: '1900000109', transferNotifyUrl: 'https://env.example.com/pay/notify', transfersPerSecond: 50 });
    expect(config.pay.v3Keys).toBeUndefined();
  });

  it.each([
    { case: 'a notify URL WeChat would refuse', env: { PAY_V3_NOTIFY_URL: 'http://env.example.com/pay/notify?x=1' }, problem: /PAY_V3_NOTIFY_URL is malformed \(the payNotify route's public https:\/\/ URL/ },
    { case: 'half of the APIv3 keys', env: { PAY_V3_API_KEY: 'LocalSandboxPayApiV3Key000000001' }, problem: /the PAY_V3_\* environment variables: the merchant private key .* is missing/ },
    { case: 'a malformed APIv2 key', env: { PAY_API_KEY: 'short' }, problem: /PAY_API_KEY is malformed/ },
  ])('names $case', ({ env, problem }) => {
    expect(() => read({ ...base, ...env })).toThrow(problem);
  });
});
