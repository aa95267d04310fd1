/**
 * What `npm start` prints once the stack runs: every endpoint a user needs — each function, each
 * HTTP-access route (from cloudbaserc.json, so a new route appears without editing this), the
 * WeChat and Pay sandboxes with their control and fault APIs — and what to do next.
 */
import type { FunctionEntry } from './cloudbaserc';

export interface BannerInput {
  url: string;
  /** The Pay sandbox's own HTTPS address (the Pay API, with a test CA). */
  payUrl: string;
  functions: ReadonlyArray<Pick<FunctionEntry, 'name' | 'path' | 'triggers'> & { description?: string }>;
  envId: string;
  officialAppId: string;
  miniProgramAppId: string;
  mchId: string;
  fixedEgressAddress: string;
  /** The demo follow campaign npm start keeps (scripts/start.ts), for the follow-to-claim tour. */
  followDemo?: { campaignId: string; open: boolean };
}

/** What each HTTP route is for and how to start with it; routes not listed here still appear. */
const ROUTE_HINTS: Readonly<Record<string, string>> = {
  opsConsole: 'the operator console: create a sign-in with `npm run console -- --local operator-add NAME --generate`',
  claimPage: 'the claim pages of follow and web-view campaigns (/claim/f?l=… from a follow\'s reply, /claim/w?t=… from claimPageToken)',
};

/** The follow-to-claim tour: follow as a sandbox user, open the reply's link in WeChat's browser (the sandbox plays it). */
function followTour(url: string, demo: { campaignId: string; open: boolean }): string {
  return `
Follow-to-claim (campaign ${demo.campaignId}${demo.open ? '' : ', ENDED: create another from scripts/campaign-templates/follow.json with --id'}): claim pages at ${url}/claim/…
  1. a sandbox user follows a subscription account; the reply carries the claim link ${url}/claim/f?l=…
     LINK=$(curl -s -XPOST ${url}/__sandbox/users/follow -d '{"user":"amy","appid":"wx10ca1000000000a3"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).reply.Content.match(/href="([^"]+)"/)[1]')
  2. amy opens it in WeChat's browser (the sandbox plays it: OAuth, cookies), from a 广东省 address; the page's CSRF value:
     CSRF=$(curl -s -XPOST ${url}/__sandbox/browser/open -d "{\\"user\\":\\"amy\\",\\"url\\":\\"$LINK\\",\\"clientIp\\":\\"120.24.78.68\\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).body.match(/name="csrf" value="([^"]+)"/)[1]')
  3. she presses the button (→ paid):
     curl -s -XPOST ${url}/__sandbox/browser/open -d "{\\"user\\":\\"amy\\",\\"url\\":\\"${url}/claim/claim\\",\\"method\\":\\"POST\\",\\"form\\":{\\"csrf\\":\\"$CSRF\\"},\\"clientIp\\":\\"120.24.78.68\\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).body.match(/data-state="([a-z_]+)"/)[1]'
  In Chromium: cookie wechat_sandbox_user=amy on 127.0.0.1 and a MicroMessenger User-Agent. The funnel: npm run campaign -- --local show ${demo.campaignId}`;
}

export function startBanner(input: BannerInput): string {
  const { url } = input;
  const width = Math.max(...input.functions.map((fn) => fn.name.length));
  const functions = input.functions.map((fn) => {
    const timers = fn.triggers.map((trigger) => `timer ${trigger.name} (${trigger.config})`).join(', ');
    return `  POST ${url}/functions/${fn.name.padEnd(width)}  ${timers}`.trimEnd();
  });
  const routes = input.functions
    .filter((fn): fn is typeof fn & { path: string } => typeof fn.path === 'string')
    .map((fn) => `  ${`${url}${fn.path}`.padEnd(url.length + 16)} ${fn.name}${ROUTE_HINTS[fn.name] ? ` — ${ROUTE_HINTS[fn.name]}` : fn.description ? ` — ${fn.description}` : ''}`);
  return `
Local stack running at ${url} (everything here is local and fake: nothing reaches WeChat)

Functions — body {"data": {...}, "caller": {...}}; callers {"type":"admin"}, {"type":"function","source":"wx_client,scf"},
{"type":"timer","trigger":"NAME"}, {"type":"miniprogram","openid":"o…","appid":"${input.miniProgramAppId}"}, {"type":"context",…}:
${functions.join('\n')}
  GET  ${url}/functions   (the list, with instances)

HTTP routes (HTTP access, answered as CloudBase's gateway answers them):
${routes.length === 0 ? '  (none declared)' : routes.join('\n')}

Sandboxes:
  WeChat API      ${url}/cgi-bin/…   official account ${input.officialAppId}, mini-program ${input.miniProgramAppId}
                  control ${url}/__sandbox/  (GET stats, POST clock {"advanceMs":…}, POST whitelist, GET cards, POST client/add-card)
  WeChat Pay API  ${input.payUrl}  (its own HTTPS port, test CA in .local/certs; merchant ${input.mchId})
                  control ${url}/__sandbox/pay/  (GET ledger, GET stats, POST clock, POST client/send-biz-red-packet, GET transfers)
  Faults          POST ${url}/__sandbox/faults      {"path":"/cgi-bin/stable_token","errcode":-1,"times":1}   also "delayMs", "drop"
                  POST ${url}/__sandbox/pay/faults  {"path":"/mmpaymkttransfers/sendminiprogramhb","errCode":"SYSTEMERROR","times":1}
                                                    also "drop", "unparseable", "accept" (paid, then the reply lies), "delayMs", "mchBillno"
                  DELETE the same path to clear them; GET lists them
  local CloudBase ${url}/admin (environment "${input.envId}"), GET ${url}/__local/stats; data and sandbox state in .local/ (delete it to start empty)
  fixed outbound IP of getToken: ${input.fixedEgressAddress} (the only address the WeChat sandbox whitelists)

${input.followDemo === undefined ? '' : `${followTour(url, input.followDemo)}

`}Next: \`npm run demo\` in another terminal walks through every flow and ends at the console.
Ctrl-C stops everything.`;
}
