/**
 * The accounts area's view model: every official account of the registry (kind, verification,
 * message mode, removed or not — never a secret), its credentials as the credential cache holds
 * them (version, age, next refresh, last error, back-off; for 40164 the address WeChat saw and
 * what to do about it), and its follows per channel, in total and per day. The cost is a few
 * queries whatever the volume: the registry, the credential cache, and per account the follow
 * counters (shared/follows/counters.ts), which are counted as follows happen.
 */
import { summarizeAccount, type AccountSummary, type OfficialAccount } from '../../accounts/model';
import type { CredentialDoc } from '../../credentials/model';
import { DEFAULT_TIMING } from '../../credentials/model';
import { readFollowCounts, readFollowCountsByDay, utc8Day, type FollowCounts } from '../../follows/counters';
import { COLLECTIONS, type DocumentStore } from '../../store/port';

export interface CredentialLine {
  kind: string;
  version: number;
  hasValue: boolean;
  fetchedAtMs: number;
  expiresAtMs: number;
  /** When the timer refreshes it: once less than the refresh window is left. */
  refreshDueAtMs: number;
  source: string | null;
  backoffUntilMs: number;
  lastError: { code: string; errcode: number | null; message: string; atMs: number } | null;
  /** 40164 only: the address WeChat refused, and the fix. */
  ipRefusal: { ip: string; advice: string } | null;
}

/** What the page says about an account: its summary without the secrets' set/missing (the console's environment is not getToken's). */
export type AccountFacts = Pick<AccountSummary, 'kind' | 'verified' | 'name' | 'messageMode' | 'active' | 'isDefault' | 'capabilities'>;

export interface AccountView {
  appId: string;
  /** Null for an appid that has cached credentials but is not in the registry. */
  account: AccountFacts | null;
  credentials: CredentialLine[];
  /** Follows per channel, in total and per day; null when no follow source is plugged in. */
  follows: FollowReport | null;
}

/** Daily follow counts of one account, per channel: what the chart draws. */
export interface FollowSeries {
  days: string[];
  channels: Array<{ channel: string; follows: number[]; unfollows: number[] }>;
}

/** One channel's all-time counts. */
export type ChannelTotals = FollowCounts & { channel: string };

export interface FollowReport {
  /** The account's all-time counts. */
  total: FollowCounts;
  /** Per channel, all time. */
  channels: ChannelTotals[];
  /** The last {@link FOLLOW_CHART_DAYS} days (UTC+8), per channel. */
  series: FollowSeries;
  /** A read came back full: some counts are missing. */
  truncated: boolean;
}

/** Where follow counts come from (one function, plugged in by the handler). */
export type FollowSource = (store: DocumentStore, appId: string, nowMs: number) => Promise<FollowReport | null>;

/** The accounts registry as the console reads it (shared/accounts/registry.ts). */
export interface AccountDirectory {
  listAll(): Promise<OfficialAccount[]>;
}

/** How many days the follow chart shows, today included. */
export const FOLLOW_CHART_DAYS = 14;
const DAY_MS = 86_400_000;
const KIND_ORDER = ['access_token', 'ticket:wx_card', 'ticket:jsapi'];

/** The IP in WeChat's 40164 text ("invalid ip 1.2.3.4 ipv6 …") or in our own message ("from IP 1.2.3.4"). */
export function refusedIpOf(message: string): string | null {
  return /invalid ip ([0-9a-fA-F:.]+)/.exec(message)?.[1] ?? /from IP ([0-9a-fA-F:.]+)/.exec(message)?.[1] ?? null;
}

function lineOf(doc: CredentialDoc): CredentialLine {
  const ip = doc.lastError?.errcode === 40164 ? refusedIpOf(doc.lastError.message) : null;
  return {
    kind: doc.kind,
    version: doc.version,
    hasValue: typeof doc.value === 'string' && doc.value !== '',
    fetchedAtMs: doc.fetchedAtMs,
    expiresAtMs: doc.expiresAtMs,
    refreshDueAtMs: doc.expiresAtMs - DEFAULT_TIMING.refreshAheadMs,
    source: doc.source,
    backoffUntilMs: doc.backoffUntilMs,
    lastError: doc.lastError,
    ipRefusal: doc.lastError?.errcode === 40164
      ? {
        ip: ip ?? 'unknown',
        advice: `Add ${ip ?? 'the address in the message'} to the account's IP whitelist (公众平台 → 设置与开发 → 基本配置 → IP白名单), `
          + 'and make sure only getToken fetches tokens, with the fixed outbound IP switched on (云函数 → getToken → 固定出口IP).',
      }
      : null,
  };
}

/** The days of the chart, oldest first, ending today (UTC+8). */
export function chartDays(nowMs: number, count: number = FOLLOW_CHART_DAYS): string[] {
  return Array.from({ length: count }, (_, index) => utc8Day(nowMs - (count - 1 - index) * DAY_MS));
}

/**
 * The follow ledger's counters: the all-time counts per channel (one query), then the chart's
 * days per channel (as many queries as the number of channels makes necessary, one up to 4).
 */
export const followCounters: FollowSource = async (store, appId, nowMs) => {
  const all = await readFollowCounts(store, appId);
  const { appId: _ignored, channels, truncated, ...total } = all;
  const daily = channels.length === 0 ? null : await readFollowCountsByDay(store, appId, chartDays(nowMs), channels.length);
  const days = daily?.days ?? chartDays(nowMs);
  return {
    total,
    channels,
    series: {
      days,
      channels: (daily?.channels ?? []).map(({ channel, perDay }) => ({
        channel,
        follows: perDay.map((counts) => counts.follows),
        unfollows: perDay.map((counts) => counts.unfollows),
      })),
    },
    truncated: truncated || daily?.truncated === true,
  };
};

function factsOf(account: OfficialAccount): AccountFacts {
  const { kind, verified, name, messageMode, active, isDefault, capabilities } = summarizeAccount(account);
  return { kind, verified, name, messageMode, active, isDefault, capabilities };
}

/**
 * Every account of the registry (the environment's first, removed ones last), then any appid the
 * credential cache holds that the registry does not know, each with its credentials and follows.
 */
export async function accountsView(store: DocumentStore, nowMs: number, directory: AccountDirectory, follows?: FollowSource): Promise<AccountView[]> {
  const [accounts, docs] = await Promise.all([
    directory.listAll(),
    store.find<CredentialDoc>(COLLECTIONS.credentials, { kind: { in: KIND_ORDER } }, { limit: 300 }),
  ]);
  const byApp = new Map<string, CredentialLine[]>();
  for (const doc of docs) {
    const lines = byApp.get(doc.appId) ?? [];
    lines.push(lineOf(doc));
    byApp.set(doc.appId, lines);
  }
  const ordered = [...accounts.filter((account) => account.active), ...accounts.filter((account) => !account.active)];
  const known = new Set(ordered.map((account) => account.appId));
  const rows: Array<{ appId: string; account: AccountFacts | null }> = [
    ...ordered.map((account) => ({ appId: account.appId, account: factsOf(account) })),
    ...[...byApp.keys()].filter((appId) => !known.has(appId)).sort().map((appId) => ({ appId, account: null })),
  ];
  return Promise.all(rows.map(async ({ appId, account }) => ({
    appId,
    account,
    credentials: (byApp.get(appId) ?? []).sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind)),
    follows: follows === undefined || account === null ? null : await follows(store, appId, nowMs),
  })));
}
