import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/lib/cloudbaserc';
import { ADMIN, callFunction, LOCAL_ACCOUNT, sandbox, startTestStack, upstreamCalls, user, type Stack } from '../helpers/stack';
import { claim, expectPaidEqualsClaimed, ledger, mpOpenid, mpUser, openCampaign, payControl } from '../integration/redpacket/support';

// Ctrl-C and `npm start` again: a stack closed and started on the same folders must still honour what its database
// holds, because the WeChat and Pay sandboxes keep their state beside it.
const run = promisify(execFile);
const TEMPLATES = path.join(ROOT, 'scripts', 'card-templates');
const alice = user('o-mp-alice', 'u-alice');
const bob = user('o-mp-bob', 'u-bob');
const staff = user('o-mp-staff', 'u-staff');

describe('a stack restarted on the same data folders', () => {
  let root: string;
  let stack: Stack;
  const problems: string[] = [];
  const start = () => startTestStack({
    dataDir: path.join(root, 'cloudbase'),
    // The certificates every in-memory test stack shares, not the repository's .local/certs.
    certsDir: path.join(os.tmpdir(), 'wx-local-stack-certs'),
    onPersistenceProblem: (message) => problems.push(message),
  });
  const cards = async (...args: string[]): Promise<string> => (await run(process.execPath, ['--import', 'tsx', 'scripts/cards.ts', '--local', stack.url, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
  })).stdout;
  const addCard = (openid: string, cardList: unknown): Promise<any> =>
    sandbox(stack, 'POST', 'client/add-card', { appid: LOCAL_ACCOUNT.officialAppId, openid, cardList });

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-restart-'));
  });
  afterAll(async () => {
    await stack?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('completes the cards flow, keeps tokens and tickets, and still opens a packet claimed before the restart', async () => {
    stack = await start();
    // Before: the operator creates and registers a card, a user gets it signed and adds it, a packet is claimed.
    const created = await cards('create', path.join(TEMPLATES, 'general-coupon.json'), '--logo', path.join(TEMPLATES, 'logo.png'), '--register');
    const coupon = /card created: (p[0-9A-Za-z_-]{27})/.exec(created)![1]!;
    await cards('link-user', '--unionid', 'u-alice', '--openid', 'oOA-alice');
    await cards('link-user', '--unionid', 'u-bob', '--openid', 'oOA-bob');
    await cards('staff-add', '--openid', 'o-mp-staff', '--name', 'Front desk');
    const signed = await callFunction(stack, 'signCard', { cards: [{ cardId: coupon }] }, alice);
    const added = await addCard('oOA-alice', signed.data.cardList);
    expect(added).toMatchObject({ errMsg: 'addCard:ok' });
    const encryptCode = added.cardList[0].code;
    const tokenBefore = await callFunction(stack, 'getToken', { action: 'status' }, ADMIN);
    const ticketBefore = await callFunction(stack, 'getTicket', { action: 'status', type: 'wx_card' }, ADMIN);
    await openCampaign(stack, { id: 'restart-mp', amount: { fixedFen: 233 }, budgetFen: 233 * 3 });
    const claimed = await claim(stack, 'restart-mp', mpUser('dora'));
    expect(claimed).toMatchObject({ ok: true });
    await sandbox(stack, 'POST', 'clock', { advanceMs: 60_000 });
    const balanceBefore = (await payControl(stack, 'GET', 'merchants')).merchants;
    const callsBefore = await upstreamCalls(stack);
    await stack.close();

    stack = await start();

    // The token and ticket the database holds are still WeChat's: nothing is fetched again.
    await expect(callFunction(stack, 'getToken', { action: 'status' }, ADMIN)).resolves.toMatchObject({ ok: true, data: { version: tokenBefore.data.version } });
    const opened = await callFunction(stack, 'decryptCode', { cardId: coupon, encryptCode }, alice);
    expect(opened).toEqual({ ok: true, data: { cardId: coupon, code: expect.stringMatching(/^\d{12}$/) } });
    const consumed = await callFunction(stack, 'consumeCode', { cardId: coupon, code: opened.data.code }, staff);
    expect(consumed).toMatchObject({ ok: true, data: { status: 'consumed' } });
    // A cardExt signed now with the ticket from the database verifies upstream (the card allows one per user: Bob's).
    const resigned = await callFunction(stack, 'signCard', { cards: [{ cardId: coupon }] }, bob);
    await expect(addCard('oOA-bob', resigned.data.cardList)).resolves.toMatchObject({ errMsg: 'addCard:ok' });
    await expect(callFunction(stack, 'getTicket', { action: 'status', type: 'wx_card' }, ADMIN))
      .resolves.toMatchObject({ ok: true, data: { version: ticketBefore.data.version } });
    const callsAfter = await upstreamCalls(stack);
    for (const credentialPath of ['/cgi-bin/token', '/cgi-bin/stable_token', '/cgi-bin/ticket/getticket']) {
      expect(callsAfter[credentialPath] ?? 0).toBe(callsBefore[credentialPath] ?? 0);
    }

    // The packet paid before the restart is the same packet after it: the repeated claim answers it, the client opens it.
    expect((await payControl(stack, 'GET', 'merchants')).merchants).toEqual(balanceBefore);
    const again = await claim(stack, 'restart-mp', mpUser('dora'));
    expect(again.data.package).toBe(claimed.data.package);
    await expect(payControl(stack, 'POST', 'client/send-biz-red-packet', { appId: LOCAL_ACCOUNT.miniProgramAppId, ...claimed.data }))
      .resolves.toEqual({ errMsg: 'sendBizRedPacket:ok' });
    expect((await ledger(stack)).filter((packet) => packet.openid === mpOpenid('dora')))
      .toEqual([expect.objectContaining({ amountFen: 233, status: 'RECEIVED' })]);
    await expectPaidEqualsClaimed(stack, 'restart-mp');
    await expect(sandbox(stack, 'GET', 'clock')).resolves.toMatchObject({ offsetMs: 60_000 });
    // pay-v3.json: the Pay sandbox's APIv3 side (transfers) keeps its own snapshot beside pay.json.
    expect(fs.readdirSync(path.join(root, 'sandbox')).sort()).toEqual(['pay-v3.json', 'pay.json', 'wechat.json']);
    expect(problems).toEqual([]);
  }, 90_000);

  it('keeps no files at all for a stack whose data lives in memory', async () => {
    const unused = path.join(root, 'in-memory');
    const memoryStack = await startTestStack({ sandboxDataDir: unused });
    await callFunction(memoryStack, 'getTicket', { type: 'wx_card' }, ADMIN);
    await sandbox(memoryStack, 'POST', 'clock', { advanceMs: 1 });
    await memoryStack.close();

    expect(fs.existsSync(unused)).toBe(false);
  });
});
