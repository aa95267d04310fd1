/** Upstream call counters: what tests assert on ("N cold instances → 1 upstream fetch"). */
import { emptyCounters, type SandboxState } from './state';

/** `GET /__sandbox/stats`. */
export interface SandboxStats {
  /** Requests per WeChat endpoint path, refused and faulted ones included. */
  calls: Record<string, number>;
  /** Requests per path plus the parameter that tells variants apart (`?type=wx_card`, `?force_refresh=true`). */
  detail: Record<string, number>;
  /** Non-zero errcodes answered, per path and errcode. */
  errors: Record<string, Record<string, number>>;
}

/**
 * `GET /__sandbox/stats/accounts`: requests per account and path — the appid a token API named,
 * or the account of the access_token sent ("N accounts cold → exactly N token fetches").
 */
export interface SandboxAccountStats {
  byAppid: Record<string, Record<string, number>>;
}

export function recordCall(state: SandboxState, path: string, detailKey: string, appid: string | null = null): void {
  increment(state.counters.calls, path);
  increment(state.counters.detail, detailKey);
  if (appid !== null) {
    const perAccount = state.counters.byAppid.get(appid) ?? new Map<string, number>();
    increment(perAccount, path);
    state.counters.byAppid.set(appid, perAccount);
  }
}

export function recordError(state: SandboxState, path: string, errcode: number): void {
  const perPath = state.counters.errors.get(path) ?? new Map<string, number>();
  increment(perPath, String(errcode));
  state.counters.errors.set(path, perPath);
}

/** A JSON-ready copy (Object.fromEntries defines own keys, so no path can reach a prototype). */
export function statsSnapshot(state: SandboxState): SandboxStats {
  const { calls, detail, errors } = state.counters;
  return {
    calls: Object.fromEntries(calls),
    detail: Object.fromEntries(detail),
    errors: Object.fromEntries([...errors].map(([path, perCode]) => [path, Object.fromEntries(perCode)])),
  };
}

export function accountStatsSnapshot(state: SandboxState): SandboxAccountStats {
  return { byAppid: Object.fromEntries([...state.counters.byAppid].map(([appid, perPath]) => [appid, Object.fromEntries(perPath)])) };
}

export function resetStats(state: SandboxState): void {
  state.counters = emptyCounters();
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
