/**
 * `npm run campaign -- [--local [URL]] [--json] <command>`: the operator's red-packet and transfer
 * campaigns (and the transfers' APIv3 keys), over @cloudbase/node-sdk (see USAGE; the syntax is shared with the other CLIs, scripts/lib/cli.ts).
 * `--local` talks to `npm start` (http://127.0.0.1:3000 unless a URL is given); otherwise ENV_ID and
 * TENCENTCLOUD_SECRETID/SECRETKEY come from .env or the environment.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import tcb from '@cloudbase/node-sdk';
import { InputError, NotFoundError } from '../shared/errors';
import { certificateFrom, createMerchantAgent } from '../shared/pay/certificate';
import { storePayV3Keys, type PayV3KeyValues } from '../shared/pay/v3/keys';
import { hasCapability } from '../shared/accounts/model';
import { AccountRegistry } from '../shared/accounts/registry';
import { planCampaign } from '../shared/claims/campaign';
import { campaignFunnel, FUNNEL_STAGES, type ChannelFunnel } from '../shared/claims/funnel';
import { listChannels, saveChannel, type ChannelDoc } from '../shared/follows/channels';
import { ACCOUNT_CHANNEL } from '../shared/follows/ledger';
import { isUncertainForLong, type CancelReport } from '../shared/claims/engine';
import { CLAIM_STATUSES, OPEN_CLAIM_STATUSES, readCampaign, readClaim, type CampaignDoc, type ClaimDoc, type ClaimStatus } from '../shared/claims/model';
import { parseCampaignTime } from '../shared/relative-time';
import { unwrapEnvelope } from '../shared/platform';
import { createNodeSdkStore } from '../shared/store/nodeSdk';
import { COLLECTIONS, type DocumentStore } from '../shared/store/port';
import { linkUser } from '../shared/users/links';
import { createOutput, ensureLocalStack, flagValue, parseArgs, positionalAt, runCli, UsageError, type CommandSpec } from './lib/cli';
import { ROOT } from './lib/cloudbaserc';
import { LOCAL_ACCOUNT } from './local/stack';

/** `"startsAt": "now"`, `"endsAt": "+7d"` as epoch ms (shared/relative-time.ts); anything else is left for the validator to judge. */
function withAbsoluteTimes(raw: unknown, nowMs: number): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const field of ['startsAt', 'endsAt']) {
    const ms = parseCampaignTime(out[field], nowMs);
    if (Number.isFinite(ms)) out[field] = ms;
  }
  return out;
}

/** Writes a new campaign: every slot first (replacing leftovers of an interrupted run), the campaign document last. */
export async function createCampaign(store: DocumentStore, raw: unknown, nowMs: number = Date.now()): Promise<CampaignDoc> {
  const plan = planCampaign(withAbsoluteTimes(raw, nowMs), { nowMs });
  if ((await store.get(COLLECTIONS.redPacketCampaigns, plan.campaign._id)) !== null) {
    throw new InputError(`Campaign ${plan.campaign._id} exists already; campaigns are never changed, create one with another id`, 'id');
  }
  // Nobody can draw a slot before the campaign document exists, so replacing old slots is safe here.
  const queue = [...plan.slots];
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let slot = queue.shift(); slot !== undefined; slot = queue.shift()) await store.put(COLLECTIONS.redPacketSlots, { ...slot });
  }));
  const follow = plan.campaign.follow;
  const registry = new AccountRegistry({ store, environment: { appId: officialAppIdOf(store) } });
  if (follow !== undefined) for (const entry of follow.channels) await checkChannel(registry, entry.appId, entry.channel);
  if (!(await store.insert(COLLECTIONS.redPacketCampaigns, { ...plan.campaign }))) {
    throw new InputError(`Campaign ${plan.campaign._id} was created by someone else meanwhile`, 'id');
  }
  // The channels say which campaign a follow belongs to (the push receiver reads them): joining is setting that.
  if (follow !== undefined) for (const entry of follow.channels) await saveChannel(store, { appId: entry.appId, channel: entry.channel, campaignId: plan.campaign._id }, nowMs);
  return plan.campaign;
}

