/**
 * Campaign definitions: strict validation of what an operator asks for, and the documents that
 * make it real (the campaign and, for random amounts, its pre-generated slots). A campaign names
 * its eligibility (who may claim) and its payout (how it pays); each validates its own fields.
 * Pure: the operator CLI (scripts/campaign.ts) writes the documents, slots first, so a campaign is
 * never visible before every amount it promises exists.
 */
import { BlockList, isIP } from 'node:net';
import { InputError } from '../errors';
import { splitBudget, cryptoRandomInt, type RandomInt } from './amounts';
import { ELIGIBILITIES, ELIGIBILITY_NAMES } from './eligibility';
import { slotIdOf, type AmountRule, type CampaignDoc, type EligibilityName, type PayoutName, type SlotDoc } from './model';
import { PAYOUT_NAMES, PAYOUTS } from './payout';

/** The most packets one campaign may hold: every slot is a document written at creation. */
export const MAX_PACKETS = 100_000;
export const CAMPAIGN_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;
export const DEFAULT_USER_CALLS_PER_MINUTE = 10;
export const DEFAULT_CLAIMS_PER_SECOND = 200;

/**
 * What an operator gives (scripts/campaign.ts reads it from a JSON file), plus the fields of its
 * eligibility and payout (the red-packet payouts: sendName, wishing, actName, remark, sceneId).
 */
export interface CampaignInput {
  id: string;
  /** Default `miniprogram`. */
  eligibility?: EligibilityName;
  payout?: PayoutName;
  /** The older name of `payout` (campaign files written before eligibility and payout existed). */
  kind?: PayoutName;
  /** ISO 8601 with an offset, e.g. 2026-02-01T00:00:00+08:00, or epoch ms. */
  startsAt: string | number;
  endsAt: string | number;
  budgetFen: number;
  /** `{ fixedFen }`: budget / fixedFen packets. `{ minFen, maxFen, count }`: a random split. */
  amount: { fixedFen: number } | { minFen: number; maxFen: number; count: number };
  allowedCidrs?: string[];
  userCallsPerMinute?: number;
  claimsPerSecond?: number;
  [payoutOrEligibilityField: string]: unknown;
}

/** The documents of a new campaign. */
export interface CampaignPlan {
  campaign: CampaignDoc;
  slots: SlotDoc[];
}

const COMMON_FIELDS = [
  'id', 'eligibility', 'payout', 'kind', 'startsAt', 'endsAt', 'budgetFen', 'amount', 'allowedCidrs', 'userCallsPerMinute', 'claimsPerSecond',
];

/**
 * Validates everything (collecting every problem, so the operator fixes them in one go) and
 * returns the campaign and its slots. Throws one InputError listing the problems.
 */
