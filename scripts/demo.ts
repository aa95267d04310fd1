/**
 * `npm run demo` (with `npm start` running in another terminal): a narrated tour of every flow,
 * each step printed as the command a user would type, then its result, then the values the next
 * step needs as shell assignments (`CARD=…`). It runs the real commands — the operator CLIs as
 * processes, the function calls over HTTP exactly as the printed curl does — and ends at the
 * console, with a local operator to sign in as. Exits non-zero at the first step that fails.
 *
 * The tour is a list of steps ({@link DEMO_STEPS}): a new capability adds its step there.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { claimIdOf, openidKey } from '../shared/claims/model';
import { ROOT } from './lib/cloudbaserc';
import { ensureLocalStack, defaultLocalUrl } from './lib/cli';
import { LOCAL_ACCOUNT, LOCAL_OFFICIAL_ACCOUNTS } from './local/stack';

export interface DemoContext {
  url: string;
  /** Values later steps use (and the user's shell holds, from the printed assignments). */
  vars: Map<string, string>;
  /** A fresh suffix, so the tour can run again on the same stack. */
  run: string;
  print(line?: string): void;
  /** Runs `npm run <cli> -- <args>` (printed exactly so), returns its stdout. */
  cli(cli: string, args: string[]): Promise<string>;
  /** POSTs JSON to the stack (printed as the equivalent curl), returns the parsed answer. */
  post<T = any>(pathname: string, body: unknown): Promise<T>;
  /** GETs JSON from the stack (printed as the equivalent curl), returns the parsed answer. */
  get<T = any>(pathname: string): Promise<T>;
  /** Prints `NAME=value` for the user's shell and remembers it. */
  set(name: string, value: string): void;
  /** A temporary file for this run (removed at the end). */
  file(name: string, content: string): string;
}

export interface DemoStep {
  title: string;
  /** One or two sentences on what the step shows. */
  explain: string;
  run(ctx: DemoContext): Promise<void>;
}

/** A step's check failed: the tour stops with this message. */
export class DemoStepError extends Error {}

function expectOk<T>(answer: { ok?: boolean; data?: T; error?: unknown }, what: string): T {
  if (answer.ok !== true) throw new DemoStepError(`${what} failed: ${JSON.stringify(answer).slice(0, 400)}`);
  return answer.data as T;
}

