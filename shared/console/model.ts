/**
 * The console's stored shapes (collections `ops_*` in shared/store/port.ts COLLECTIONS). Times
 * are epoch ms. No document holds a password, a session token or a CSRF token in clear.
 */
import type { StoredDoc } from '../store/port';

/** An operator (`ops_operators`, `_id` = sign-in name). Only the CLI creates, resets and removes them. */
export interface OperatorDoc extends StoredDoc {
  /** `scrypt$N$r$p$salt$hash` (passwords.ts). */
  passwordHash: string;
  createdAtMs: number;
  passwordChangedAtMs: number;
  /** Raised by a password reset: sessions opened under an older epoch stop working at once. */
  epoch: number;
  /** Who created or last reset it (`cli:<os user>`). */
  changedBy: string;
}

/** A signed-in browser (`ops_sessions`, `_id` = SHA-256 of the cookie's token, base64url). */
export interface SessionDoc extends StoredDoc {
  operator: string;
  /** The operator's epoch when the session opened. */
  epoch: number;
  createdAtMs: number;
  /** Absolute end, whatever the activity. */
  expiresAtMs: number;
  /** End unless the operator does something before (moved forward at most once a minute). */
  idleUntilMs: number;
  lastSeenAtMs: number;
  ip: string;
  userAgent: string;
}

/** Failed or pending sign-in attempts of one key (`ops_sign_in_limits`, `_id` = `name:<n>` or `ip:<ip>`). */
export interface SignInLimitDoc extends StoredDoc {
  /** Attempts counted in the window (counted before the password is checked, so parallel guesses count too). */
  attempts: number;
  windowStartMs: number;
  /** No attempt is checked before this. */
  lockedUntilMs: number;
  updatedAtMs: number;
}

/** What an audit entry records (`ops_audit`). Values are short: ids, names, codes — never secrets. */
export interface AuditDoc extends StoredDoc {
  atMs: number;
  /** The operator's name, `cli:<os user>`, or `anonymous` for a failed sign-in. */
  actor: string;
  /** e.g. `sign-in`, `sign-in.refused`, `campaign.pause`, `claim.settle`, `operator.add`. */
  action: string;
  /** What it acted on: a campaign id, a claim id, an operator name. */
  target: string;
  outcome: 'ok' | 'refused' | 'failed';
  /** The client's address as the gateway reported it ('' from the CLI). */
  ip: string;
  detail: Record<string, string | number | boolean | null>;
}

/** Sign-in names: short, lower-case, no spaces (they appear in audit lines and cookies never). */
export const OPERATOR_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{1,31}$/;
