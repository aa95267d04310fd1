/**
 * The product's APIv3 transfer client against the Pay sandbox over real HTTPS: every state, every
 * fault mapped to its typed error and action, signature failures both ways, and key mix-ups.
 * The rule under test throughout: no answer that cannot be believed is ever "failed".
 */
import { generateKeyPairSync } from 'node:crypto';
import { InputError } from '../../../shared/errors';
import { PayV3UnknownOutcomeError } from '../../../shared/pay/v3/errors';
import { TransferAction, mayReplaceTransferBill } from '../../../shared/pay/v3/policy';
import { buildTransferBill, type TransferBillsClient } from '../../../shared/pay/v3/transfer';
import { decryptPayV3SensitiveField } from '../../../shared/signing/pay-v3';
import { control, startV3Sandbox, v3Material, type TestV3Sandbox, type V3Material } from '../paysandbox/v3-support';
import { BASE_MS, MCH_ID, MP_APPID, MP_OPENID, billRequest, clientFor, keysOf } from './support';

const DAY_MS = 86_400_000;
let material: V3Material;
let test: TestV3Sandbox;
let client: TransferBillsClient;
let keys: ReturnType<typeof keysOf>;

beforeAll(async () => {
  material = await v3Material();
  test = await startV3Sandbox(material, { maxAmountFen: 500_000 });
  keys = keysOf(material);
  client = clientFor(test, keys);
});
afterAll(async () => {
  client.close();
  await test.close();
});
beforeEach(() => test.sandbox.control.reset());

const prepared = (outBillNo: string, overrides = {}) => buildTransferBill(billRequest(outBillNo, overrides), keys);
const addFault = (body: Record<string, unknown>): Promise<unknown> => control(test, 'POST', 'transfers/faults', body);
const confirmAs = (packageInfo: string): Promise<unknown> =>
  control(test, 'POST', 'client/request-merchant-transfer', { appId: MP_APPID, mchId: MCH_ID, package: packageInfo, openid: MP_OPENID, action: 'confirm' });

describe('buildTransferBill', () => {
  it('serialises the body once, in the official field order, and names the key user_name is encrypted for', () => {
    const bill = prepared('BUILD001');

    expect(bill).toEqual({
      outBillNo: 'BUILD001',
      amountFen: 100,
      wechatpaySerial: material.wechat.publicKeyId,
      body: '{"appid":"wx0b00000000000mp1","out_bill_no":"BUILD001","transfer_scene_id":"1000","openid":"oMPuser_000000000000000001","transfer_amount":100,"transfer_remark":"新会员有礼","notify_url":"https://merchant.example.com/pay/notify","user_recv_perception":"现金奖励","transfer_scene_report_infos":[{"info_type":"活动名称","info_content":"新会员有礼"},{"info_type":"奖励说明","info_content":"注册会员抽奖一等奖"}]}',
    });
  });

  it.each([
    { case: 'an out_bill_no with a dash', change: { outBillNo: 'BILL-1' }, field: 'outBillNo' },
    { case: 'a fractional amount', change: { amountFen: 1.5 }, field: 'amountFen' },
    { case: 'a remark of 33 characters', change: { transferRemark: '奖'.repeat(33) }, field: 'transferRemark' },
    { case: 'no report infos', change: { reportInfos: [] }, field: 'reportInfos' },
    { case: 'an info_type over 15 characters', change: { reportInfos: [{ infoType: '类'.repeat(16), infoContent: 'x' }] }, field: 'reportInfos[0].infoType' },
    { case: 'a notify URL with a query', change: { notifyUrl: 'https://merchant.example.com/n?x=1' }, field: 'notifyUrl' },
    { case: 'a plain-http notify URL', change: { notifyUrl: 'http://merchant.example.com/n' }, field: 'notifyUrl' },
    { case: '2,000 元 without userName', change: { amountFen: 200_000 }, field: 'userName' },
  ])('refuses $case locally with an InputError naming the field', ({ change, field }) => {
    expect(() => prepared('BUILD002', change)).toThrow(expect.objectContaining({ name: 'InputError', field }));
  });

  it('encrypts userName with OAEP: a new ciphertext every build, so the claim persists one body', () => {
    const first = JSON.parse(prepared('BUILD003', { userName: '张三' }).body).user_name;
    const second = JSON.parse(prepared('BUILD003', { userName: '张三' }).body).user_name;

    expect(first).not.toBe(second);
    expect(Buffer.from(first, 'base64')).toHaveLength(256);
  });
});