const officialAppIds = new WeakMap<DocumentStore, string>();
function officialAppIdOf(store: DocumentStore): string {
  return officialAppIds.get(store) ?? LOCAL_ACCOUNT.officialAppId;
}

/** A follow channel an account can have: an active account; a subscription account has only its own channel (no QR codes, 48001). */
async function checkChannel(registry: AccountRegistry, appId: string, channel: string): Promise<void> {
  const account = await registry.require(appId);
  if (channel !== ACCOUNT_CHANNEL && !hasCapability(account, 'qrcode')) {
    throw new InputError(`${appId} cannot make parametric QR codes (only verified service accounts can): its only channel is "${ACCOUNT_CHANNEL}"`, 'channel');
  }
}

/**
 * An account (its channel) joins a running follow campaign, or leaves it: the channel's campaign
 * changes, and follows through it are the campaign's from then on (within 30 s on every instance).
 * Links already sent stay valid: they were the campaign's when the follow happened.
 */
export async function setCampaignChannel(store: DocumentStore, campaignId: string, appId: string, channel: string, join: boolean, nowMs: number = Date.now()): Promise<ChannelDoc> {
  const stored = await store.get<CampaignDoc>(COLLECTIONS.redPacketCampaigns, campaignId);
  if (stored === null) throw new NotFoundError(`No campaign ${campaignId}`);
  if (readCampaign(stored).eligibility !== 'follow') throw new InputError(`${campaignId} is not a follow campaign`, 'campaign');
  if (join) await checkChannel(new AccountRegistry({ store, environment: { appId: officialAppIdOf(store) } }), appId, channel);
  const existing = (await listChannels(store, appId)).find((doc) => doc.channel === channel);
  if (!join && existing?.campaignId !== campaignId) throw new InputError(`${appId} ${channel} is not a channel of ${campaignId}`, 'channel');
  return saveChannel(store, { appId, channel, campaignId: join ? campaignId : null }, nowMs);
}

/** Campaigns, newest first (at most 100). */
export async function listCampaigns(store: DocumentStore): Promise<CampaignDoc[]> {
  return (await store.find<CampaignDoc>(COLLECTIONS.redPacketCampaigns, {}, { limit: 100, orderBy: { field: 'createdAtMs', direction: 'desc' } })).map(readCampaign);
}

/** An open or held claim as `show` lists it. */
export type ClaimSummary = Pick<ClaimDoc, '_id' | 'status' | 'mchBillno' | 'attempt' | 'lastError' | 'heldReason' | 'nextAttemptAtMs' | 'uncertainSinceMs' | 'queryOnly' | 'wechatStatus'>;

/**
 * A campaign, its claims counted by status, the HELD ones (they need the operator) and the open
 * ones (at most 20 each), oldest uncertainty first, with their last error.
 */