export function planCampaign(raw: unknown, options: { nowMs: number; random?: RandomInt }): CampaignPlan {
  const problems: string[] = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError('The campaign must be a JSON object');
  const input = raw as Record<string, unknown>;

  const id = typeof input.id === 'string' ? input.id : '';
  if (!CAMPAIGN_ID_PATTERN.test(id)) problems.push('id must be 1–40 characters of a-z, 0-9 and -, starting with a letter or digit');
  const eligibilityName = input.eligibility ?? 'miniprogram';
  if (!(ELIGIBILITY_NAMES as unknown[]).includes(eligibilityName)) problems.push(`eligibility must be one of ${ELIGIBILITY_NAMES.join(', ')}`);
  if (input.payout !== undefined && input.kind !== undefined && input.payout !== input.kind) problems.push('kind is the older name of payout: give one of them');
  const payoutName = input.payout ?? input.kind;
  if (!(PAYOUT_NAMES as unknown[]).includes(payoutName)) problems.push(`payout must be one of ${PAYOUT_NAMES.join(', ')}`);
  // A claim page has no wx.sendBizRedPacket: its campaigns pay a cash packet or a transfer to the service-account openid.
  if (eligibilityName !== 'miniprogram' && payoutName === 'miniprogram') problems.push(`a ${String(eligibilityName)} campaign pays "cash" or "transfer" (a mini-program packet opens only inside the mini-program)`);
  const eligibility = ELIGIBILITIES[eligibilityName as EligibilityName] ?? ELIGIBILITIES.miniprogram;
  const payout = PAYOUTS[payoutName as PayoutName] ?? PAYOUTS.miniprogram;
  const known = new Set([...COMMON_FIELDS, ...eligibility.campaignFields, ...payout.campaignFields]);
  for (const key of Object.keys(input)) {
    if (known.has(key)) continue;
    // The risk rank is of a mini-program openid: a follower arrives with none.
    problems.push(key === 'risk' ? `risk (getuserriskrank) needs the claimant's mini-program openid: a ${String(eligibilityName)} campaign has none (miniprogram and webview campaigns take it)` : `unknown field ${key}`);
  }
  const eligibilityFields = eligibility.planCampaign(input, problems);
  const payoutPlan = payout.planCampaign(input, problems);

  const startsAtMs = time(input, 'startsAt', problems);
  const endsAtMs = time(input, 'endsAt', problems);
  if (startsAtMs !== undefined && endsAtMs !== undefined) {
    if (endsAtMs <= startsAtMs) problems.push('endsAt must be after startsAt');
    else if (endsAtMs <= options.nowMs) problems.push('endsAt is in the past');
  }
  const budgetFen = wholeNumber(input, 'budgetFen', problems, 1, 1_000_000_000);
  const { minAmountFen: packetMinFen, maxAmountFen: packetMaxFen, rangeText } = payoutPlan;

  let amount: AmountRule | undefined;
  let packetCount = 0;
  const amountInput = input.amount;
  if (amountInput === null || typeof amountInput !== 'object' || Array.isArray(amountInput)) {
    problems.push('amount must be { fixedFen } or { minFen, maxFen, count }');
  } else if ('fixedFen' in amountInput) {
    const rule = amountInput as Record<string, unknown>;
    for (const key of Object.keys(rule)) if (key !== 'fixedFen') problems.push(`unknown field amount.${key}`);
    const fixedFen = wholeNumber(rule, 'fixedFen', problems, 1, Number.MAX_SAFE_INTEGER, 'amount.');
    if (fixedFen !== undefined) {
      if (fixedFen < packetMinFen || fixedFen > packetMaxFen) problems.push(`amount.fixedFen must be within ${rangeText}`);
      if (budgetFen !== undefined) {
        if (budgetFen % fixedFen !== 0) problems.push('budgetFen must be a whole multiple of amount.fixedFen');
        else packetCount = budgetFen / fixedFen;
      }
      amount = { mode: 'fixed', amountFen: fixedFen };
    }
  } else {
    const rule = amountInput as Record<string, unknown>;
    for (const key of Object.keys(rule)) if (!['minFen', 'maxFen', 'count'].includes(key)) problems.push(`unknown field amount.${key}`);
    const minFen = wholeNumber(rule, 'minFen', problems, 1, Number.MAX_SAFE_INTEGER, 'amount.');
    const maxFen = wholeNumber(rule, 'maxFen', problems, 1, Number.MAX_SAFE_INTEGER, 'amount.');
    const count = wholeNumber(rule, 'count', problems, 1, MAX_PACKETS, 'amount.');
    if (minFen !== undefined && maxFen !== undefined) {
      if (minFen < packetMinFen || maxFen > packetMaxFen) problems.push(`amount.minFen and amount.maxFen must be within ${rangeText}`);
      if (minFen > maxFen) problems.push('amount.minFen must not exceed amount.maxFen');
      else if (count !== undefined && budgetFen !== undefined) {
        if (count * minFen > budgetFen) problems.push(`budgetFen is too small for ${count} packets of at least ${minFen} fen`);
        if (count * maxFen < budgetFen) problems.push(`${count} packets of at most ${maxFen} fen cannot spend budgetFen`);
      }
      amount = { mode: 'random', minFen, maxFen };
    }
    if (count !== undefined) packetCount = count;
  }
  if (packetCount > MAX_PACKETS) problems.push(`a campaign holds at most ${MAX_PACKETS} packets`);

  const allowedCidrs = cidrs(input.allowedCidrs, problems);
  const userCallsPerMinute = input.userCallsPerMinute === undefined
    ? DEFAULT_USER_CALLS_PER_MINUTE
    : wholeNumber(input, 'userCallsPerMinute', problems, 1, 600);
  const claimsPerSecond = input.claimsPerSecond === undefined
    ? DEFAULT_CLAIMS_PER_SECOND
    : wholeNumber(input, 'claimsPerSecond', problems, 1, 100_000);

  if (problems.length > 0) throw new InputError(`Invalid campaign:\n  - ${problems.join('\n  - ')}`);
  const campaign = {
    _id: id,
    eligibility: eligibility.name,
    payout: payout.name,
    ...eligibilityFields,
    ...payoutPlan.fields,
    startsAtMs: startsAtMs!,
    endsAtMs: endsAtMs!,
    budgetFen: budgetFen!,
    packetCount,
    amount: amount!,
    allowedCidrs,
    userCallsPerMinute: userCallsPerMinute!,
    claimsPerSecond: claimsPerSecond!,
    claimedCount: 0,
    claimedFen: 0,
    returnedAmountsFen: [] as number[],
    rateWindowStartMs: 0,
    rateWindowCount: 0,
    createdAtMs: options.nowMs,
  } as CampaignDoc;
  const slots = amount!.mode === 'random'
    ? splitBudget({ budgetFen: budgetFen!, count: packetCount, minFen: amount!.minFen, maxFen: amount!.maxFen }, options.random ?? cryptoRandomInt)
      .map((amountFen, index) => ({ _id: slotIdOf(id, index), campaignId: id, index, amountFen }))
    : [];
  return { campaign, slots };
}