describe('through every state', () => {
  it('creates a bill WAIT_USER_CONFIRM with its package; the identical re-send answers the same bill and package', async () => {
    const bill = prepared('FLOW0001');
    const created = await client.create(bill);
    const again = await client.create(bill);

    expect(created).toEqual({
      outBillNo: 'FLOW0001', transferBillNo: expect.any(String), state: 'WAIT_USER_CONFIRM', createTime: '2025-03-01T10:00:00+08:00',
      packageInfo: expect.any(String), failReason: undefined,
    });
    expect(again).toEqual(created);
    expect(test.transfers.transfers()).toHaveLength(1);
  });

  it('follows a confirmed bill to SUCCESS by query, either number', async () => {
    const created = await client.create(prepared('FLOW0002'));
    await confirmAs(created.packageInfo!);
    const byOut = await client.queryByOutBillNo('FLOW0002');
    const byWechat = await client.queryByTransferBillNo(created.transferBillNo);

    expect(byOut).toEqual({
      found: true,
      bill: {
        mchId: MCH_ID, outBillNo: 'FLOW0002', transferBillNo: created.transferBillNo, appId: MP_APPID, state: 'SUCCESS', amountFen: 100,
        transferRemark: '新会员有礼', failReason: undefined, openid: MP_OPENID, userNameCiphertext: undefined,
        createTime: '2025-03-01T10:00:00+08:00', updateTime: '2025-03-01T10:00:00+08:00',
      },
    });
    expect(byWechat).toEqual(byOut);
    expect(mayReplaceTransferBill('SUCCESS')).toBe(false);
  });

  it('sees ACCEPTED, PROCESSING and TRANSFERING when they take time', async () => {
    const slow = await startV3Sandbox(material, { acceptedMs: 1000, processingMs: 1000, transferingMs: 1000 });
    const slowClient = clientFor(slow, keys);
    const state = async (): Promise<string | undefined> => {
      const lookup = await slowClient.queryByOutBillNo('FLOW0003');
      return lookup.found ? lookup.bill.state : undefined;
    };
    try {
      const seen: string[] = [(await slowClient.create(prepared('FLOW0003'))).state];
      await control(slow, 'POST', 'clock', { advanceMs: 1000 });
      seen.push(await state() ?? 'none');
      await control(slow, 'POST', 'clock', { advanceMs: 1000 });
      // package_info comes only from create: the identical re-send hands it out once the bill waits.
      const waiting = await slowClient.create(prepared('FLOW0003'));
      seen.push(waiting.state);
      await control(slow, 'POST', 'client/request-merchant-transfer', { appId: MP_APPID, mchId: MCH_ID, package: waiting.packageInfo, openid: MP_OPENID, action: 'confirm' });
      seen.push(await state() ?? 'none');

      expect(seen).toEqual(['ACCEPTED', 'PROCESSING', 'WAIT_USER_CONFIRM', 'TRANSFERING']);
    } finally {
      slowClient.close();
      await slow.close();
    }
  });

  it('cancels a waiting bill; CANCELLED is final and lets the claim use a new number', async () => {
    await client.create(prepared('FLOW0004'));
    const cancelled = await client.cancel('FLOW0004');
    const lookup = await client.queryByOutBillNo('FLOW0004');

    expect(cancelled).toMatchObject({ outBillNo: 'FLOW0004', state: 'CANCELLED' });
    expect(lookup.found && lookup.bill.state).toBe('CANCELLED');
    expect(mayReplaceTransferBill('CANCELLED')).toBe(true);
  });

  it('reads the 24 h close as FAIL OVERDUE_CLOSE', async () => {
    await client.create(prepared('FLOW0005'));
    await control(test, 'POST', 'clock', { advanceMs: DAY_MS });
    const lookup = await client.queryByOutBillNo('FLOW0005');

    expect(lookup).toMatchObject({ found: true, bill: { state: 'FAIL', failReason: 'OVERDUE_CLOSE' } });
  });

  it('reports a refused cancel (already confirmed) as FINAL for the cancel, not for the bill', async () => {
    const created = await client.create(prepared('FLOW0006'));
    await confirmAs(created.packageInfo!);

    await expect(client.cancel('FLOW0006')).rejects.toMatchObject({ name: 'PayV3ApiError', status: 400, errCode: 'INVALID_REQUEST', action: TransferAction.FINAL });
  });

  it('answers found: false while WeChat does not know the number, and the bill once the query catches up', async () => {
    await control(test, 'POST', 'transfers/query-lag', { lagMs: 2000 });
    await client.create(prepared('FLOW0007'));

    await expect(client.queryByOutBillNo('FLOW0007')).resolves.toEqual({ found: false });
    await control(test, 'POST', 'clock', { advanceMs: 2000 });
    await expect(client.queryByOutBillNo('FLOW0007')).resolves.toMatchObject({ found: true });
  });

  it.each([
    { case: 'the WeChat Pay public key', values: {} },
    { case: 'a platform certificate only', values: (m: V3Material) => ({ publicKeyId: undefined, publicKeyPem: undefined, platformCertPems: m.wechat.platformCertPem }) },
  ])('sends a 2,000 元 bill with the name encrypted for $case, and reads it back decrypted with the merchant key', async ({ values }) => {
    const modeKeys = keysOf(material, typeof values === 'function' ? values(material) : values);
    const modeClient = clientFor(test, modeKeys);
    try {
      const bill = buildTransferBill(billRequest('NAME0001', { amountFen: 200_000, userName: '张三' }), modeKeys);
      await modeClient.create(bill);
      const lookup = await modeClient.queryByOutBillNo('NAME0001');

      expect(test.transfers.transfers()[0]?.userName).toBe('张三');
      expect(lookup.found && decryptPayV3SensitiveField(lookup.bill.userNameCiphertext!, modeKeys.merchantPrivateKey)).toBe('张三');
    } finally {
      modeClient.close();
    }
  });
});