export async function campaignSummary(store: DocumentStore, id: string): Promise<{
  campaign: CampaignDoc;
  claimsByStatus: Record<ClaimStatus, number>;
  held: ClaimSummary[];
  open: ClaimSummary[];
  /** Claim-page campaigns: per channel, follows → links → opened → authorised → claimed → paid, refusals by reason (one read). */
  funnel: ChannelFunnel[];
  /** Follow campaigns: the channels that belong to it now. */
  channels: Array<{ appId: string; channel: string }>;
}> {
  const stored = await store.get<CampaignDoc>(COLLECTIONS.redPacketCampaigns, id);
  if (stored === null) throw new NotFoundError(`No campaign ${id}`);
  const counts = await Promise.all(CLAIM_STATUSES.map((status) => store.count(COLLECTIONS.redPacketClaims, { campaignId: id, status })));
  const summary = (doc: ClaimDoc): ClaimSummary => {
    const { _id, status, mchBillno, attempt, lastError, heldReason, nextAttemptAtMs, uncertainSinceMs, queryOnly, wechatStatus } = readClaim(doc);
    return { _id, status, mchBillno, attempt, lastError, heldReason, nextAttemptAtMs, uncertainSinceMs, queryOnly, wechatStatus };
  };
  const held = await store.find<ClaimDoc>(COLLECTIONS.redPacketClaims, { campaignId: id, status: 'HELD' }, { limit: 20 });
  const open = await store.find<ClaimDoc>(COLLECTIONS.redPacketClaims, { campaignId: id, status: { in: [...OPEN_CLAIM_STATUSES] } }, { limit: 20 });
  const campaign = readCampaign(stored);
  const channels = campaign.eligibility === 'follow'
    ? (await store.find<ChannelDoc>(COLLECTIONS.channels, { campaignId: id }, { limit: 1000 })).map(({ appId, channel }) => ({ appId, channel }))
    : [];
  return {
    campaign,
    funnel: campaign.eligibility === 'miniprogram' ? [] : await campaignFunnel(store, id),
    channels,
    claimsByStatus: Object.fromEntries(CLAIM_STATUSES.map((status, index) => [status, counts[index]!])) as Record<ClaimStatus, number>,
    held: held.map(summary),
    open: open.map(summary).sort((a, b) => (a.uncertainSinceMs ?? Infinity) - (b.uncertainSinceMs ?? Infinity)),
  };
}

/** The funnel, one line per channel, then its refusals. */
function funnelLines(funnel: ChannelFunnel[]): string[] {
  if (funnel.length === 0) return [];
  // Each column one wider than its longest title ("linksOpened"), so no two titles touch.
  const header = `  funnel   ${'channel'.padEnd(34)} ${FUNNEL_STAGES.map((stage) => stage.padStart(12)).join('')}`;
  return [header, ...funnel.flatMap((entry) => {
    const refusals = Object.entries(entry.refusals).sort((a, b) => b[1] - a[1]).map(([reason, count]) => `${reason} ${count}`).join(', ');
    return [
      `           ${entry.channel.padEnd(34)} ${FUNNEL_STAGES.map((stage) => String(entry.stages[stage]).padStart(12)).join('')}`,
      ...(refusals === '' ? [] : [`             refused: ${refusals}`]),
    ];
  })];
}

function yuan(fen: number): string {
  return `${(fen / 100).toFixed(2)} 元`;
}

function beijing(ms: number): string {
  return `${new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ')} (UTC+8)`;
}

/** "transfers", or "<payout> packets". */
function kindOf(campaign: CampaignDoc): string {
  return campaign.payout === 'transfer' ? 'transfers' : `${campaign.payout} packets`;
}

function describeAmount(campaign: CampaignDoc): string {
  return campaign.amount.mode === 'fixed'
    ? `fixed ${yuan(campaign.amount.amountFen)}`
    : `random ${yuan(campaign.amount.minFen)}–${yuan(campaign.amount.maxFen)}`;
}

interface Connection {
  store: DocumentStore;
  officialAppId: string;
  mchId: string | undefined;
  callFunction<T>(name: string, data: Record<string, unknown>): Promise<T>;
  describe: string;
}

function connect(localUrl: string | undefined): Connection {
  if (localUrl !== undefined) {
    // Skips node-sdk's probe of metadata.tencentyun.com: the local stack is all on loopback.
    process.env.TENCENTCLOUD = 'true';
    const app = tcb.init({ env: LOCAL_ACCOUNT.envId, secretId: 'local', secretKey: 'local', serviceUrl: `${localUrl}/admin` } as never);
    return connection(app, LOCAL_ACCOUNT.officialAppId, LOCAL_ACCOUNT.mchId, `local stack at ${localUrl}`);
  }
  const env: Record<string, string | undefined> = {};
  for (const file of ['.env', '.env.local']) {
    const full = path.join(ROOT, file);
    if (existsSync(full)) Object.assign(env, parseEnv(readFileSync(full, 'utf8')));
  }
  Object.assign(env, process.env);
  const missing = ['ENV_ID', 'WX_OA_APPID', 'TENCENTCLOUD_SECRETID', 'TENCENTCLOUD_SECRETKEY'].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`Set ${missing.join(', ')} in .env (see .env.example), or pass --local to use npm start's stack`);
  const app = tcb.init({ env: env.ENV_ID!, secretId: env.TENCENTCLOUD_SECRETID!, secretKey: env.TENCENTCLOUD_SECRETKEY! });
  return connection(app, env.WX_OA_APPID!, env.PAY_MCH_ID, `CloudBase environment ${env.ENV_ID}`);
}

