/**
 * The claim pages through the local stack (real bundles, the sandbox playing WeChat's browser):
 * requests per second of the page against a static asset of the same function (the host's own
 * cost, no database), and database requests per step of a follow campaign's claim — landing,
 * OAuth callback, page, claim — against a mini-program cash claim of sendRedPacket in the same run
 * (the engine's own minimum). Exported for `npm run bench` (scripts/bench/index.ts).
 */
import { createCampaign } from '../campaign';
import { linkUser } from '../../shared/users/links';
import { LOCAL_ACCOUNT, startStack, type Stack } from '../local/stack';
import { operatorStore, percentile } from './common';

type Row = Record<string, string | number>;

const SHENZHEN_IP = '120.24.78.68';
const SUB = 'wx10ca1000000000a3';

async function timed(stack: Stack, total: number, concurrency: number, request: () => Promise<unknown>): Promise<{ rps: number; p50: number; p99: number }> {
  const times: number[] = [];
  let left = total;
  const startedMs = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (left > 0) {
      left -= 1;
      const t = performance.now();
      await request();
      times.push(performance.now() - t);
    }
  }));
  const seconds = (performance.now() - startedMs) / 1000;
  void stack;
  return { rps: total / seconds, p50: percentile(times, 50), p99: percentile(times, 99) };
}

function csrfOf(body: string): string {
  const csrf = /name="csrf" value="([^"]+)"/.exec(body)?.[1];
  if (csrf === undefined) throw new Error(`no claim button: ${/data-reason="([^"]*)"/.exec(body)?.[1] ?? '?'}`);
  return csrf;
}

