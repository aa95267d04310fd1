/**
 * The accounts area's view model: each official account's credentials as the credential cache
 * holds them (version, age, next refresh, last error, back-off), and for 40164 the address WeChat
 * saw and what to do about it. One query: the cache has one document per (account, credential).
 */
import type { CredentialDoc } from '../../credentials/model';
import { DEFAULT_TIMING } from '../../credentials/model';
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

export interface AccountView {
  appId: string;
  credentials: CredentialLine[];
  /** Follows per channel and day, once an area supplies them (the follow ledger). */
  follows: FollowSeries | null;
}

/** Daily follow counts of one account, per channel: what the chart draws. */
export interface FollowSeries {
  days: string[];
  channels: Array<{ channel: string; follows: number[]; unfollows: number[] }>;
}

/** Where follow counts come from, when the follow ledger exists (one function, plugged in by the handler). */
export type FollowSource = (store: DocumentStore, appId: string, nowMs: number) => Promise<FollowSeries | null>;

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

/** Every account that has credentials in the cache, with its credentials. */
export async function accountsView(store: DocumentStore, nowMs: number, follows?: FollowSource): Promise<AccountView[]> {
  const docs = await store.find<CredentialDoc>(COLLECTIONS.credentials, { kind: { in: KIND_ORDER } }, { limit: 300 });
  const byApp = new Map<string, CredentialLine[]>();
  for (const doc of docs) {
    const lines = byApp.get(doc.appId) ?? [];
    lines.push(lineOf(doc));
    byApp.set(doc.appId, lines);
  }
  const appIds = [...byApp.keys()].sort();
  return Promise.all(appIds.map(async (appId) => ({
    appId,
    credentials: byApp.get(appId)!.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind)),
    follows: follows === undefined ? null : await follows(store, appId, nowMs),
  })));
}