function connection(app: ReturnType<typeof tcb.init>, officialAppId: string, mchId: string | undefined, describe: string): Connection {
  const store = createNodeSdkStore(app.database());
  officialAppIds.set(store, officialAppId);
  return {
    store,
    officialAppId,
    mchId,
    describe,
    async callFunction<T>(name: string, data: Record<string, unknown>): Promise<T> {
      const response = (await app.callFunction({ name, data })) as { result?: unknown; code?: string; message?: string };
      if (response.code) throw new Error(`calling ${name} failed: ${response.code} ${response.message ?? ''}`);
      return unwrapEnvelope<T>(name, response.result);
    },
  };
}

export const USAGE = `Usage: npm run campaign -- [--local [URL]] [--json] <command>
  create FILE.json [--id ID]     validate and create a campaign (templates: scripts/campaign-templates/, open now)
  list                           list campaigns
  show ID                        a campaign's counters, claims by state, held and uncertain claims
  link-user --unionid UNIONID --openid OPENID
                                 record a user's official-account openid (cash packets; the same command as npm run cards)
  cert --p12 FILE [--passphrase P] | cert --pem CERT_FILE KEY_FILE
                                 store the merchant API certificate in the database
  settle [CLAIM_ID]              run the reconciler now (on every open claim, or one), ignoring back-off
  reissue CLAIM_ID               give a HELD claim a new packet, once WeChat has refunded the first
  cancel-transfer CLAIM_ID       cancel a transfer still waiting for its user (its amount goes back to the campaign)
  join CAMPAIGN APPID [CHANNEL]  an account (its channel; default "account", the whole account) joins a running follow campaign
  leave CAMPAIGN APPID [CHANNEL] it leaves (links already sent stay valid)
  v3-keys --key apiclient_key.pem (--cert apiclient_cert.pem | --serial SERIAL)
          (--public-key pub_key.pem --public-key-id PUB_KEY_ID_… | --platform-certs certs.pem) [--api-v3-key-env NAME]
                                 check, then store the APIv3 keys for transfers (the APIv3 key from the
                                 environment or .env, PAY_V3_API_KEY by default: never on the command line)`;

const SPECS: Record<string, CommandSpec> = {
  create: { values: ['id'] },
  list: {},
  show: {},
  'link-user': { values: ['unionid', 'openid'] },
  // The older spelling `link UNIONID OPENID` still works.
  link: {},
  cert: { values: ['p12', 'passphrase', 'pem'] },
  settle: {},
  reissue: {},
  'cancel-transfer': {},
  join: {},
  leave: {},
  'v3-keys': { values: ['key', 'cert', 'serial', 'public-key', 'public-key-id', 'platform-certs', 'api-v3-key-env'] },
};

/** Reads a file the operator named, or says which one is missing and what else the command takes. */
function readNamed(file: string, flag: string, hint: string): Buffer {
  if (!existsSync(file)) throw new UsageError(`No file ${file} (given with ${flag}). ${hint}`);
  return readFileSync(file);
}

const CERT_HINT = 'Download the API certificate in 商户平台 → 账户中心 → API安全: a p12 goes with --p12 FILE (add --passphrase P unless it is the mch_id), a PEM pair with --pem apiclient_cert.pem apiclient_key.pem.';