describe('WeChat errors, typed, with the next step', () => {
  it.each([
    { code: 'SYSTEM_ERROR', status: 500, action: TransferAction.RETRY_SAME_BILL },
    { code: 'FREQUENCY_LIMITED', status: 429, action: TransferAction.BACKOFF_SAME_BILL },
    { code: 'NOT_ENOUGH', status: 403, action: TransferAction.BACKOFF_SAME_BILL },
    { code: 'NO_AUTH', status: 403, action: TransferAction.FIX_CONFIG },
    { code: 'PARAM_ERROR', status: 400, action: TransferAction.FIX_CONFIG },
    { code: 'BRAND_NEW_CODE', status: 400, action: TransferAction.QUERY_FIRST },
  ])('rejects a create answered $status $code with a verified PayV3ApiError: $action', async ({ code, status, action }) => {
    await addFault({ operation: 'create', code, ...(code === 'BRAND_NEW_CODE' ? { status } : {}) });

    await expect(client.create(prepared('ERR00001'))).rejects.toMatchObject({
      name: 'PayV3ApiError', endpoint: 'transfer-bills.create', status, errCode: code, verified: true, action,
    });
  });

  it('keeps the real NOT_ENOUGH of an empty 运营账户, and the same number goes through after a top-up', async () => {
    test.transfers.setBalance({ mchId: MCH_ID, balanceFen: 0 });
    const bill = prepared('ERR00002');
    await expect(client.create(bill)).rejects.toMatchObject({ errCode: 'NOT_ENOUGH', action: TransferAction.BACKOFF_SAME_BILL });
    test.transfers.setBalance({ mchId: MCH_ID, balanceFen: 1000 });

    await expect(client.create(bill)).resolves.toMatchObject({ state: 'WAIT_USER_CONFIRM' });
  });

  it('keeps WeChat\'s code for the same number with other parameters', async () => {
    await client.create(prepared('ERR00003'));
    await expect(client.create(prepared('ERR00003', { amountFen: 101 }))).rejects.toMatchObject({ errCode: 'INVALID_REQUEST', action: TransferAction.FIX_CONFIG });
  });
});