/** A BlockList of the campaign's ranges, or null when it allows every address. */
export function regionAllowList(allowedCidrs: readonly string[]): BlockList | null {
  if (allowedCidrs.length === 0) return null;
  const list = new BlockList();
  for (const cidr of allowedCidrs) {
    const [address, prefix] = cidr.split('/') as [string, string];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

/** Where an IP address is, in the IP-region library's names (ip2region: 中国 / 广东省 / 深圳市); '' when it does not say. */
export interface IpRegion {
  country: string;
  province: string;
  city: string;
}

const REGION_PATH = /^[^/\s]{1,32}(\/[^/\s]{1,32}){0,2}$/;

/** A campaign's `regions`: 1–100 paths `country[/province[/city]]`, e.g. `中国/广东省/深圳市`, `中国/北京`. */
export function readRegions(value: unknown, problems: string[]): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > 100) {
    problems.push('regions must be a list of at most 100 paths like "中国/广东省/深圳市"');
    return [];
  }
  const out: string[] = [];
  for (const entry of value) {
    if (typeof entry !== 'string' || !REGION_PATH.test(entry)) problems.push(`regions entry ${JSON.stringify(entry)} is not a path like "中国/广东省" (country, then province, then city)`);
    else out.push(entry);
  }
  return out;
}

/** Whether `region` is inside the path (`中国/广东省` holds every city of 广东省). */
export function regionMatches(path: string, region: IpRegion): boolean {
  const [country, province, city] = path.split('/');
  return country === region.country && (province === undefined || province === region.province) && (city === undefined || city === region.city);
}

/**
 * The campaign's region rule: with `regions`, the person's region must be inside one of them — or
 * their IP inside `allowedCidrs`, the override for ranges the library gets wrong (an office, a
 * carrier's new block); without, the CIDR list alone decides (empty: anywhere).
 */
export function withinRegion(
  campaign: Pick<CampaignDoc, 'regions'>,
  cidrs: BlockList | null,
  person: { clientIp?: string; region?: IpRegion | null },
): boolean {
  const regions = campaign.regions ?? [];
  if (regions.length === 0) return ipAllowed(cidrs, person.clientIp);
  if (cidrs !== null && ipAllowed(cidrs, person.clientIp)) return true;
  const region = person.region;
  return region !== undefined && region !== null && regions.some((path) => regionMatches(path, region));
}

/** Whether `clientIp` is inside the allow-list (an unknown address is not). */
export function ipAllowed(list: BlockList | null, clientIp: string | undefined): boolean {
  if (list === null) return true;
  if (clientIp === undefined) return false;
  const family = isIP(clientIp);
  if (family === 0) return false;
  return list.check(clientIp, family === 6 ? 'ipv6' : 'ipv4');
}

function time(input: Record<string, unknown>, field: string, problems: string[]): number | undefined {
  const value = input[field];
  const ms = typeof value === 'number' ? value : typeof value === 'string' && /[zZ]|[+-]\d\d:\d\d$/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0) {
    problems.push(`${field} must be epoch ms or an ISO 8601 time with an offset (e.g. 2026-02-01T00:00:00+08:00)`);
    return undefined;
  }
  return ms;
}

function wholeNumber(input: Record<string, unknown>, field: string, problems: string[], min: number, max: number, prefix = ''): number | undefined {
  const value = input[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    problems.push(`${prefix}${field} must be a whole number from ${min} to ${max}`);
    return undefined;
  }
  return value;
}

function cidrs(value: unknown, problems: string[]): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.push('allowedCidrs must be a list of CIDR ranges');
    return [];
  }
  const out: string[] = [];
  for (const entry of value) {
    const match = typeof entry === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(entry) : null;
    const family = match ? isIP(match[1]!) : 0;
    const prefix = match ? Number(match[2]) : -1;
    if (family === 0 || prefix > (family === 6 ? 128 : 32)) problems.push(`allowedCidrs entry ${JSON.stringify(entry)} is not a CIDR range`);
    else out.push(entry as string);
  }
  return out;
}