/** The CLI; returns the process exit code. */
export async function main(argv: string[], print: (line: string) => void = console.log): Promise<number> {
  const args = parseArgs(argv, SPECS);
  if (args.help || args.command === undefined) {
    print(USAGE);
    return args.help ? 0 : 1;
  }
  const out = createOutput(args.json, print);
  const rest = args.positional;
  const need = (index: number, what: string) => positionalAt(args, index, what);
  if (args.localUrl !== undefined) await ensureLocalStack(args.localUrl);
  const target = connect(args.localUrl);
  switch (args.command) {
    case 'create': {
      const file = need(0, 'a campaign file');
      const raw = JSON.parse(readNamed(file, 'create', 'Start from scripts/campaign-templates/miniprogram.json, cash.json, transfer.json, follow.json or webview.json.').toString('utf8')) as Record<string, unknown>;
      const id = flagValue(args, 'id');
      const campaign = await createCampaign(target.store, id === undefined ? raw : { ...raw, id });
      out.result({ campaign }, () => [
        `Created campaign ${campaign._id} on ${target.describe}:`,
        `  ${kindOf(campaign)} for ${campaign.eligibility} users, ${campaign.packetCount} × ${describeAmount(campaign)}, budget ${yuan(campaign.budgetFen)}`,
        `  from ${beijing(campaign.startsAtMs)} to ${beijing(campaign.endsAtMs)}`,
        `CAMPAIGN=${campaign._id}`,
      ]);
      return 0;
    }
    case 'list': {
      const campaigns = await listCampaigns(target.store);
      out.result({ campaigns }, () => (campaigns.length === 0 ? [`No campaigns on ${target.describe}.`] : campaigns.map((campaign) =>
        `${campaign._id.padEnd(24)} ${campaign.payout.padEnd(11)} ${String(campaign.claimedCount).padStart(6)}/${String(campaign.packetCount).padEnd(6)} ` +
          `${yuan(campaign.claimedFen)} of ${yuan(campaign.budgetFen)}  until ${beijing(campaign.endsAtMs)}`)));
      return 0;
    }
    case 'show': {
      const summary = await campaignSummary(target.store, need(0, 'a campaign ID'));
      const { campaign, claimsByStatus, held, open } = summary;
      const nowMs = Date.now();
      const what = campaign.transfer === undefined
        ? `"${campaign.actName}" from ${campaign.sendName}`
        : `scene ${campaign.transfer.sceneId}, "${campaign.transfer.remark}"`;
      const returnedFen = campaign.returnedAmountsFen.reduce((sum, fen) => sum + fen, 0);
      out.result(summary, () => [
        `${campaign._id}: ${kindOf(campaign)} for ${campaign.eligibility} users, ${describeAmount(campaign)}, ${what}${campaign.paused === true ? ' — PAUSED' : ''}`,
        `  window   ${beijing(campaign.startsAtMs)} → ${beijing(campaign.endsAtMs)}`,
        `  claimed  ${campaign.claimedCount} of ${campaign.packetCount} ${campaign.payout === 'transfer' ? 'transfers' : 'packets'}, ${yuan(campaign.claimedFen)} of ${yuan(campaign.budgetFen)}`,
        ...(campaign.returnedAmountsFen.length === 0 ? [] : [`  returned ${campaign.returnedAmountsFen.length} amount(s), ${yuan(returnedFen)}, offered again (transfers closed unpaid)`]),
        `  claims   ${Object.entries(claimsByStatus).map(([status, count]) => `${status} ${count}`).join(', ')}`,
        // HELD claims were paid but cannot be delivered: only the operator moves them (README "Red packets").
        ...held.map((claim) => `  HELD     ${claim._id} billno ${claim.mchBillno} (attempt ${claim.attempt}): ${claim.heldReason ?? claim.lastError ?? ''}`),
        ...(campaign.eligibility === 'follow' ? [`  channels ${summary.channels.map((entry) => `${entry.appId}:${entry.channel}`).join(', ') || '(none: join one)'}`] : []),
        ...funnelLines(summary.funnel),
        ...open.map((claim) => {
          const uncertain = claim.uncertainSinceMs === null ? '' : ` uncertain since ${beijing(claim.uncertainSinceMs)}${isUncertainForLong(claim, nowMs) ? ' (LONG: check this billno in 商户平台)' : ''}`;
          const bill = claim.status === 'WAITING' ? ` bill ${claim.wechatStatus ?? '?'}` : '';
          return `  open     ${claim._id} ${claim.status}${bill} billno ${claim.mchBillno} (attempt ${claim.attempt})${uncertain}${claim.queryOnly ? ' query-only' : ''} ${claim.lastError ?? ''}`.trimEnd();
        }),
      ]);
      return 0;
    }
    case 'link':
    case 'link-user': {
      const unionid = args.command === 'link' ? need(0, 'a UNIONID') : flagValue(args, 'unionid');
      const openid = args.command === 'link' ? need(1, 'an OPENID') : flagValue(args, 'openid');
      if (unionid === undefined || openid === undefined) throw new UsageError('link-user needs --unionid UNIONID --openid OPENID');
      await linkUser(target.store, { officialAppId: target.officialAppId, unionid, openid, source: 'operator' });
      out.result({ officialAppId: target.officialAppId, unionid, openid }, () => `Linked unionid ${unionid} to openid ${openid} under ${target.officialAppId}.`);
      return 0;
    }
    case 'cert': {
      const mchId = target.mchId;
      if (mchId === undefined) throw new Error('Set PAY_MCH_ID in .env first');
      const p12 = flagValue(args, 'p12');
      const pem = flagValue(args, 'pem');
      if ((p12 === undefined) === (pem === undefined)) throw new UsageError(`cert needs --p12 FILE or --pem CERT_FILE KEY_FILE. ${CERT_HINT}`);
      const passphrase = flagValue(args, 'passphrase');
      const values = p12 !== undefined
        ? { p12Base64: readNamed(p12, '--p12', CERT_HINT).toString('base64'), passphrase }
        : { certPem: readNamed(pem!, '--pem', CERT_HINT).toString('utf8'), keyPem: readNamed(need(0, 'the KEY_FILE after --pem CERT_FILE'), '--pem', CERT_HINT).toString('utf8') };
      let certificate: ReturnType<typeof certificateFrom>;
      try {
        certificate = certificateFrom(values, mchId, 'the given certificate');
        // Refuse to store a certificate the function could not load (wrong passphrase, mixed-up files).
        createMerchantAgent(certificate!).destroy();
      } catch (error) {
        throw new Error(`${(error as Error).message}. ${p12 !== undefined ? 'A p12 whose passphrase is not the mch_id needs --passphrase P; a PEM pair goes with --pem CERT_FILE KEY_FILE.' : 'Give the certificate first, then the key: --pem apiclient_cert.pem apiclient_key.pem.'}`);
      }
      await target.store.put(COLLECTIONS.payMerchantCerts, { _id: mchId, ...values });
      out.result({ mchId, stored: true }, () => `Stored the merchant certificate for ${mchId} in ${COLLECTIONS.payMerchantCerts} on ${target.describe}.`);
      return 0;
    }
    case 'settle': {
      if (rest.length > 1) throw new UsageError('settle takes at most one CLAIM_ID');
      const report = await target.callFunction<Record<string, number> & { alerts: string[] }>(
        'sendRedPacket',
        { action: 'reconcile', ignoreBackoff: true, ...(rest[0] === undefined ? {} : { claimId: rest[0] }) },
      );
      const { alerts, ...counts } = report;
      out.result(report, () => [`Reconciler: ${Object.entries(counts).map(([key, value]) => `${key} ${value}`).join(', ')}`, ...alerts.map((alert) => `  needs you: ${alert}`)]);
      return 0;
    }
    case 'reissue': {
      const reissued = await target.callFunction<{ claimId: string; attempt: number; mchBillno: string }>('sendRedPacket', { action: 'reissue', claimId: need(0, 'a CLAIM_ID') });
      out.result(reissued, () => `Reissued ${reissued.claimId}: attempt ${reissued.attempt}, billno ${reissued.mchBillno}; the user's next claim call pays it (the reconciler sends it meanwhile).`);
      return 0;
    }
    case 'join':
    case 'leave': {
      const campaignId = need(0, 'a CAMPAIGN id');
      const appId = need(1, 'an APPID');
      const channel = rest[2] ?? ACCOUNT_CHANNEL;
      const doc = await setCampaignChannel(target.store, campaignId, appId, channel, args.command === 'join');
      out.result({ channel: doc }, () => (args.command === 'join'
        ? `${appId} ${channel} joined ${campaignId}: its follows get claim links within 30 s.`
        : `${appId} ${channel} left ${campaignId}: its follows get the channel's own reply; links sent before stay valid.`));
      return 0;
    }
    case 'cancel-transfer': {
      const report = await target.callFunction<CancelReport>('sendRedPacket', { action: 'cancel-transfer', claimId: need(0, 'a CLAIM_ID') });
      const outcome = report.amountReturned
        ? 'it ended unpaid and its amount is back in the campaign'
        : report.status === 'WAITING' ? 'it is still open: the reconciler follows the bill to its end' : `it is ${report.status}`;
      out.result(report, () => `Cancel of ${report.claimId}: WeChat answered ${report.cancel}; the bill is ${report.wechatStatus ?? 'not known'}, so the claim is ${report.status} (${outcome}).`);
      return 0;
    }
    case 'v3-keys': {
      const mchId = target.mchId;
      if (mchId === undefined) throw new Error('Set PAY_MCH_ID in .env first');
      const keyFile = flagValue(args, 'key');
      if (keyFile === undefined) throw new UsageError(`v3-keys needs --key apiclient_key.pem. ${V3_KEYS_HINT}`);
      const file = (flag: string): string | undefined => {
        const named = flagValue(args, flag);
        return named === undefined ? undefined : readNamed(named, `--${flag}`, V3_KEYS_HINT).toString('utf8');
      };
      const keyVariable = flagValue(args, 'api-v3-key-env') ?? 'PAY_V3_API_KEY';
      const values: PayV3KeyValues = {
        merchantKeyPem: file('key'),
        merchantCertPem: file('cert'),
        merchantSerialNo: flagValue(args, 'serial'),
        apiV3Key: secretFromEnvironment(keyVariable),
        publicKeyId: flagValue(args, 'public-key-id'),
        publicKeyPem: file('public-key'),
        platformCertPems: file('platform-certs'),
      };
      if (values.apiV3Key === undefined) throw new Error(`Set ${keyVariable} (the APIv3 key, 商户平台 → API安全) in the environment or .env`);
      // Checked before anything is written: a key of another certificate, a serial mix-up, a PEM in the wrong place.
      const keys = await storePayV3Keys(target.store, mchId, values, Date.now());
      const stored = { mchId, merchantSerialNo: keys.merchantSerialNo, wechatPayKeys: [...keys.verifyingKeys.keys()] };
      out.result(stored, () => `Stored the APIv3 keys for ${mchId} in ${COLLECTIONS.payV3Keys} on ${target.describe}: merchant certificate ${stored.merchantSerialNo}, ` +
        `WeChat Pay key(s) ${stored.wechatPayKeys.join(', ')}. Instances that already loaded keys keep theirs until they restart.`);
      return 0;
    }
    default:
      throw new UsageError(`Unknown command ${args.command}`);
  }
}

const V3_KEYS_HINT = 'From 商户平台 → 账户中心 → API安全: --key apiclient_key.pem with --cert apiclient_cert.pem (or --serial), and --public-key pub_key.pem --public-key-id PUB_KEY_ID_… (or --platform-certs); the APIv3 key in PAY_V3_API_KEY.';

/** A secret from the environment, else from .env / .env.local (never from the command line, which shells keep). */
function secretFromEnvironment(name: string): string | undefined {
  if (process.env[name]) return process.env[name];
  for (const file of ['.env.local', '.env']) {
    const full = path.join(ROOT, file);
    const value = existsSync(full) ? parseEnv(readFileSync(full, 'utf8'))[name] : undefined;
    if (value) return value;
  }
  return undefined;
}

if (require.main === module) runCli(main, USAGE);