export async function benchClaimPages(): Promise<Array<{ title: string; rows: Row[] }>> {
  const stack = await startStack({ port: 0, dataDir: null, quiet: true, instancesPerFunction: 4 });
  try {
    process.env.TENCENTCLOUD = 'true';
    const store = operatorStore(stack);
    const nowMs = Date.now();
    const texts = { sendName: '本地服务号', wishing: '感谢关注', actName: '新关注有礼', remark: 'bench' };
    await createCampaign(store, {
      id: 'bench-follow', eligibility: 'follow', payout: 'cash', ...texts, startsAt: nowMs - 60_000, endsAt: nowMs + 3_600_000, budgetFen: 100_000, amount: { fixedFen: 100 },
      regions: ['中国/广东省'], ipCallsPerMinute: 10_000, claimsPerSecond: 10_000, follow: { channels: [{ appId: SUB, channel: 'account' }], followerProof: 'first-open' },
    });
    await createCampaign(store, { id: 'bench-cash', payout: 'cash', ...texts, startsAt: nowMs - 60_000, endsAt: nowMs + 3_600_000, budgetFen: 100_000, amount: { fixedFen: 100 }, claimsPerSecond: 10_000 });
    const browser = stack.sandbox.control.browser;
    const users = stack.sandbox.control.users;
    const db = () => stack.cloudbase.stats().total;

    // Warm every instance and credential first (tokens, the jsapi ticket, campaign copies).
    const warm = async (user: string) => {
      const reply = await users.follow({ user, appid: SUB });
      const link = /href="([^"]+)"/.exec(String(reply.reply?.Content ?? ''))![1]!;
      const page = await browser.open({ user, url: link, clientIp: SHENZHEN_IP });
      await browser.open({ user, url: `${stack.url}/claim/claim`, method: 'POST', form: { csrf: csrfOf(page.body) }, clientIp: SHENZHEN_IP });
    };
    for (let n = 0; n < 8; n += 1) await warm(`warm-${n}`);

    // Per step of one person's claim, one person at a time: database requests (and how many HTTP requests the browser made).
    const N = 60;
    const steps = { landing: 0, callbackAndPage: 0, claim: 0 };
    for (let n = 0; n < N; n += 1) {
      const user = `step-${n}`;
      const reply = await users.follow({ user, appid: SUB });
      const link = /href="([^"]+)"/.exec(String(reply.reply?.Content ?? ''))![1]!;
      let before = db();
      const landing = await fetch(link, { redirect: 'manual', headers: { 'x-local-client-ip': SHENZHEN_IP } });
      steps.landing += db() - before;
      await landing.arrayBuffer();
      before = db();
      // The rest of the OAuth round trip and the page, as the browser makes it (its cookie jar is fresh for this user).
      const page = await browser.open({ user, url: link, clientIp: SHENZHEN_IP });
      steps.callbackAndPage += db() - before;
      before = db();
      await browser.open({ user, url: `${stack.url}/claim/claim`, method: 'POST', form: { csrf: csrfOf(page.body) }, clientIp: SHENZHEN_IP });
      steps.claim += db() - before;
    }
    // The baseline: sendRedPacket's cash claim by a linked mini-program user, the same engine and payout.
    let cashDb = 0;
    for (let n = 0; n < N; n += 1) {
      const unionid = `uBench_${n}`;
      await linkUser(store, { officialAppId: LOCAL_ACCOUNT.officialAppId, unionid, openid: `oBenchOA_${n}`.padEnd(16, '0'), source: 'operator' });
      const before = db();
      await fetch(`${stack.url}/functions/sendRedPacket`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: { campaignId: 'bench-cash' }, caller: { type: 'miniprogram', openid: `oBenchMP_${n}`.padEnd(16, '0'), appid: LOCAL_ACCOUNT.miniProgramAppId, unionid } }),
      }).then((response) => response.arrayBuffer());
      cashDb += db() - before;
    }
    const perClaim: Row[] = [
      { path: 'baseline: sendRedPacket cash claim (mini-program user, linked)', 'db requests / person': (cashDb / N).toFixed(1), ratio: '1.00' },
      { path: 'claim page: the claim (POST /claim/claim)', 'db requests / person': (steps.claim / N).toFixed(1), ratio: (steps.claim / cashDb).toFixed(2) },
      { path: 'claim page: landing (link checked, opened, session, state)', 'db requests / person': (steps.landing / N).toFixed(1), ratio: (steps.landing / cashDb).toFixed(2) },
      { path: 'claim page: landing again, OAuth callback, the page', 'db requests / person': (steps.callbackAndPage / N).toFixed(1), ratio: (steps.callbackAndPage / cashDb).toFixed(2) },
      {
        path: 'claim page: one person\'s whole visit', 'db requests / person': ((steps.landing + steps.callbackAndPage + steps.claim) / N).toFixed(1),
        ratio: ((steps.landing + steps.callbackAndPage + steps.claim) / cashDb).toFixed(2),
      },
    ];

    // Requests per second: the page of a ready session, against a static asset of the same function.
    const reply = await users.follow({ user: 'rps', appid: SUB });
    const link = /href="([^"]+)"/.exec(String(reply.reply?.Content ?? ''))![1]!;
    const landing = await fetch(link, { redirect: 'manual' });
    const cookie = landing.headers.getSetCookie()[0]!.split(';')[0]!;
    const authorize = await fetch(landing.headers.get('location')!.replace('#wechat_redirect', ''), { redirect: 'manual', headers: { 'user-agent': 'MicroMessenger', 'x-sandbox-user': 'rps' } });
    await fetch(authorize.headers.get('location')!, { redirect: 'manual', headers: { cookie } });
    const pageBody = await (await fetch(`${stack.url}/claim/page`, { headers: { cookie } })).text();
    const asset = /href="(\/claim\/assets\/claim\.[0-9a-f]+\.css)"/.exec(pageBody)![1]!;
    const TOTAL = 800;
    const CONCURRENCY = 16;
    const baseline = await timed(stack, TOTAL, CONCURRENCY, () => fetch(`${stack.url}${asset}`).then((response) => response.arrayBuffer()));
    const beforePage = db();
    const page = await timed(stack, TOTAL, CONCURRENCY, () => fetch(`${stack.url}/claim/page`, { headers: { cookie } }).then((response) => response.arrayBuffer()));
    const pageDb = (db() - beforePage) / TOTAL;
    const rps: Row[] = [
      { request: 'baseline: GET a static asset of claimPage', 'req/s': baseline.rps.toFixed(0), 'p50 ms': baseline.p50.toFixed(1), 'p99 ms': baseline.p99.toFixed(1), 'db requests': '0.0', 'vs baseline': '1.00' },
      { request: 'GET /claim/page (a ready session)', 'req/s': page.rps.toFixed(0), 'p50 ms': page.p50.toFixed(1), 'p99 ms': page.p99.toFixed(1), 'db requests': pageDb.toFixed(1), 'vs baseline': (page.rps / baseline.rps).toFixed(2) },
    ];
    return [
      { title: `Claim page: requests per second through the host (${CONCURRENCY} at a time, 4 instances)`, rows: rps },
      { title: 'Claim page: database requests per person of a follow campaign (one person at a time), against sendRedPacket\'s cash claim', rows: perClaim },
    ];
  } finally {
    await stack.close();
  }
}
