/**
 * Operator CLI for red-packet campaigns, over @cloudbase/node-sdk:
 *
 *   npx tsx scripts/campaign.ts [--local [URL]] create <campaign.json>   validate, then write slots and the campaign
 *   npx tsx scripts/campaign.ts [--local [URL]] list                     every campaign, newest first
 *   npx tsx scripts/campaign.ts [--local [URL]] show <id>                counters, claims by state, held and uncertain claims
 *   npx tsx scripts/campaign.ts [--local [URL]] link <unionid> <openid>  map a user to their official-account openid (cash packets)
 *   npx tsx scripts/campaign.ts [--local [URL]] cert (--p12 FILE [--passphrase P] | --pem CERT KEY)   store the merchant certificate
 *   npx tsx scripts/campaign.ts [--local [URL]] settle [claimId]         run the reconciler now (or on one claim), ignoring back-off
 *   npx tsx scripts/campaign.ts [--local [URL]] reissue <claimId>        a HELD claim's new packet, once WeChat refunded the first
 *
 * `--local` talks to `npm start` (http://127.0.0.1:3000 unless a URL is given); otherwise ENV_ID and
 * TENCENTCLOUD_SECRETID/SECRETKEY come from .env or the environment.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import tcb from '@cloudbase/node-sdk';
import { InputError, NotFoundError } from '../shared/errors';
import { certificateFrom, createMerchantAgent } from '../shared/pay/certificate';
import { planCampaign } from '../shared/claims/campaign';
import { isUncertainForLong } from '../shared/claims/engine';
import { CLAIM_STATUSES, readCampaign, readClaim, type CampaignDoc, type ClaimDoc, type ClaimStatus } from '../shared/claims/model';
import { parseCampaignTime } from '../shared/relative-time';
import { unwrapEnvelope } from '../shared/platform';
import { createNodeSdkStore } from '../shared/store/nodeSdk';
import { COLLECTIONS, type DocumentStore } from '../shared/store/port';
import { linkUser } from '../shared/users/links';
import { ensureLocalStack } from './lib/cli';
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
  if (!(await store.insert(COLLECTIONS.redPacketCampaigns, { ...plan.campaign }))) {
    throw new InputError(`Campaign ${plan.campaign._id} was created by someone else meanwhile`, 'id');
  }
  return plan.campaign;
}

/** Campaigns, newest first (at most 100). */
export async function listCampaigns(store: DocumentStore): Promise<CampaignDoc[]> {
  return (await store.find<CampaignDoc>(COLLECTIONS.redPacketCampaigns, {}, { limit: 100, orderBy: { field: 'createdAtMs', direction: 'desc' } })).map(readCampaign);
}

/** An open or held claim as `show` lists it. */
export type ClaimSummary = Pick<ClaimDoc, '_id' | 'status' | 'mchBillno' | 'attempt' | 'lastError' | 'heldReason' | 'nextAttemptAtMs' | 'uncertainSinceMs' | 'queryOnly'>;

/**
 * A campaign, its claims counted by status, the HELD ones (they need the operator) and the open
 * ones (at most 20 each), oldest uncertainty first, with their last error.
 */
