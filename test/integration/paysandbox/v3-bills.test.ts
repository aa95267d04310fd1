/**
 * The transfer bills of the Pay sandbox: WeChat's field rules for scene 1000, idempotent
 * out_bill_no, balance and daily limits, the states and their timing on the sandbox clock, the
 * 24 h close, cancel, queries (lagging, by either number, 30 days) and the client's confirm page.
 */
import {
  BASE_MS, BILLS, MCH_ID, MP_APPID, MP_OPENID, OA_APPID, OTHER_MCH_ID, callV3, cancel, control, create, encryptName, query,
  startV3Sandbox, v3Material, type TestV3Sandbox, type V3Material,
} from './v3-support';

const DAY_MS = 86_400_000;
let material: V3Material;
let test: TestV3Sandbox;

beforeAll(async () => {
  material = await v3Material();
  test = await startV3Sandbox(material, { maxAmountFen: 500_000, userDailyAmountFen: 1_000_000 });
});
afterAll(() => test.close());
beforeEach(() => test.sandbox.control.reset());

function confirm(packageInfo: string, overrides: Record<string, unknown> = {}): Promise<{ status: number; body: any }> {
  return control(test, 'POST', 'client/request-merchant-transfer', { appId: MP_APPID, mchId: MCH_ID, package: packageInfo, openid: MP_OPENID, action: 'confirm', ...overrides });
}

function balance(): number {
  return test.transfers.merchants().find((merchant) => merchant.mchId === MCH_ID)!.balanceFen;
}