/** Shell-safe single quoting for the printed commands. */
function quote(text: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

const MP_APPID = LOCAL_ACCOUNT.miniProgramAppId;
const OA_APPID = LOCAL_ACCOUNT.officialAppId;

const credentials: DemoStep = {
  title: 'Credentials',
  explain: 'getToken is the only code that fetches the access_token (on the fixed outbound IP); functions read it from wx_credentials. Its answer never carries the token itself.',
  async run(ctx) {
    const token = expectOk<{ version: number; expiresAtMs: number }>(await ctx.post('/functions/getToken', { data: {}, caller: { type: 'admin' } }), 'getToken');
    ctx.print(`  → access_token version ${token.version}, valid until ${new Date(token.expiresAtMs).toISOString()}`);
    const ticket = expectOk<{ version: number }>(await ctx.post('/functions/getTicket', { data: { type: 'wx_card' }, caller: { type: 'admin' } }), 'getTicket');
    ctx.print(`  → wx_card api_ticket version ${ticket.version}`);
  },
};

const card: DemoStep = {
  title: 'A card coupon, from template to redemption',
  explain: 'The operator creates and registers a card; a mini-program user gets it signed, adds it (the sandbox plays the WeChat app), opens it, and staff redeem it.',
  async run(ctx) {
    const created = await ctx.cli('cards', ['--local', ctx.url, 'create', 'scripts/card-templates/general-coupon.json', '--logo', 'scripts/card-templates/logo.png', '--register']);
    const cardId = /card created: (p[0-9A-Za-z_-]{27})/.exec(created)?.[1];
    if (cardId === undefined) throw new DemoStepError('cards create printed no card id');
    ctx.set('CARD', cardId);
    const unionid = `u-demo-${ctx.run}`;
    const officialOpenid = `oOA-demo-${ctx.run}`;
    const openid = `o-demo-${ctx.run}`;
    const staffOpenid = `o-staff-${ctx.run}`;
    await ctx.cli('cards', ['--local', ctx.url, 'link-user', '--unionid', unionid, '--openid', officialOpenid]);
    await ctx.cli('cards', ['--local', ctx.url, 'staff-add', '--openid', staffOpenid, '--name', 'Front desk']);
    const user = { type: 'miniprogram', openid, appid: MP_APPID, unionid };
    ctx.set('USER', JSON.stringify(user));
    const signed = expectOk<{ cardList: unknown[] }>(await ctx.post('/functions/signCard', { data: { cards: [{ cardId }] }, caller: user }), 'signCard');
    ctx.print(`  → cardList with ${signed.cardList.length} signed item(s): pass it to wx.addCard as it is`);
    const added = await ctx.post<{ cardList: Array<{ code?: string; isSuccess: boolean }> }>('/__sandbox/client/add-card', { appid: OA_APPID, openid: officialOpenid, cardList: signed.cardList });
    const encryptCode = added.cardList[0]?.code;
    if (encryptCode === undefined || added.cardList[0]?.isSuccess !== true) throw new DemoStepError(`wx.addCard failed: ${JSON.stringify(added).slice(0, 300)}`);
    ctx.set('ENCRYPT_CODE', encryptCode);
    const opened = expectOk<{ code: string }>(await ctx.post('/functions/decryptCode', { data: { cardId, encryptCode }, caller: user }), 'decryptCode');
    ctx.set('CODE', opened.code);
    const staff = { type: 'miniprogram', openid: staffOpenid, appid: MP_APPID };
    const redeemed = expectOk<{ status: string }>(await ctx.post('/functions/consumeCode', { data: { cardId, code: opened.code }, caller: staff }), 'consumeCode');
    ctx.print(`  → ${redeemed.status}`);
    const again = expectOk<{ status: string }>(await ctx.post('/functions/consumeCode', { data: { cardId, code: opened.code }, caller: staff }), 'consumeCode again');
    ctx.print(`  → a second scan: ${again.status} (nothing redeemed twice)`);
  },
};

/** `create` of a ready template (open now: "startsAt": "now") under this run's id, as a user types it. */
function createArgs(ctx: DemoContext, template: string, id: string): string[] {
  return ['--local', ctx.url, 'create', `scripts/campaign-templates/${template}`, '--id', id];
}

const miniProgramPacket: DemoStep = {
  title: 'A mini-program red packet',
  explain: 'The operator creates a campaign; a user claims with only { campaignId } and gets exactly what wx.sendBizRedPacket takes; the sandbox plays the client opening it.',
  async run(ctx) {
    const id = `demo-mp-${ctx.run}`;
    await ctx.cli('campaign', createArgs(ctx, 'miniprogram.json', id));
    ctx.set('CAMPAIGN', id);
    const user = { type: 'miniprogram', openid: `oMP_demo_${ctx.run}`.padEnd(16, '0'), appid: MP_APPID };
    const packet = expectOk<Record<string, string>>(await ctx.post('/functions/sendRedPacket', { data: { campaignId: id }, caller: user }), 'sendRedPacket');
    ctx.print(`  → wx.sendBizRedPacket arguments: timeStamp, nonceStr, package (${packet.package?.slice(0, 18)}…), signType ${packet.signType}, paySign`);
    const opened = await ctx.post<{ errMsg?: string }>('/__sandbox/pay/client/send-biz-red-packet', { appId: MP_APPID, ...packet });
    if (opened.errMsg !== 'sendBizRedPacket:ok') throw new DemoStepError(`opening the packet failed: ${JSON.stringify(opened)}`);
    ctx.print(`  → ${opened.errMsg}`);
  },
};

const cashPacket: DemoStep = {
  title: 'A cash red packet',
  explain: 'A cash packet goes to the user\'s openid under the official account, found from their unionid; the operator links one user by hand (follows fill links by themselves).',
  async run(ctx) {
    const id = `demo-cash-${ctx.run}`;
    await ctx.cli('campaign', createArgs(ctx, 'cash.json', id));
    const unionid = `uUnion_demo_${ctx.run}`;
    await ctx.cli('campaign', ['--local', ctx.url, 'link-user', '--unionid', unionid, '--openid', `oOfficial_demo_${ctx.run}`.padEnd(16, '0')]);
    const user = { type: 'miniprogram', openid: `oMP_cash_${ctx.run}`.padEnd(16, '0'), appid: MP_APPID, unionid };
    const claim = expectOk<{ status: string; amountFen: number }>(await ctx.post('/functions/sendRedPacket', { data: { campaignId: id }, caller: user }), 'sendRedPacket (cash)');
    ctx.print(`  → ${claim.status}, ${(claim.amountFen / 100).toFixed(2)} 元 in the official account's chat`);
  },
};

/** What a claim page shows: its card's state and reason, and the claim form's CSRF token. */
function pageState(body: string): { state: string; reason: string; csrf: string | undefined } {
  return {
    state: /data-state="([^"]*)"/.exec(body)?.[1] ?? '',
    reason: /data-reason="([^"]*)"/.exec(body)?.[1] ?? '',
    csrf: /name="csrf" value="([^"]+)"/.exec(body)?.[1],
  };
}

