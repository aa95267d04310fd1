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
}

/** What each HTTP route is for and how to start with it; routes not listed here still appear. */
const ROUTE_HINTS: Readonly<Record<string, string>> = {
  opsConsole: 'the operator console: create a sign-in with `npm run console -- --local operator-add NAME --generate`',
};

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

Next: \`npm run demo\` in another terminal walks through every flow and ends at the console.
Ctrl-C stops everything.`;
}