describe('create: field rules', () => {
  it('answers a valid create with WAIT_USER_CONFIRM, the bill numbers and a package', async () => {
    const answer = await create(test, material, 'BILL0001');

    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      out_bill_no: 'BILL0001',
      transfer_bill_no: expect.stringMatching(/^1330\d{36}$/),
      create_time: '2025-03-01T10:00:00+08:00',
      state: 'WAIT_USER_CONFIRM',
      package_info: expect.stringMatching(/^[A-Za-z0-9+/]{156}$/),
    });
    expect(balance()).toBe(1_000_000 - 100);
  });

  it.each([
    { case: 'a missing transfer_remark', change: { transfer_remark: undefined }, status: 400, code: 'PARAM_ERROR', message: '输入源“/body/transfer_remark”映射到字段“转账备注”必填性规则校验失败' },
    { case: 'a remark of 33 characters', change: { transfer_remark: '奖'.repeat(33) }, status: 400, code: 'PARAM_ERROR', message: /转账备注.*长度/ },
    { case: 'an amount that is a string', change: { transfer_amount: '100' }, status: 400, code: 'PARAM_ERROR', message: /转账金额.*类型/ },
    { case: 'an out_bill_no with a dash', change: { out_bill_no: 'BILL-0002' }, status: 400, code: 'PARAM_ERROR', message: /商户单号/ },
    { case: 'no report infos', change: { transfer_scene_report_infos: [] }, status: 400, code: 'PARAM_ERROR', message: '需传入转账场景报备信息，请检查' },
    { case: 'one report info of two', change: { transfer_scene_report_infos: [{ info_type: '活动名称', info_content: '新会员有礼' }] }, status: 400, code: 'PARAM_ERROR', message: '未传入完整且对应的转账场景报备信息，请根据接口文档检查' },
    { case: 'a misspelt info_type', change: { transfer_scene_report_infos: [{ info_type: '活动名称 ', info_content: 'x' }, { info_type: '奖励说明', info_content: 'y' }] }, status: 400, code: 'PARAM_ERROR', message: '未传入完整且对应的转账场景报备信息，请根据接口文档检查' },
    { case: 'the same info_type twice', change: { transfer_scene_report_infos: [{ info_type: '活动名称', info_content: 'x' }, { info_type: '活动名称', info_content: 'y' }] }, status: 400, code: 'PARAM_ERROR', message: '未传入完整且对应的转账场景报备信息，请根据接口文档检查' },
    { case: 'a perception label scene 1000 does not show', change: { user_recv_perception: '劳务报酬' }, status: 400, code: 'INVALID_REQUEST', message: '暂不支持展示当前传入的用户收款感知' },
    { case: 'an amount under 10 fen', change: { transfer_amount: 9 }, status: 400, code: 'INVALID_REQUEST', message: '超过单笔转账上下限，核实产品设置是否准确' },
    { case: 'an amount over the range', change: { transfer_amount: 500_001 }, status: 400, code: 'INVALID_REQUEST', message: '超过单笔转账上下限，核实产品设置是否准确' },
    { case: 'an appid not bound to the merchant', change: { appid: 'wx0c00000000000zz9' }, status: 400, code: 'INVALID_REQUEST', message: /appid/ },
    { case: 'a scene the merchant has not opened', change: { transfer_scene_id: '1005' }, status: 400, code: 'INVALID_REQUEST', message: /转账场景/ },
    { case: 'a notify_url with a query string', change: { notify_url: 'https://merchant.example.com/notify?x=1' }, status: 400, code: 'PARAM_ERROR', message: /通知地址/ },
    { case: 'a plain-http notify_url', change: { notify_url: 'http://merchant.example.com/notify' }, status: 400, code: 'PARAM_ERROR', message: /通知地址/ },
    { case: '2,000 元 without user_name', change: { transfer_amount: 200_000 }, status: 400, code: 'PARAM_ERROR', message: /收款用户姓名必填/ },
    { case: 'a user_name in plain text', change: { transfer_amount: 200_000, user_name: '张三' }, status: 400, code: 'PARAM_ERROR', message: '请确认待处理的消息是否为加密后的密文' },
  ])('refuses $case with $status $code, holding nothing', async ({ change, status, code, message }) => {
    const answer = await create(test, material, 'BILL0002', change);

    expect(answer.status).toBe(status);
    expect(answer.json.code).toBe(code);
    expect(answer.json.message).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
    expect(test.transfers.transfers()).toEqual([]);
    expect(balance()).toBe(1_000_000);
  });

  it('refuses an openid of another appid (an openid belongs to one appid)', async () => {
    await control(test, 'POST', 'users', { appid: OA_APPID, openid: 'oOAonly_00000000000000001' });
    const answer = await create(test, material, 'BILL0003', { openid: 'oOAonly_00000000000000001' });

    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'INVALID_REQUEST', message: 'Openid格式错误或者不属于商家公众账号，请检查' });
  });

  it('pays an official-account openid under the official account appid', async () => {
    const answer = await create(test, material, 'BILL0004', { appid: OA_APPID, openid: 'oOAuser_000000000000000009' });
    expect(answer.json.state).toBe('WAIT_USER_CONFIRM');
  });

  it.each([
    { case: 'the public key', serial: (): string => material.wechat.publicKeyId, key: (): V3Material['wechatPublic'] => material.wechatPublic },
    { case: 'the platform certificate', serial: (): string => material.platformSerial, key: (): V3Material['wechatPublic'] => material.platformPublic },
  ])('decrypts a user_name encrypted for $case named in Wechatpay-Serial', async ({ serial, key }) => {
    const answer = await create(test, material, 'BILL0005', { transfer_amount: 200_000, user_name: encryptName('张三', key()) }, { wechatpaySerial: serial() });

    expect(answer.status).toBe(200);
    expect(test.transfers.transfers()[0]).toMatchObject({ outBillNo: 'BILL0005', userName: '张三' });
  });

  it('refuses a user_name encrypted for one key while Wechatpay-Serial names the other', async () => {
    const answer = await create(test, material, 'BILL0006', { user_name: encryptName('张三', material.platformPublic) });
    expect(answer.json).toMatchObject({ code: 'PARAM_ERROR', message: '请确认待处理的消息是否为加密后的密文' });
  });

  it('asks for Wechatpay-Serial when a user_name comes without it', async () => {
    const answer = await create(test, material, 'BILL0007', { user_name: encryptName('张三', material.wechatPublic) }, { wechatpaySerial: null });
    expect(answer.json).toMatchObject({ code: 'PARAM_ERROR', message: 'HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)' });
  });

  it('answers 404 for a path it does not serve', async () => {
    expect((await callV3(test, material, 'GET', `${BILLS}/batches/x`)).status).toBe(404);
  });
});