/** A 广东省 address, and one in 北京, as ip2region's data has them. */
const SHENZHEN_IP = '120.24.78.68';
const BEIJING_IP = '202.106.0.20';

const followToClaim: DemoStep = {
  title: 'Follow-to-claim (read README "Claim pages" first: WeChat forbids inducing follows)',
  explain: 'A sandbox user follows a subscription account; the passive reply carries a signed link; WeChat\'s browser (played by the sandbox) opens it, OAuth on the service account proves who it is, and one cash packet is paid. The same user, a forwarded link, a re-follow and an outside IP are refused.',
  async run(ctx) {
    // A channel belongs to one campaign, and a subscription account has one channel: the tour uses npm start's
    // demo campaign (the banner's), creating it on a stack that has none.
    const id = 'follow-demo';
    const listed = JSON.parse(await ctx.cli('campaign', ['--local', ctx.url, '--json', 'list'])) as { campaigns: Array<{ _id: string }> };
    if (!listed.campaigns.some((campaign) => campaign._id === id)) await ctx.cli('campaign', createArgs(ctx, 'follow.json', id));
    const sub = 'wx10ca1000000000a3';
    const user = `amy-${ctx.run}`;
    const delivery = await ctx.post<{ reply: { Content?: string } | null }>('/__sandbox/users/follow', { user, appid: sub });
    const link = /href="([^"]+)"/.exec(delivery.reply?.Content ?? '')?.[1];
    if (link === undefined) throw new DemoStepError(`the follow's reply has no claim link: ${JSON.stringify(delivery).slice(0, 300)}`);
    ctx.set('LINK', link);
    const open = (who: string, url: string, clientIp: string) => ctx.post<{ body: string }>('/__sandbox/browser/open', { user: who, url, clientIp });
    const page = pageState((await open(user, link, SHENZHEN_IP)).body);
    if (page.csrf === undefined) throw new DemoStepError(`the claim page offers no button: ${page.state} ${page.reason}`);
    const claimed = pageState((await ctx.post<{ body: string }>('/__sandbox/browser/open', { user, url: `${ctx.url}/claim/claim`, method: 'POST', form: { csrf: page.csrf }, clientIp: SHENZHEN_IP })).body);
    if (claimed.state !== 'paid') throw new DemoStepError(`the claim ended ${claimed.state} ${claimed.reason}`);
    ctx.print(`  → ${claimed.state}: one cash packet in the service account's chat`);
    const again = pageState((await open(user, link, SHENZHEN_IP)).body);
    const forwarded = pageState((await open(`bob-${ctx.run}`, link, SHENZHEN_IP)).body);
    await ctx.post('/__sandbox/users/unfollow', { user, appid: sub });
    await ctx.post('/__sandbox/clock', { advanceMs: 1_000 });
    const refollow = await ctx.post<{ reply: { Content?: string } | null }>('/__sandbox/users/follow', { user, appid: sub });
    const farUser = `cai-${ctx.run}`;
    const farLink = /href="([^"]+)"/.exec((await ctx.post<{ reply: { Content?: string } | null }>('/__sandbox/users/follow', { user: farUser, appid: sub })).reply?.Content ?? '')?.[1] ?? '';
    const far = pageState((await open(farUser, farLink, BEIJING_IP)).body);
    const farClaim = far.csrf === undefined ? far : pageState((await ctx.post<{ body: string }>('/__sandbox/browser/open', { user: farUser, url: `${ctx.url}/claim/claim`, method: 'POST', form: { csrf: far.csrf }, clientIp: BEIJING_IP })).body);
    ctx.print(`  → the same user again: ${again.state} (the same packet); a forwarded link: ${forwarded.reason}; a re-follow: "${refollow.reply?.Content ?? ''}"; from 北京: ${farClaim.reason}`);
    if (again.state !== 'paid' || forwarded.reason !== 'link_reused' || (refollow.reply?.Content ?? '').includes('/claim/f') || farClaim.reason !== 'region') {
      throw new DemoStepError('a refusal of the follow campaign did not hold');
    }
    await ctx.cli('campaign', ['--local', ctx.url, 'show', id]);
  },
};

