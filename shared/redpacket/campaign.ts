/**
 * Campaign definitions: strict validation of what an operator asks for, and the documents that
 * make it real (the campaign and, for random amounts, its pre-generated slots). Pure: the
 * operator CLI (scripts/campaign.ts) writes the documents, slots first, so a campaign is never
 * visible before every amount it promises exists.
 */
import { BlockList, isIP } from 'node:net';
import { InputError } from '../errors';
import { splitBudget, cryptoRandomInt, type RandomInt } from './amounts';
import { slotIdOf, type AmountRule, type CampaignDoc, type RedPacketKind, type SlotDoc } from './model';

/** WeChat's per-packet range without scene_id: 1–200 元 (reference §7 total_amount). */
export const DEFAULT_MIN_PACKET_FEN = 100;
export const DEFAULT_MAX_PACKET_FEN = 20_000;
/**
 * With scene_id the range is whatever the merchant platform allows; the real ceiling is per
 * merchant and not pinned down, so this refuses more than 4,999 元 rather than guess higher.
 */
export const SCENE_MAX_PACKET_FEN = 499_900;
/** The most packets one campaign may hold: every slot is a document written at creation. */
export const MAX_PACKETS = 100_000;
export const SCENE_IDS = ['PRODUCT_1', 'PRODUCT_2', 'PRODUCT_3', 'PRODUCT_4', 'PRODUCT_5', 'PRODUCT_6', 'PRODUCT_7', 'PRODUCT_8'] as const;
export const CAMPAIGN_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;
export const DEFAULT_USER_CALLS_PER_MINUTE = 10;
export const DEFAULT_CLAIMS_PER_SECOND = 200;

/** What an operator gives (scripts/campaign.ts reads it from a JSON file). */
export interface CampaignInput {
  id: string;
  kind: RedPacketKind;
  sendName: string;
  wishing: string;
  actName: string;
  remark: string;
  sceneId?: string;
  /** ISO 8601 with an offset, e.g. 2026-02-01T00:00:00+08:00, or epoch ms. */
  startsAt: string | number;
  endsAt: string | number;
  budgetFen: number;
  /** `{ fixedFen }`: budget / fixedFen packets. `{ minFen, maxFen, count }`: a random split. */
  amount: { fixedFen: number } | { minFen: number; maxFen: number; count: number };
  allowedCidrs?: string[];
  userCallsPerMinute?: number;
  claimsPerSecond?: number;
}

/** The documents of a new campaign. */
export interface CampaignPlan {
  campaign: CampaignDoc;
  slots: SlotDoc[];
}

const INPUT_FIELDS = [
  'id', 'kind', 'sendName', 'wishing', 'actName', 'remark', 'sceneId', 'startsAt', 'endsAt', 'budgetFen', 'amount',
  'allowedCidrs', 'userCallsPerMinute', 'claimsPerSecond',
];

/**
 * Validates everything (collecting every problem, so the operator fixes them in one go) and
 * returns the campaign and its slots. Throws one InputError listing the problems.
 */
export function planCampaign(raw: unknown, options: { nowMs: number; random?: RandomInt }): CampaignPlan {
  const problems: string[] = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError('The campaign must be a JSON object');
  const input = raw as Record<string, unknown>;
  for (const key of Object.keys(input)) if (!INPUT_FIELDS.includes(key)) problems.push(`unknown field ${key}`);

  const id = text(input, 'id', problems, 40);
  if (id !== '' && !CAMPAIGN_ID_PATTERN.test(id)) problems.push('id must be 1–40 characters of a-z, 0-9 and -, starting with a letter or digit');
  const kind = input.kind;
  if (kind !== 'miniprogram' && kind !== 'cash') problems.push('kind must be miniprogram or cash');
  // String(N) counts characters (the Pay docs' lengths; a Chinese send_name of 10 characters is fine).
  const sendName = text(input, 'sendName', problems, 32);
  const wishing = text(input, 'wishing', problems, 128);
  const actName = text(input, 'actName', problems, 32);
  const remark = text(input, 'remark', problems, 256);
  let sceneId: string | null = null;
  if (input.sceneId !== undefined) {
    if (typeof input.sceneId !== 'string' || !(SCENE_IDS as readonly string[]).includes(input.sceneId)) {
      problems.push(`sceneId must be one of ${SCENE_IDS.join(', ')}`);
    } else sceneId = input.sceneId;
  }
  const startsAtMs = time(input, 'startsAt', problems);
  const endsAtMs = time(input, 'endsAt', problems);
  if (startsAtMs !== undefined && endsAtMs !== undefined) {
    if (endsAtMs <= startsAtMs) problems.push('endsAt must be after startsAt');
    else if (endsAtMs <= options.nowMs) problems.push('endsAt is in the past');
  }
  const budgetFen = wholeNumber(input, 'budgetFen', problems, 1, 1_000_000_000);
  const [packetMinFen, packetMaxFen] = sceneId === null ? [DEFAULT_MIN_PACKET_FEN, DEFAULT_MAX_PACKET_FEN] : [1, SCENE_MAX_PACKET_FEN];
  const rangeText = sceneId === null
    ? `${packetMinFen}–${packetMaxFen} fen (1–200 元; set sceneId for other amounts)`
    : `${packetMinFen}–${packetMaxFen} fen`;

  let amount: AmountRule | undefined;
  let packetCount = 0;
  const amountInput = input.amount;
  if (amountInput === null || typeof amountInput !== 'object' || Array.isArray(amountInput)) {
    problems.push('amount must be { fixedFen } or { minFen, maxFen, count }');
  } else if ('fixedFen' in amountInput) {
    const rule = amountInput as Record<string, unknown>;
    for (const key of Object.keys(rule)) if (key !== 'fixedFen') problems.push(`unknown field amount.${key}`);
    const fixedFen = wholeNumber(rule, 'fixedFen', problems, 1, SCENE_MAX_PACKET_FEN, 'amount.');
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
    const minFen = wholeNumber(rule, 'minFen', problems, 1, SCENE_MAX_PACKET_FEN, 'amount.');
    const maxFen = wholeNumber(rule, 'maxFen', problems, 1, SCENE_MAX_PACKET_FEN, 'amount.');
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
  const campaign: CampaignDoc = {
    _id: id,
    kind: kind as RedPacketKind,
    sendName,
    wishing,
    actName,
    remark,
    sceneId,
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
    createdAtMs: options.nowMs,
  };
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

/** Whether `clientIp` is inside the allow-list (an unknown address is not). */
export function ipAllowed(list: BlockList | null, clientIp: string | undefined): boolean {
  if (list === null) return true;
  if (clientIp === undefined) return false;
  const family = isIP(clientIp);
  if (family === 0) return false;
  return list.check(clientIp, family === 6 ? 'ipv6' : 'ipv4');
}

function text(input: Record<string, unknown>, field: string, problems: string[], maxChars: number): string {
  const value = input[field];
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push(`${field} is required (text, at most ${maxChars} characters)`);
    return '';
  }
  if ([...value].length > maxChars) problems.push(`${field} must be at most ${maxChars} characters`);
  // XML 1.0 cannot carry control characters; WeChat would answer XML_ERROR for every packet.
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(value)) problems.push(`${field} contains control characters`);
  return value;
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