describe('create: one bill per out_bill_no', () => {
  it('answers the same bill and package when the same number comes with the same parameters, holding the amount once', async () => {
    const first = await create(test, material, 'IDEM0001');
    const second = await create(test, material, 'IDEM0001');

    expect(second.json).toEqual(first.json);
    expect(test.transfers.transfers()).toHaveLength(1);
    expect(balance()).toBe(1_000_000 - 100);
  });

  it('counts a re-encrypted user_name of the same person as the same parameters', async () => {
    const name = (): string => encryptName('张三', material.wechatPublic);
    const first = await create(test, material, 'IDEM0002', { user_name: name() });
    const second = await create(test, material, 'IDEM0002', { user_name: name() });

    expect(second.json.transfer_bill_no).toBe(first.json.transfer_bill_no);
  });

  it.each([
    { case: 'another amount', change: { transfer_amount: 101 } },
    { case: 'another openid', change: { openid: 'oMPuser_000000000000000002' } },
    { case: 'another remark', change: { transfer_remark: '老会员有礼' } },
  ])('refuses the same number with $case: 单号已存在但信息不一致', async ({ change }) => {
    await create(test, material, 'IDEM0003');
    const answer = await create(test, material, 'IDEM0003', change);

    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'INVALID_REQUEST', message: '单号已存在但信息不一致，请查单后比较确认' });
    expect(test.transfers.transfers()).toHaveLength(1);
  });

  it('keeps numbers apart per merchant', async () => {
    await create(test, material, 'IDEM0004');
    const other = await create(test, material, 'IDEM0004', { appid: OA_APPID, openid: 'oOAuser_000000000000000001' }, { mchId: OTHER_MCH_ID, key: material.otherKey, serial: material.otherSerial });

    expect(other.status).toBe(200);
    expect(test.transfers.transfers().map((bill) => bill.mchId)).toEqual([MCH_ID, OTHER_MCH_ID]);
  });
});

describe('create: money and limits', () => {
  it('refuses with 403 NOT_ENOUGH when the 运营账户 is short, and creates the same number after a top-up', async () => {
    test.transfers.setBalance({ mchId: MCH_ID, balanceFen: 50 });
    const refused = await create(test, material, 'MONEY001');
    await control(test, 'POST', 'transfers/balance', { mchId: MCH_ID, balanceFen: 1000 });
    const created = await create(test, material, 'MONEY001');

    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ code: 'NOT_ENOUGH', message: '商户运营账户资金不足，充值后可以原单号发起重试，请勿更换商户单号' });
    expect(created.json.state).toBe('WAIT_USER_CONFIRM');
    expect(balance()).toBe(900);
  });

  it('fails the 11th bill of one payee in a day with DAY_RECEIVED_COUNT_EXCEED, holding nothing for it', async () => {
    for (let index = 1; index <= 10; index += 1) await create(test, material, `DAY${String(index).padStart(5, '0')}`);
    const eleventh = await create(test, material, 'DAY00011');

    expect(eleventh.json).toMatchObject({ state: 'FAIL', fail_reason: 'DAY_RECEIVED_COUNT_EXCEED' });
    expect(balance()).toBe(1_000_000 - 10 * 100);
  });

  it('fails a bill past the payee\'s daily amount, and counts again after Beijing midnight', async () => {
    test.transfers.setBalance({ mchId: MCH_ID, balanceFen: 10_000_000 });
    await create(test, material, 'DAYAMT01', { transfer_amount: 200_000, user_name: encryptName('张三', material.wechatPublic) });
    for (let index = 2; index <= 5; index += 1) await create(test, material, `DAYAMT0${index}`, { transfer_amount: 200_000, user_name: encryptName('张三', material.wechatPublic) });
    const over = await create(test, material, 'DAYAMT06', { transfer_amount: 100 });
    await control(test, 'POST', 'clock', { advanceMs: 14 * 3_600_000 });
    const tomorrow = await create(test, material, 'DAYAMT07', { transfer_amount: 100 });

    expect(over.json).toMatchObject({ state: 'FAIL', fail_reason: 'DAY_RECEIVED_QUOTA_EXCEED' });
    expect(tomorrow.json.state).toBe('WAIT_USER_CONFIRM');
  });

  it('answers 429 FREQUENCY_LIMITED past the creates per second, and takes them again in the next second', async () => {
    const limited = await startV3Sandbox(material, { createsPerSecond: 3 });
    try {
      const statuses: number[] = [];
      for (let index = 1; index <= 4; index += 1) statuses.push((await create(limited, material, `RATE000${index}`)).status);
      const refused = await create(limited, material, 'RATE0005');
      await control(limited, 'POST', 'clock', { advanceMs: 1000 });
      const nextSecond = await create(limited, material, 'RATE0005');

      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(refused.json).toMatchObject({ code: 'FREQUENCY_LIMITED' });
      expect(nextSecond.status).toBe(200);
      expect(limited.transfers.transfers()).toHaveLength(4);
    } finally {
      await limited.close();
    }
  });
});