const webviewClaim: DemoStep = {
  title: 'The mini-program web-view claim page',
  explain: 'A mini-program user asks claimPageToken for a one-time page token (identity from the platform), opens the claim page with it in a web-view, and OAuth on the service account links and pays them.',
  async run(ctx) {
    const id = `demo-webview-${ctx.run}`;
    await ctx.cli('campaign', createArgs(ctx, 'webview.json', id));
    const user = `wen-${ctx.run}`;
    const ids = (await (await fetch(`${ctx.url}/__sandbox/users?user=${user}`)).json()) as { openids: Record<string, string>; unionids: Record<string, string> };
    const caller = { type: 'miniprogram', openid: ids.openids[MP_APPID], appid: MP_APPID, unionid: Object.values(ids.unionids)[0] };
    const token = expectOk<{ url: string }>(await ctx.post('/functions/claimPageToken', { data: { campaignId: id }, caller }), 'claimPageToken');
    ctx.set('WEBVIEW_URL', token.url);
    const page = pageState((await ctx.post<{ body: string }>('/__sandbox/browser/open', { user, url: token.url, clientIp: SHENZHEN_IP })).body);
    if (page.csrf === undefined) throw new DemoStepError(`the web-view page offers no button: ${page.state} ${page.reason}`);
    const claimed = pageState((await ctx.post<{ body: string }>('/__sandbox/browser/open', { user, url: `${ctx.url}/claim/claim`, method: 'POST', form: { csrf: page.csrf }, clientIp: SHENZHEN_IP })).body);
    if (claimed.state !== 'paid') throw new DemoStepError(`the web-view claim ended ${claimed.state} ${claimed.reason}`);
    ctx.print(`  → ${claimed.state}, to the user's service-account openid (now linked to their unionid)`);
  },
};

const SERVICE_ACCOUNT = LOCAL_OFFICIAL_ACCOUNTS.find((account) => account.kind === 'service')!.appId;
const SUBSCRIPTION_ACCOUNT = LOCAL_OFFICIAL_ACCOUNTS.find((account) => account.kind === 'subscription')!.appId;

const follows: DemoStep = {
  title: 'Follows, counted per channel',
  explain: 'A WeChat user (played by the sandbox) scans a parametric QR code of the verified service account — a channel — and follows a subscription account, whose channel is the account itself; WeChat pushes both to receivePush, and the counters answer `accounts stats` in a few database requests at any volume.',
  async run(ctx) {
    const channel = `demo-poster-${ctx.run}`;
    await ctx.cli('accounts', ['--local', ctx.url, 'qr', SERVICE_ACCOUNT, channel, '--out', ctx.file(`${channel}.png`, '')]);
    const user = `demo-follower-${ctx.run}`;
    for (const [appid, scene] of [[SERVICE_ACCOUNT, channel], [SUBSCRIPTION_ACCOUNT, undefined]] as const) {
      const pushed = await ctx.post<{ delivered?: boolean; status?: number }>('/__sandbox/users/follow', { user, appid, ...(scene === undefined ? {} : { scene }) });
      if (pushed.delivered !== true || pushed.status !== 200) throw new DemoStepError(`WeChat's push of the follow to ${appid} was not accepted: ${JSON.stringify(pushed).slice(0, 300)}`);
      ctx.print(`  → receivePush answered WeChat's push of the follow of ${appid}${scene === undefined ? '' : ` through channel ${scene}`}`);
    }
    const stats = await ctx.cli('accounts', ['--local', ctx.url, 'stats']);
    if (!new RegExp(`^\\s+${channel}\\s+follows 1 \\(1 first`, 'm').test(stats)) throw new DemoStepError(`accounts stats does not count the follow through ${channel}`);
    const subscription = stats.split('\n').findIndex((line) => line.startsWith(SUBSCRIPTION_ACCOUNT));
    if (subscription === -1 || !/^\s+account\s+follows [1-9]/.test(stats.split('\n')[subscription + 1] ?? '')) throw new DemoStepError(`accounts stats does not count the follow of ${SUBSCRIPTION_ACCOUNT}`);
    ctx.print(`  → one first follow through ${channel}, and the subscription account's own channel counted`);
  },
};