export async function campaignSummary(store: DocumentStore, id: string): Promise<{
  campaign: CampaignDoc;
  claimsByStatus: Record<ClaimStatus, number>;
  held: ClaimSummary[];
  open: ClaimSummary[];
}> {
  const stored = await store.get<CampaignDoc>(COLLECTIONS.redPacketCampaigns, id);
  if (stored === null) throw new NotFoundError(`No campaign ${id}`);
  const counts = await Promise.all(CLAIM_STATUSES.map((status) => store.count(COLLECTIONS.redPacketClaims, { campaignId: id, status })));
  const summary = (doc: ClaimDoc): ClaimSummary => {
    const { _id, status, mchBillno, attempt, lastError, heldReason, nextAttemptAtMs, uncertainSinceMs, queryOnly } = readClaim(doc);
    return { _id, status, mchBillno, attempt, lastError, heldReason, nextAttemptAtMs, uncertainSinceMs, queryOnly };
  };
  const held = await store.find<ClaimDoc>(COLLECTIONS.redPacketClaims, { campaignId: id, status: 'HELD' }, { limit: 20 });
  const open = await store.find<ClaimDoc>(COLLECTIONS.redPacketClaims, { campaignId: id, status: { in: ['RESERVED', 'SENDING', 'UNKNOWN'] } }, { limit: 20 });
  return {
    campaign: readCampaign(stored),
    claimsByStatus: Object.fromEntries(CLAIM_STATUSES.map((status, index) => [status, counts[index]!])) as Record<ClaimStatus, number>,
    held: held.map(summary),
    open: open.map(summary).sort((a, b) => (a.uncertainSinceMs ?? Infinity) - (b.uncertainSinceMs ?? Infinity)),
  };
}

function yuan(fen: number): string {
  return `${(fen / 100).toFixed(2)} 元`;
}

