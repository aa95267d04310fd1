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

export function recordCall(state: SandboxState, path: string, detailKey: string): void {
  increment(state.counters.calls, path);
  increment(state.counters.detail, detailKey);
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

export function resetStats(state: SandboxState): void {
  state.counters = emptyCounters();
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