const merchantTransfer: DemoStep = {
  title: 'A merchant transfer (商家转账)',
  explain: 'The payout for merchants WeChat no longer admits to red packets: a user claims with only { campaignId } and gets exactly what wx.requestMerchantTransfer takes; the sandbox plays the user confirming; the bill reaches SUCCESS and the claim RECEIVED.',
  async run(ctx) {
    const id = `demo-transfer-${ctx.run}`;
    await ctx.cli('campaign', createArgs(ctx, 'transfer.json', id));
    const openid = `oMP_tr_${ctx.run}`.padEnd(16, '0');
    const user = { type: 'miniprogram', openid, appid: MP_APPID };
    const args = expectOk<{ mchId: string; appId: string; package: string }>(await ctx.post('/functions/sendRedPacket', { data: { campaignId: id }, caller: user }), 'sendRedPacket (transfer)');
    ctx.print(`  → wx.requestMerchantTransfer arguments: mchId ${args.mchId}, appId ${args.appId}, package (${args.package.slice(0, 12)}…)`);
    const shown = await ctx.post<{ errMsg?: string }>('/__sandbox/pay/client/request-merchant-transfer', { ...args, openid, action: 'confirm' });
    if (shown.errMsg !== 'requestMerchantTransfer:ok') throw new DemoStepError(`confirming the transfer failed: ${JSON.stringify(shown)}`);
    ctx.print(`  → ${shown.errMsg} (the confirm page was shown and confirmed: not yet proof of payment)`);
    const { transfers } = await ctx.get<{ transfers: Array<{ outBillNo: string; transferBillNo: string; openid: string; state: string }> }>('/__sandbox/pay/transfers');
    const bill = transfers.find((entry) => entry.openid === openid);
    if (bill?.state !== 'SUCCESS') throw new DemoStepError(`the bill is ${bill?.state ?? 'missing'}, not SUCCESS`);
    ctx.print(`  → bill ${bill.outBillNo} (WeChat's ${bill.transferBillNo}) is SUCCESS`);
    const claimId = claimIdOf(id, openidKey(MP_APPID, openid));
    ctx.set('CLAIM', claimId);
    // WeChat's notify records the outcome within a second or so; the reconciler's query (what settle runs now) does not wait for it.
    const settled = await ctx.cli('campaign', ['--local', ctx.url, 'settle', claimId]);
    if (/examined 0\b/.test(settled)) ctx.print('  → nothing left to settle: WeChat\'s notify (payNotify) had recorded the outcome already');
    const shownCampaign = await ctx.cli('campaign', ['--local', ctx.url, 'show', id]);
    if (!/RECEIVED 1\b/.test(shownCampaign)) throw new DemoStepError(`the claim is not RECEIVED: ${shownCampaign.slice(0, 400)}`);
    ctx.print('  → the claim is RECEIVED: credited to the user\'s 零钱, in the console\'s ledger as a transfer');
  },
};

const operatorConsole: DemoStep = {
  title: 'The operator console',
  explain: 'Operators are created by the CLI only; the console signs them in (scrypt password, session cookie, CSRF on every change) and shows every campaign, account, follow, packet and transfer above.',
  async run(ctx) {
    const name = 'demo';
    const listed = await ctx.cli('console', ['--local', ctx.url, '--json', 'operator-list']);
    const exists = (JSON.parse(listed) as { operators: Array<{ name: string }> }).operators.some((operator) => operator.name === name);
    const out = await ctx.cli('console', ['--local', ctx.url, exists ? 'operator-reset' : 'operator-add', name, '--generate']);
    const password = /PASSWORD=(\S+)/.exec(out)?.[1];
    if (password === undefined) throw new DemoStepError('the console CLI printed no password');
    const signIn = await fetch(`${ctx.url}/console/sign-in`);
    if (signIn.status !== 200) throw new DemoStepError(`${ctx.url}/console/sign-in answered ${signIn.status}`);
    ctx.vars.set('CONSOLE_USER', name);
    ctx.vars.set('CONSOLE_PASSWORD', password);
  },
};

