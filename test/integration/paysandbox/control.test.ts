/**
 * The Pay sandbox's HTTP control API under /__sandbox/pay/, mounted on a plain-HTTP server the
 * way the stack mounts it: ledger, stats, merchants, users, clock, reset, and bad input.
 */
import type { TestCertificates } from '../../../scripts/local/certs';
import {
  GETHBINFO_PATH, INITIAL_BALANCE_FEN, MCH_ID, MP_APPID, OA_APPID, OTHER_MCH_ID, SENDREDPACK_PATH,
  callPay, cashFields, control, p12Of, queryFields, startTestPaySandbox, testCertificates, type ClientCert, type TestPaySandbox,
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
beforeEach(async () => {
  await control(test, 'POST', 'reset');
});

const sendCash = (billno: string, overrides: Record<string, string> = {}) => callPay(test, SENDREDPACK_PATH, cashFields(billno, overrides), cert);

describe('GET ledger and GET stats', () => {
  it('lists every paid packet and counts calls per path and replies per err_code', async () => {
    await sendCash('LEDGER0000001');
    await sendCash('LEDGER0000001');
    await sendCash('LEDGER0000002', { total_amount: '50' });
    await callPay(test, GETHBINFO_PATH, queryFields('LEDGER0000009'), cert);

    const ledger = await control(test, 'GET', 'ledger');
    const stats = await control(test, 'GET', 'stats');

    expect(ledger.status).toBe(200);
    expect(ledger.body.packets.map((entry: { mchBillno: string; amountFen: number }) => [entry.mchBillno, entry.amountFen])).toEqual([['LEDGER0000001', 1000]]);
    expect(stats.body).toEqual({
      calls: { [SENDREDPACK_PATH]: 3, [GETHBINFO_PATH]: 1 },
      replies: { [SENDREDPACK_PATH]: { SUCCESS: 2, MONEY_LIMIT: 1 }, [GETHBINFO_PATH]: { NOT_FOUND: 1 } },
      tlsHandshakeFailures: 0,
    });
  });
});

describe('merchants', () => {
  it('shows balances and bound appids, never the API key', async () => {
    await sendCash('MERCH00000001');

    const { body } = await control(test, 'GET', 'merchants');

    expect(body).toEqual({
      merchants: [
        { mchId: MCH_ID, balanceFen: INITIAL_BALANCE_FEN - 1000, appIds: { officialAccount: [OA_APPID], miniProgram: [MP_APPID] } },
        { mchId: OTHER_MCH_ID, balanceFen: INITIAL_BALANCE_FEN, appIds: { officialAccount: [OA_APPID], miniProgram: [] } },
      ],
    });
    expect(JSON.stringify(body)).not.toMatch(/apiKey|SandboxApiKey/);
  });

  it.each([
    { case: 'an unknown merchant', input: { mchId: '1', balanceFen: 5 }, error: /not a sandbox merchant/ },
    { case: 'a fractional balance', input: { mchId: MCH_ID, balanceFen: 1.5 }, error: /whole fen/ },
    { case: 'a negative balance', input: { mchId: MCH_ID, balanceFen: -1 }, error: /from 0/ },
  ])('refuses POST merchants/balance with $case', async ({ input, error }) => {
    const { status, body } = await control(test, 'POST', 'merchants/balance', input);

    expect(status).toBe(400);
    expect(body.error).toMatch(error);
  });

  it('sets a balance', async () => {
    expect((await control(test, 'POST', 'merchants/balance', { mchId: MCH_ID, balanceFen: 5 })).body).toMatchObject({ balanceFen: 5 });
    expect((await sendCash('MERCH00000002')).err_code).toBe('NOTENOUGH');
  });
});

describe('POST users', () => {
  it('registers an openid under one appid and refuses it under another', async () => {
    expect((await control(test, 'POST', 'users', { appid: OA_APPID, openid: 'custom-openid-1' })).body).toEqual({ ok: true });
    expect((await sendCash('USERS00000001', { re_openid: 'custom-openid-1' })).result_code).toBe('SUCCESS');

    const clash = await control(test, 'POST', 'users', { appid: MP_APPID, openid: 'custom-openid-1' });

    expect(clash).toEqual({ status: 400, body: { error: `openid custom-openid-1 already belongs to appid ${OA_APPID}` } });
  });

  it('refuses an appid no merchant is bound to', async () => {
    expect((await control(test, 'POST', 'users', { appid: 'wx0c00000000000zz9', openid: 'oX' })).status).toBe(400);
  });
});

describe('POST reset', () => {
  it('restores balances and forgets packets, users, faults, counters and the clock offset', async () => {
    await sendCash('RESET00000001');
    await control(test, 'POST', 'faults', { path: SENDREDPACK_PATH, errCode: 'SYSTEMERROR' });
    await control(test, 'POST', 'clock', { advanceMs: 5000 });

    await control(test, 'POST', 'reset');

    expect((await control(test, 'GET', 'ledger')).body).toEqual({ packets: [] });
    expect((await control(test, 'GET', 'faults')).body).toEqual({ faults: [] });
    expect((await control(test, 'GET', 'clock')).body).toMatchObject({ offsetMs: 0 });
    expect((await control(test, 'GET', 'stats')).body).toEqual({ calls: {}, replies: {}, tlsHandshakeFailures: 0 });
    expect((await control(test, 'GET', 'merchants')).body.merchants[0].balanceFen).toBe(INITIAL_BALANCE_FEN);
  });
});

describe('bad requests', () => {
  it.each([
    { case: 'an unknown operation', method: 'GET' as const, op: 'nothing', status: 404 },
    { case: 'a wrong method', method: 'DELETE' as const, op: 'ledger', status: 405 },
    { case: 'a misspelt field', method: 'POST' as const, op: 'clock', body: { advanceMS: 5 }, status: 400 },
    { case: 'a negative clock step', method: 'POST' as const, op: 'clock', body: { advanceMs: -5 }, status: 400 },
  ])('answers $status for $case', async ({ method, op, body, status }) => {
    expect((await control(test, method, op, body)).status).toBe(status);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const response = await fetch(`${test.controlUrl}/__sandbox/pay/users`, { method: 'POST', body: '{nope' });

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'the request body is not JSON' });
  });

  it('answers 404 outside the /__sandbox/pay prefix', async () => {
    const response = await fetch(`${test.controlUrl}/__sandbox/ledger`);

    expect(response.status).toBe(404);
    await response.arrayBuffer();
  });
});