describe('outcome unknown: never "failed"', () => {
  it.each([
    { case: 'a dropped connection after the bill was created', fault: { drop: true, accept: true }, reason: 'ECONNRESET' },
    { case: 'a gateway 502 without WeChat\'s body', fault: { status: 502, accept: true }, reason: 'HTTP 502 without WeChat\'s error body' },
    { case: 'a cut-off body', fault: { unparseable: true, accept: true }, reason: 'answer is not a JSON object' },
    { case: 'an answer without signature', fault: { signature: 'missing' }, reason: 'answer signature not verified: missing_header' },
    { case: 'an answer with a wrong signature', fault: { signature: 'invalid' }, reason: 'answer signature not verified: bad_signature' },
    { case: 'an answer signed by a key it does not know', fault: { signature: 'unknown-serial' }, reason: 'answer signature not verified: unknown_serial' },
    { case: 'an answer stamped 10 minutes ago', fault: { signature: 'stale' }, reason: 'answer signature not verified: stale_timestamp' },
    { case: 'a forged SYSTEM_ERROR with a bad signature', fault: { code: 'SYSTEM_ERROR', signature: 'invalid', accept: true }, reason: 'answer signature not verified: bad_signature' },
  ])('reports $case as PayV3UnknownOutcomeError (query first); the bill exists and the identical re-send returns its package', async ({ fault, reason }) => {
    await addFault({ operation: 'create', ...fault });
    const bill = prepared('UNKN0001');

    const error = await client.create(bill).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PayV3UnknownOutcomeError);
    expect(error).toMatchObject({ reason: expect.stringContaining(reason), action: TransferAction.QUERY_FIRST });
    await expect(client.queryByOutBillNo('UNKN0001')).resolves.toMatchObject({ found: true, bill: { state: 'WAIT_USER_CONFIRM' } });
    await expect(client.create(bill)).resolves.toMatchObject({ state: 'WAIT_USER_CONFIRM', packageInfo: expect.any(String) });
    expect(test.transfers.transfers()).toHaveLength(1);
  });

  it('reports a timeout as unknown, while WeChat went on to create the bill', async () => {
    await addFault({ operation: 'create', accept: true, delayMs: 400 });
    const hasty = clientFor(test, keys, { timeoutMs: 200 });
    try {
      await expect(hasty.create(prepared('UNKN0002'))).rejects.toMatchObject({ name: 'PayV3UnknownOutcomeError', reason: 'ETIMEDOUT' });
    } finally {
      hasty.close();
    }
    await expect(client.queryByOutBillNo('UNKN0002')).resolves.toMatchObject({ found: true });
  });

  it('reports an unverifiable query as unknown, never as "not found"', async () => {
    await addFault({ operation: 'queryByOutBillNo', code: 'NOT_FOUND', signature: 'invalid' });
    await expect(client.queryByOutBillNo('UNKN0003')).rejects.toBeInstanceOf(PayV3UnknownOutcomeError);
  });
});

describe('signature failures of our own requests', () => {
  it('is refused with an unsigned 401 SIGN_ERROR when signed with a key that is not the certificate\'s (serial-only configuration)', async () => {
    const wrongKeys = keysOf(material, { merchantCertPem: undefined, merchantSerialNo: material.merchantSerial, merchantKeyPem: material.certs.other.merchantKeyPem });
    const wrong = clientFor(test, wrongKeys);
    try {
      await expect(wrong.create(prepared('SELF0001'))).rejects.toMatchObject({
        name: 'PayV3ApiError', status: 401, errCode: 'SIGN_ERROR', errMessage: '错误的签名，验签失败', verified: false, action: TransferAction.FIX_CONFIG,
        detail: { sign_information: { method: 'POST', url: '/v3/fund-app/mch-transfer/transfer-bills' } },
      });
    } finally {
      wrong.close();
    }
    expect(test.transfers.transfers()).toEqual([]);
  });

  it('is refused when its clock is 5 minutes off', async () => {
    const skewed = clientFor(test, keys, { nowMs: BASE_MS + 300_000 });
    try {
      // Its own check refuses the answer's timestamp too, but the 401 carries no signature to check.
      await expect(skewed.queryByOutBillNo('SELF0002')).rejects.toMatchObject({ status: 401, errCode: 'SIGN_ERROR', errMessage: 'Http头Authorization中的timestamp与发起请求的时间不得超过5分钟' });
    } finally {
      skewed.close();
    }
  });

  it('signs GET, POST with body and POST without body alike: all three calls pass', async () => {
    await client.create(prepared('SELF0003'));
    await client.queryByOutBillNo('SELF0003');
    await client.cancel('SELF0003');

    expect(test.transfers.stats()).toMatchObject({ signatureRefusals: 0, replies: { create: { SUCCESS: 1 }, queryByOutBillNo: { SUCCESS: 1 }, cancel: { SUCCESS: 1 } } });
  });
});

