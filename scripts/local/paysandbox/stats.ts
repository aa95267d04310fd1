/** Pay API counters: what tests assert on ("one send, one retry, one query"). */
import type { PayState } from './state';

/** `GET /__sandbox/pay/stats`. */
export interface PayStats {
  /** HTTP requests per Pay path (after a successful TLS handshake). */
  calls: Record<string, number>;
  /**
   * Outcomes per path: `SUCCESS`, the err_code of a FAIL result, `XML_ERROR` for return_code
   * FAIL, and the injected `UNPARSEABLE` and `DROPPED`.
   */
  replies: Record<string, Record<string, number>>;
  /** Connections refused during the TLS handshake (no or untrusted client certificate). */
  tlsHandshakeFailures: number;
}

/** Reply outcomes that are not err_codes. */
export const ReplyOutcome = { SUCCESS: 'SUCCESS', UNPARSEABLE: 'UNPARSEABLE', DROPPED: 'DROPPED' } as const;

export function recordPayCall(state: PayState, path: string): void {
  state.counters.calls.set(path, (state.counters.calls.get(path) ?? 0) + 1);
}

export function recordPayReply(state: PayState, path: string, outcome: string): void {
  const perPath = state.counters.replies.get(path) ?? new Map<string, number>();
  perPath.set(outcome, (perPath.get(outcome) ?? 0) + 1);
  state.counters.replies.set(path, perPath);
}

/** A JSON-ready copy (Object.fromEntries defines own keys, so no path can reach a prototype). */
export function payStatsSnapshot(state: PayState): PayStats {
  const { calls, replies, tlsHandshakeFailures } = state.counters;
  return {
    calls: Object.fromEntries(calls),
    replies: Object.fromEntries([...replies].map(([path, perOutcome]) => [path, Object.fromEntries(perOutcome)])),
    tlsHandshakeFailures,
  };
}