describe('states and their timing', () => {
  it('walks WAIT_USER_CONFIRM → TRANSFERING → SUCCESS when the payee confirms', async () => {
    const created = await create(test, material, 'STATE001');
    const shown = await confirm(created.json.package_info);
    const queried = await query(test, material, 'STATE001');

    expect(shown.body).toEqual({ errMsg: 'requestMerchantTransfer:ok' });
    expect(queried.json).toMatchObject({
      mch_id: MCH_ID, out_bill_no: 'STATE001', appid: MP_APPID, openid: MP_OPENID, state: 'SUCCESS', transfer_amount: 100, transfer_remark: '新会员有礼',
    });
    expect(balance()).toBe(1_000_000 - 100);
  });

  it('shows ACCEPTED, PROCESSING, TRANSFERING and CANCELING on the sandbox clock when they take time', async () => {
    const slow = await startV3Sandbox(material, { acceptedMs: 1000, processingMs: 1000, transferingMs: 5000, cancelingMs: 2000 });
    const states: string[] = [];
    const advance = (advanceMs: number): Promise<unknown> => control(slow, 'POST', 'clock', { advanceMs });
    const stateOf = async (outBillNo: string): Promise<void> => {
      states.push((await query(slow, material, outBillNo)).json.state);
    };
    try {
      const created = await create(slow, material, 'SLOW0001');
      states.push(created.json.state);
      await advance(1000);
      await stateOf('SLOW0001');
      await advance(1000);
      const again = await create(slow, material, 'SLOW0001');
      states.push(again.json.state);
      expect((await control(slow, 'POST', 'client/request-merchant-transfer', { appId: MP_APPID, mchId: MCH_ID, package: again.json.package_info, openid: MP_OPENID, action: 'confirm' })).body.errMsg).toBe('requestMerchantTransfer:ok');
      await stateOf('SLOW0001');
      await advance(5000);
      await stateOf('SLOW0001');
      await create(slow, material, 'SLOW0002');
      await advance(2000);
      states.push((await cancel(slow, material, 'SLOW0002')).json.state);
      await advance(2000);
      await stateOf('SLOW0002');
    } finally {
      await slow.close();
    }

    expect(states).toEqual(['ACCEPTED', 'PROCESSING', 'WAIT_USER_CONFIRM', 'TRANSFERING', 'SUCCESS', 'CANCELING', 'CANCELLED']);
  });

  it('closes an unconfirmed bill 24 h after creation: FAIL OVERDUE_CLOSE, the money back, the package dead', async () => {
    const created = await create(test, material, 'CLOSE001');
    await control(test, 'POST', 'clock', { advanceMs: DAY_MS - 1 });
    const before = (await query(test, material, 'CLOSE001')).json.state;
    await control(test, 'POST', 'clock', { advanceMs: 1 });
    const after = await query(test, material, 'CLOSE001');
    const late = await confirm(created.json.package_info);

    expect(before).toBe('WAIT_USER_CONFIRM');
    expect(after.json).toMatchObject({ state: 'FAIL', fail_reason: 'OVERDUE_CLOSE', update_time: '2025-03-02T10:00:00+08:00' });
    expect(balance()).toBe(1_000_000);
    expect(late.body).toEqual({ errMsg: 'requestMerchantTransfer:fail package invalid or expired' });
  });

  it('cancels a waiting bill (money back, package dead) and answers a repeated cancel with its state', async () => {
    const created = await create(test, material, 'CANCEL01');
    const first = await cancel(test, material, 'CANCEL01');
    const second = await cancel(test, material, 'CANCEL01', '{}');

    expect(first.json).toEqual({ out_bill_no: 'CANCEL01', transfer_bill_no: created.json.transfer_bill_no, state: 'CANCELLED', update_time: '2025-03-01T10:00:00+08:00' });
    expect(second.json.state).toBe('CANCELLED');
    expect(balance()).toBe(1_000_000);
    expect((await confirm(created.json.package_info)).body.errMsg).toBe('requestMerchantTransfer:fail package invalid or expired');
  });

  it.each([
    { case: 'a confirmed (SUCCESS) bill', prepare: async (packageInfo: string): Promise<unknown> => confirm(packageInfo), status: 400, code: 'INVALID_REQUEST' },
    { case: 'a closed (FAIL) bill', prepare: async (): Promise<unknown> => control(test, 'POST', 'clock', { advanceMs: DAY_MS }), status: 400, code: 'INVALID_REQUEST' },
  ])('refuses to cancel $case', async ({ prepare, status, code }) => {
    const created = await create(test, material, 'CANCEL02');
    await prepare(created.json.package_info);
    const answer = await cancel(test, material, 'CANCEL02');

    expect(answer.status).toBe(status);
    expect(answer.json.code).toBe(code);
  });

  it('answers 404 NOT_FOUND to a cancel of an unknown number and to a cancel body that is not empty', async () => {
    expect((await cancel(test, material, 'NOSUCH01')).json.code).toBe('NOT_FOUND');
    await create(test, material, 'CANCEL03');
    expect((await cancel(test, material, 'CANCEL03', '{"reason":"x"}')).json.code).toBe('PARAM_ERROR');
  });
});

