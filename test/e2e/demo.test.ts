/**
 * `npm run demo` against a stack: every step runs for real (the CLIs as processes, the function
 * calls over HTTP) and the tour ends at the console, where the operator it created can sign in.
 */
import { runDemo } from '../../scripts/demo';
import { startTestStack, type Stack } from '../helpers/stack';

describe('npm run demo', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 2 });
  });
  afterAll(() => stack.close());

  it('tours every flow, printing each command and the values the next one needs, and ends at a console the operator can sign in to', async () => {
    const lines: string[] = [];

    const code = await runDemo(stack.url, (line) => lines.push(line));

    const output = lines.join('\n');
    expect({ code, tail: output.slice(-1500) }).toMatchObject({ code: 0 });
    for (const step of ['Credentials', 'A card coupon, from template to redemption', 'A mini-program red packet', 'A cash red packet', 'Follows, counted per channel', 'A merchant transfer (商家转账)', 'Follow-to-claim', 'The mini-program web-view claim page', 'The operator console']) {
      expect(output).toContain(step);
    }
    expect(output).toMatch(/→ the same user again: paid \(the same packet\); a forwarded link: link_reused; a re-follow: ".*仅限首次关注的新用户.*"; from 北京: region/);
    expect(output).toMatch(/^LINK=.*\/claim\/f\?l=/m);
    expect(output).toMatch(/^CARD=p[0-9A-Za-z_-]{27}$/m);
    expect(output).toMatch(/^CODE=\d+$/m);
    expect(output).toContain('→ a second scan: already_consumed');
    expect(output).toContain('→ sendBizRedPacket:ok');
    // Commands a user can type again as printed: a ready template with --id (no temporary file), the one link syntax.
    expect(output).toMatch(/^\$ npm run campaign -- --local \S+ create scripts\/campaign-templates\/miniprogram\.json --id demo-mp-\w+$/m);
    expect(output).toMatch(/^\$ npm run campaign -- --local \S+ link-user --unionid uUnion_demo_\w+ --openid oOfficial_demo_\w+$/m);
    // A long listing is cut instead of filling the screen.
    expect(output).toMatch(/^\$ npm run campaign -- --local \S+ --json list\n( {2}.*\n){20} {2}… \(\d+ more lines\)$/m);
    expect(output).toContain(`$ curl -s -XPOST ${stack.url}/functions/decryptCode -H 'content-type: application/json' -d '`);
    expect(output).toContain(`${stack.url}/console/sign-in`);
    // The follows: a QR channel of the service account and the subscription account's own channel, in accounts stats.
    expect(output).toMatch(/^\$ npm run accounts -- --local \S+ qr wx10ca1000000000a1 demo-poster-\w+ --out /m);
    expect(output).toMatch(/^ {4}demo-poster-\w+\s+follows 1 \(1 first, 0 returning\)/m);
    expect(output).toMatch(/^ {2}wx10ca1000000000a2 {2}follows 1 \(1 first/m);
    // The transfer: the user confirms, the bill is SUCCESS and the claim RECEIVED.
    expect(output).toContain('→ requestMerchantTransfer:ok');
    expect(output).toMatch(/→ bill \w{28} \(WeChat's \d+\) is SUCCESS/);
    expect(output).toMatch(/^CLAIM=demo-transfer-\w+:openid:wx10ca1000000000b2:oMP_tr_\w+$/m);
    expect(output).toMatch(/claims {3}.*WAITING 0, HELD 0, SENT 0, RECEIVED 1, FAILED 0/);

    const password = /password (\S+)\s+\(a local operator/.exec(output)![1]!;
    const form = await fetch(`${stack.url}/console/sign-in`);
    const pre = /__Host-console-pre=([^;]+)/.exec(form.headers.get('set-cookie') ?? '')![1]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const signIn = await fetch(`${stack.url}/console/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `__Host-console-pre=${pre}` },
      body: new URLSearchParams({ csrf, name: 'demo', password }).toString(),
    });
    expect(signIn.status).toBe(303);
    const session = /__Host-console-session=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')![1]!;
    const campaigns = await (await fetch(`${stack.url}/console/campaigns`, { headers: { cookie: `__Host-console-session=${session}` } })).text();
    expect(campaigns).toMatch(/data-campaign="demo-mp-/);
    expect(campaigns).toMatch(/data-campaign="demo-cash-/);
    expect(campaigns).toMatch(/data-campaign="demo-transfer-/);
    const ledger = await (await fetch(`${stack.url}/console/ledger?kind=transfer`, { headers: { cookie: `__Host-console-session=${session}` } })).text();
    expect(ledger).toMatch(/<td>transfer<\/td>/);
    const accounts = await (await fetch(`${stack.url}/console/accounts`, { headers: { cookie: `__Host-console-session=${session}` } })).text();
    expect(accounts).toMatch(/data-channel="demo-poster-\w+"/);
  }, 120_000);

  it('stops with a clear message and a failing exit code when no stack answers', async () => {
    const lines: string[] = [];

    const code = await runDemo('http://127.0.0.1:1', (line) => lines.push(line));

    expect(code).toBe(1);
    expect(lines.join('\n')).toContain('No local stack answers at http://127.0.0.1:1');
  });
});