/** The tour, in order: a new capability adds its step here, on its own line. */
export const DEMO_STEPS: readonly DemoStep[] = [
  credentials,
  card,
  miniProgramPacket,
  cashPacket,
  follows,
  merchantTransfer,
  followToClaim,
  webviewClaim,
  operatorConsole,
];

function runProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: { ...process.env, TENCENTCLOUD: 'true' }, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

/** Lines of a CLI's answer the tour prints. */
const CLI_LINES_SHOWN = 20;

/** Runs the tour against the stack at `url`; returns the exit code. */
export async function runDemo(url: string, write: (line: string) => void = console.log, steps: readonly DemoStep[] = DEMO_STEPS): Promise<number> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'demo-'));
  const vars = new Map<string, string>();
  const print = (line = '') => write(line);
  const ctx: DemoContext = {
    url,
    vars,
    run: Date.now().toString(36),
    print,
    async cli(cli, args) {
      // `--local URL` is printed as plain `--local` when the URL is npm start's default, as a user would type it.
      const shown = args.join('\u0000').replace(`--local\u0000${defaultLocalUrl()}`, '--local').split('\u0000');
      print(`$ npm run ${cli} -- ${shown.map(quote).join(' ')}`);
      const result = await runProcess([`scripts/${cli}.ts`, ...args]);
      // A long answer (a JSON listing) is cut, so the tour stays readable however full the stack is.
      const lines = result.stdout.trimEnd().split('\n').filter((line) => line !== '');
      for (const line of lines.slice(0, CLI_LINES_SHOWN)) print(`  ${line}`);
      if (lines.length > CLI_LINES_SHOWN) print(`  … (${lines.length - CLI_LINES_SHOWN} more lines)`);
      if (result.code !== 0) throw new DemoStepError(`npm run ${cli} failed (exit ${result.code}): ${result.stderr.trim().slice(0, 600)}`);
      return result.stdout;
    },
    async post(pathname, body) {
      const json = JSON.stringify(body);
      print(`$ curl -s -XPOST ${url}${pathname} -H 'content-type: application/json' -d ${quote(json)}`);
      const response = await fetch(`${url}${pathname}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json });
      const text = await response.text();
      print(`  ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`);
      if (response.status >= 400) throw new DemoStepError(`POST ${pathname} answered ${response.status}`);
      return JSON.parse(text);
    },
    async get(pathname) {
      print(`$ curl -s ${url}${pathname}`);
      const response = await fetch(`${url}${pathname}`);
      const text = await response.text();
      print(`  ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`);
      if (response.status >= 400) throw new DemoStepError(`GET ${pathname} answered ${response.status}`);
      return JSON.parse(text);
    },
    set(name, value) {
      vars.set(name, value);
      print(`${name}=${quote(value)}`);
    },
    file(name, content) {
      const file = path.join(tmp, name);
      writeFileSync(file, content);
      return file;
    },
  };
  try {
    await ensureLocalStack(url);
    print(`A tour of every flow on the local stack at ${url}. Each step shows the command to type and what it answers.`);
    for (const [index, step] of steps.entries()) {
      print();
      print(`── ${index + 1}/${steps.length}  ${step.title}`);
      print(`   ${step.explain}`);
      await step.run(ctx);
    }
    print();
    print('── Done. Open the console and sign in:');
    print(`   ${url}/console/sign-in`);
    print(`   name ${vars.get('CONSOLE_USER') ?? '?'}, password ${vars.get('CONSOLE_PASSWORD') ?? '?'}   (a local operator; npm run console -- --local operator-reset demo --generate makes a new password)`);
    return 0;
  } catch (error) {
    write(`\nThe tour stopped: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const index = argv.indexOf('--local');
  const url = index !== -1 && argv[index + 1]?.startsWith('http') ? argv[index + 1]!.replace(/\/+$/, '') : defaultLocalUrl();
  runDemo(url).then((code) => process.exit(code));
}