describe('queries', () => {
  it('finds a bill by transfer_bill_no, only for its own merchant', async () => {
    const created = await create(test, material, 'QUERY001');
    const path = `${BILLS}/transfer-bill-no/${created.json.transfer_bill_no}`;
    const own = await callV3(test, material, 'GET', path);
    const other = await callV3(test, material, 'GET', path, '', { mchId: OTHER_MCH_ID, key: material.otherKey, serial: material.otherSerial });

    expect(own.json).toMatchObject({ out_bill_no: 'QUERY001', state: 'WAIT_USER_CONFIRM' });
    expect(other.status).toBe(404);
  });

  it('lags behind a create: 404 NOT_FOUND for the configured time, then the bill', async () => {
    await control(test, 'POST', 'transfers/query-lag', { lagMs: 3000 });
    await create(test, material, 'LAG00001');
    const early = await query(test, material, 'LAG00001');
    await control(test, 'POST', 'clock', { advanceMs: 3000 });
    const later = await query(test, material, 'LAG00001');

    expect(early.status).toBe(404);
    expect(early.json).toEqual({ code: 'NOT_FOUND', message: '记录不存在' });
    expect(later.json.state).toBe('WAIT_USER_CONFIRM');
  });

  it('returns user_name encrypted for the merchant certificate, decryptable with the merchant key only', async () => {
    await create(test, material, 'QUERY002', { user_name: encryptName('李四', material.wechatPublic) });
    const answer = await query(test, material, 'QUERY002');
    const { privateDecrypt, constants } = await import('node:crypto');

    expect(privateDecrypt({ key: material.merchantKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(answer.json.user_name, 'base64')).toString('utf8')).toBe('李四');
  });

  it('forgets bills older than 30 days', async () => {
    await create(test, material, 'OLD00001');
    await control(test, 'POST', 'clock', { advanceMs: 31 * DAY_MS });
    expect((await query(test, material, 'OLD00001')).status).toBe(404);
  });
});

describe('the confirm page (client/request-merchant-transfer)', () => {
  it.each([
    { case: 'another mchId', change: { mchId: OTHER_MCH_ID }, errMsg: 'requestMerchantTransfer:fail mchId does not match the bill' },
    { case: 'another appId', change: { appId: OA_APPID }, errMsg: 'requestMerchantTransfer:fail appId does not match the bill' },
    { case: 'a user who is not the payee', change: { openid: 'oMPuser_000000000000000002' }, errMsg: 'requestMerchantTransfer:fail the WeChat account is not the payee' },
    { case: 'a package it never issued', change: { package: 'ABBQO+oYAAAB' }, errMsg: 'requestMerchantTransfer:fail package invalid or expired' },
    { case: 'the user closing the page', change: { action: 'cancel' }, errMsg: 'requestMerchantTransfer:fail cancel' },
  ])('refuses $case and leaves the bill waiting', async ({ change, errMsg }) => {
    const created = await create(test, material, 'PAGE0001');
    const shown = await confirm(created.json.package_info, change);

    expect(shown.body).toEqual({ errMsg });
    expect(test.transfers.transfers()[0]?.state).toBe('WAIT_USER_CONFIRM');
  });

  it('lets a TRANSFERING bill be reopened without starting a second transfer', async () => {
    const slow = await startV3Sandbox(material, { transferingMs: 5000 });
    try {
      const created = await create(slow, material, 'PAGE0002');
      const args = { appId: MP_APPID, mchId: MCH_ID, package: created.json.package_info, openid: MP_OPENID, action: 'confirm' };
      const first = await control(slow, 'POST', 'client/request-merchant-transfer', args);
      const again = await control(slow, 'POST', 'client/request-merchant-transfer', args);

      expect([first.body.errMsg, again.body.errMsg]).toEqual(['requestMerchantTransfer:ok', 'requestMerchantTransfer:ok']);
      expect(slow.transfers.transfers()[0]).toMatchObject({ state: 'TRANSFERING', confirmedAtMs: BASE_MS });
    } finally {
      await slow.close();
    }
  });

  it.each([
    { case: 'an unknown field', body: { appId: MP_APPID, mchId: MCH_ID, package: 'x', openid: MP_OPENID, action: 'confirm', openId: 'x' } },
    { case: 'another action', body: { appId: MP_APPID, mchId: MCH_ID, package: 'x', openid: MP_OPENID, action: 'reject' } },
    { case: 'no package', body: { appId: MP_APPID, mchId: MCH_ID, openid: MP_OPENID, action: 'confirm' } },
  ])('answers 400 to $case', async ({ body }) => {
    expect((await control(test, 'POST', 'client/request-merchant-transfer', body)).status).toBe(400);
  });
});

describe('control API', () => {
  it('lists the bills with outBillNo, openid, amountFen and state', async () => {
    await create(test, material, 'LIST0001');
    const { body } = await control(test, 'GET', 'transfers');

    expect(body.transfers).toEqual([expect.objectContaining({ outBillNo: 'LIST0001', openid: MP_OPENID, amountFen: 100, state: 'WAIT_USER_CONFIRM', mchId: MCH_ID })]);
  });

  it('resets transfers with the Pay sandbox: no bills, balances back', async () => {
    await create(test, material, 'RESET001');
    await control(test, 'POST', 'reset');

    expect((await control(test, 'GET', 'transfers')).body).toEqual({ transfers: [] });
    expect((await control(test, 'GET', 'transfers/merchants')).body.merchants).toEqual([
      { mchId: MCH_ID, balanceFen: 1_000_000 }, { mchId: OTHER_MCH_ID, balanceFen: 1_000_000 },
    ]);
  });

  it.each([
    { case: 'a balance of another merchant', op: 'transfers/balance', body: { mchId: '1999', balanceFen: 1 } },
    { case: 'a fractional balance', op: 'transfers/balance', body: { mchId: MCH_ID, balanceFen: 1.5 } },
    { case: 'a negative query lag', op: 'transfers/query-lag', body: { lagMs: -1 } },
    { case: 'a notify URL that is not http(s)', op: 'transfers/notify-url', body: { url: 'ftp://x' } },
  ])('answers 400 to $case', async ({ op, body }) => {
    expect((await control(test, 'POST', op, body)).status).toBe(400);
  });
});