function beijing(ms: number): string {
  return `${new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ')} (UTC+8)`;
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
  return {
    store: createNodeSdkStore(app.database()),
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

const USAGE = `usage: npx tsx scripts/campaign.ts [--local [URL]] <command>
  create <campaign.json>         validate and create a campaign (see README "Red packets")
  list                           list campaigns
  show <id>                      a campaign's counters, claims by state, held and uncertain claims
  link <unionid> <openid>        record a user's official-account openid (cash packets)
  cert --p12 FILE [--passphrase P] | cert --pem CERT_FILE KEY_FILE
                                 store the merchant API certificate in the database
  settle [claimId]               run the reconciler now (on every open claim, or one), ignoring back-off
  reissue <claimId>              give a HELD claim a new packet, once WeChat has refunded the first`;

/** The CLI; returns the process exit code. */
export async function main(argv: string[], print: (line: string) => void = console.log): Promise<number> {
  const args = [...argv];
  let localUrl: string | undefined;
  if (args[0] === '--local') {
    args.shift();
    localUrl = args[0]?.startsWith('http') ? args.shift()! : `http://127.0.0.1:${process.env.PORT ?? 3000}`;
  }
  const [command, ...rest] = args;
  if (command === undefined || command === '--help') {
    print(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (localUrl !== undefined) await ensureLocalStack(localUrl);
  const target = connect(localUrl);
  switch (command) {
    case 'create': {
      if (rest.length !== 1) break;
      const raw: unknown = JSON.parse(readFileSync(rest[0]!, 'utf8'));
      const campaign = await createCampaign(target.store, raw);
      print(`Created campaign ${campaign._id} on ${target.describe}:`);
      print(`  ${campaign.payout} packets for ${campaign.eligibility} users, ${campaign.packetCount} × ${describeAmount(campaign)}, budget ${yuan(campaign.budgetFen)}`);
      print(`  from ${beijing(campaign.startsAtMs)} to ${beijing(campaign.endsAtMs)}`);
      return 0;
    }
    case 'list': {
      const campaigns = await listCampaigns(target.store);
      if (campaigns.length === 0) print(`No campaigns on ${target.describe}.`);
      for (const campaign of campaigns) {
        print(`${campaign._id.padEnd(24)} ${campaign.payout.padEnd(11)} ${String(campaign.claimedCount).padStart(6)}/${String(campaign.packetCount).padEnd(6)} ` +
          `${yuan(campaign.claimedFen)} of ${yuan(campaign.budgetFen)}  until ${beijing(campaign.endsAtMs)}`);
      }
      return 0;
    }
    case 'show': {
      if (rest.length !== 1) break;
      const { campaign, claimsByStatus, held, open } = await campaignSummary(target.store, rest[0]!);
      const nowMs = Date.now();
      print(`${campaign._id}: ${campaign.payout} packets for ${campaign.eligibility} users, ${describeAmount(campaign)}, "${campaign.actName}" from ${campaign.sendName}`);
      print(`  window   ${beijing(campaign.startsAtMs)} → ${beijing(campaign.endsAtMs)}`);
      print(`  claimed  ${campaign.claimedCount} of ${campaign.packetCount} packets, ${yuan(campaign.claimedFen)} of ${yuan(campaign.budgetFen)}`);
      print(`  claims   ${Object.entries(claimsByStatus).map(([status, count]) => `${status} ${count}`).join(', ')}`);
      // HELD claims were paid but cannot be delivered: only the operator moves them (README "Red packets").
      for (const claim of held) print(`  HELD     ${claim._id} billno ${claim.mchBillno} (attempt ${claim.attempt}): ${claim.heldReason ?? claim.lastError ?? ''}`);
      for (const claim of open) {
        const uncertain = claim.uncertainSinceMs === null ? '' : ` uncertain since ${beijing(claim.uncertainSinceMs)}${isUncertainForLong(claim, nowMs) ? ' (LONG: check this billno in 商户平台)' : ''}`;
        print(`  open     ${claim._id} ${claim.status} billno ${claim.mchBillno} (attempt ${claim.attempt})${uncertain}${claim.queryOnly ? ' query-only' : ''} ${claim.lastError ?? ''}`.trimEnd());
      }
      return 0;
    }
    case 'link': {
      if (rest.length !== 2) break;
      await linkUser(target.store, { officialAppId: target.officialAppId, unionid: rest[0]!, openid: rest[1]!, source: 'operator' });
      print(`Linked unionid ${rest[0]} to openid ${rest[1]} under ${target.officialAppId}.`);
      return 0;
    }
    case 'cert': {
      const mchId = target.mchId;
      if (mchId === undefined) throw new Error('Set PAY_MCH_ID in .env first');
      const option = rest[0];
      const values = option === '--p12' && rest[1]
        ? { p12Base64: readFileSync(rest[1]).toString('base64'), passphrase: rest[2] === '--passphrase' ? rest[3] : undefined }
        : option === '--pem' && rest[1] && rest[2]
          ? { certPem: readFileSync(rest[1], 'utf8'), keyPem: readFileSync(rest[2], 'utf8') }
          : undefined;
      if (values === undefined) break;
      const certificate = certificateFrom(values, mchId, 'the given certificate')!;
      // Refuse to store a certificate the function could not load (wrong passphrase, mixed-up files).
      createMerchantAgent(certificate).destroy();
      await target.store.put(COLLECTIONS.payMerchantCerts, { _id: mchId, ...values });
      print(`Stored the merchant certificate for ${mchId} in ${COLLECTIONS.payMerchantCerts} on ${target.describe}.`);
      return 0;
    }
    case 'settle': {
      if (rest.length > 1) break;
      const { alerts, ...counts } = await target.callFunction<Record<string, number> & { alerts: string[] }>(
        'sendRedPacket',
        { action: 'reconcile', ignoreBackoff: true, ...(rest[0] === undefined ? {} : { claimId: rest[0] }) },
      );
      print(`Reconciler: ${Object.entries(counts).map(([key, value]) => `${key} ${value}`).join(', ')}`);
      for (const alert of alerts) print(`  needs you: ${alert}`);
      return 0;
    }
    case 'reissue': {
      if (rest.length !== 1) break;
      const reissued = await target.callFunction<{ claimId: string; attempt: number; mchBillno: string }>('sendRedPacket', { action: 'reissue', claimId: rest[0] });
      print(`Reissued ${reissued.claimId}: attempt ${reissued.attempt}, billno ${reissued.mchBillno}; the user's next claim call pays it (the reconciler sends it meanwhile).`);
      return 0;
    }
    default:
  }
  print(USAGE);
  return 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