describe('key mix-ups', () => {
  it('cannot believe any answer when configured with another public key under WeChat\'s id', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const mixed = clientFor(test, keysOf(material, { publicKeyPem: stranger }));
    try {
      await expect(mixed.queryByOutBillNo('MIX00001')).rejects.toMatchObject({ name: 'PayV3UnknownOutcomeError', reason: 'answer signature not verified: bad_signature' });
    } finally {
      mixed.close();
    }
  });

  it('cannot believe any answer when its public key id is not WeChat\'s (WeChat signs with the key it knows)', async () => {
    const mixed = clientFor(test, keysOf(material, { publicKeyId: 'PUB_KEY_ID_0114232134912410000000000000' }));
    try {
      await expect(mixed.queryByOutBillNo('MIX00002')).rejects.toMatchObject({ name: 'PayV3UnknownOutcomeError', reason: 'answer signature not verified: unknown_serial' });
    } finally {
      mixed.close();
    }
  });

  it('verifies platform-certificate answers when configured with the certificate only, even while WeChat defaults to the public key', async () => {
    const platformOnly = clientFor(test, keysOf(material, { publicKeyId: undefined, publicKeyPem: undefined, platformCertPems: material.wechat.platformCertPem }));
    try {
      await expect(platformOnly.queryByOutBillNo('MIX00003')).resolves.toEqual({ found: false });
    } finally {
      platformOnly.close();
    }
  });
});

describe('input checks before any request', () => {
  it.each([
    { case: 'a query for a malformed number', run: (): Promise<unknown> => client.queryByOutBillNo('../x') },
    { case: 'a cancel for a malformed number', run: (): Promise<unknown> => client.cancel('a b') },
    { case: 'a create whose body is of another number', run: (): Promise<unknown> => client.create({ ...prepared('INPUT001'), outBillNo: 'INPUT002' }) },
  ])('refuses $case with an InputError', async ({ run }) => {
    await expect(run()).rejects.toBeInstanceOf(InputError);
    expect(test.transfers.stats().calls).toEqual({});
  });
});

describe('secrets', () => {
  it('keeps the merchant key, the APIv3 key and the request signature out of every error', async () => {
    const errors: unknown[] = [];
    await addFault({ operation: 'create', drop: true });
    errors.push(await client.create(prepared('SECRET01')).catch((error: unknown) => error));
    await addFault({ operation: 'create', code: 'SYSTEM_ERROR' });
    errors.push(await client.create(prepared('SECRET01')).catch((error: unknown) => error));
    const wrong = clientFor(test, keysOf(material, { merchantCertPem: undefined, merchantSerialNo: material.merchantSerial, merchantKeyPem: material.certs.other.merchantKeyPem }));
    errors.push(await wrong.create(prepared('SECRET01')).catch((error: unknown) => error));
    wrong.close();

    const text = errors.map((error) => {
      const { cause } = error as Error;
      return [String(error), JSON.stringify(error), cause === undefined ? '' : `${String(cause)} ${JSON.stringify(cause)}`].join('\n');
    }).join('\n');
    const keyLines = [material.certs.main.merchantKeyPem, material.certs.other.merchantKeyPem].flatMap((pem) => pem.split('\n').slice(1, -2));
    expect(errors).toHaveLength(3);
    for (const line of keyLines) expect(text).not.toContain(line);
    expect(text).not.toContain(keys.apiV3Key);
    expect(text).not.toMatch(/WECHATPAY2-SHA256-RSA2048 mchid=/);
  });
});
