import { APPID_PATTERN } from '../config';
import { InputError } from '../errors';
import { ACCOUNT_KINDS, MESSAGE_MODES, type AccountDoc, type AccountKind, type MessageMode } from './model';

/**
 * Checks an operator's account settings and merges them into what the registry holds. Every
 * problem is named in one InputError; no secret value is ever echoed in a message.
 */

/** What an operator may set (the `accounts add` file and flags). */
export const ACCOUNT_INPUT_FIELDS = [
  'appId', 'kind', 'verified', 'name', 'originalId', 'messageMode', 'appSecret', 'pushToken', 'encodingAESKey',
] as const;
export type AccountInput = Partial<Record<(typeof ACCOUNT_INPUT_FIELDS)[number], unknown>>;

/** The fields whose values are secrets: never printed, never echoed in a problem. */
export const SECRET_FIELDS: ReadonlySet<string> = new Set(['appSecret', 'pushToken', 'encodingAESKey']);

/** The AppSecret's shape, as config.ts checks WX_OA_APPSECRET. */
export const APPSECRET_PATTERN = /^[0-9a-zA-Z]{16,64}$/;
/** 服务器配置 → 令牌(Token): "必须为英文或数字，长度为3-32字符". */
export const PUSH_TOKEN_PATTERN = /^[A-Za-z0-9]{3,32}$/;
/** 43 characters of [a-zA-Z0-9] (reference/official-accounts.md §2.1). */
export const ENCODING_AES_KEY_PATTERN = /^[A-Za-z0-9]{43}$/;
/** 原始ID: gh_ and 12 hex digits. */
export const ORIGINAL_ID_PATTERN = /^gh_[0-9a-f]{12}$/;
const NAME_MAX_CHARS = 64;

export interface AccountSavePlan {
  doc: AccountDoc;
  /** A new account, or a removed one brought back. */
  created: boolean;
  /** The fields that differ from what the registry held (names only). */
  changed: string[];
}

/**
 * Validates `raw` and merges it over `existing` (fields left out keep their value; a removed
 * account must be given its secrets again). `isDefault` marks the environment's own account,
 * whose AppSecret may stay in WX_OA_APPSECRET.
 */
export function planAccountSave(
  raw: unknown,
  options: { existing: AccountDoc | null; isDefault: boolean; nowMs: number },
): AccountSavePlan {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError('The account must be a JSON object');
  const input = raw as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(input)) {
    if (!(ACCOUNT_INPUT_FIELDS as readonly string[]).includes(key)) problems.push(`unknown field ${cut(key)}`);
  }
  const existing = options.existing?.status === 'active' ? options.existing : null;
  const revived = options.existing !== null && existing === null;

  const appId = input.appId;
  if (typeof appId !== 'string' || !APPID_PATTERN.test(appId)) problems.push('appId must be an AppID: wx and 16 hex digits');
  else if (options.existing !== null && options.existing._id !== appId) problems.push('appId does not match the account being changed');

  const kind = pick(input, 'kind', existing?.kind, problems, (value) =>
    ACCOUNT_KINDS.includes(value as AccountKind) ? ok(value as AccountKind) : bad(`kind must be one of ${ACCOUNT_KINDS.join(', ')}`));
  const verified = pick(input, 'verified', existing?.verified, problems, (value) =>
    typeof value === 'boolean' ? ok(value) : bad('verified must be true or false (微信认证)'));
  const messageMode = pick(input, 'messageMode', existing?.messageMode, problems, (value) =>
    MESSAGE_MODES.includes(value as MessageMode) ? ok(value as MessageMode) : bad(`messageMode must be one of ${MESSAGE_MODES.join(', ')}`));
  const name = optional(input, 'name', existing?.name ?? '', problems, (value) =>
    typeof value === 'string' && value.length <= NAME_MAX_CHARS && !/[\u0000-\u001f\u007f]/.test(value)
      ? ok(value)
      : bad(`name must be text of at most ${NAME_MAX_CHARS} characters without control characters`));
  const originalId = optional(input, 'originalId', existing?.originalId ?? null, problems, (value) =>
    value === null || (typeof value === 'string' && ORIGINAL_ID_PATTERN.test(value)) ? ok(value as string | null) : bad('originalId must be the 原始ID: gh_ and 12 hex digits'));
  const appSecret = optional(input, 'appSecret', existing?.appSecret ?? null, problems, (value) =>
    typeof value === 'string' && APPSECRET_PATTERN.test(value) ? ok<string | null>(value) : bad('appSecret is malformed (16–64 letters and digits)'));
  const pushToken = optional(input, 'pushToken', existing?.pushToken ?? null, problems, (value) =>
    typeof value === 'string' && PUSH_TOKEN_PATTERN.test(value) ? ok<string | null>(value) : bad('pushToken must be 3–32 letters and digits (服务器配置 → 令牌)'));
  const encodingAESKey = optional(input, 'encodingAESKey', existing?.encodingAESKey ?? null, problems, (value) =>
    typeof value === 'string' && ENCODING_AES_KEY_PATTERN.test(value) ? ok<string | null>(value) : bad('encodingAESKey must be 43 letters and digits (服务器配置 → 消息加解密密钥)'));

  // A value given but malformed is reported above already.
  const absent = (field: string, value: string | null): boolean => value === null && input[field] === undefined;
  if (absent('appSecret', appSecret) && !options.isDefault) problems.push(`appSecret is required${revived ? ' again for a removed account' : ''}`);
  if (absent('pushToken', pushToken)) problems.push(`pushToken is required${revived ? ' again for a removed account' : ''}`);
  if (absent('encodingAESKey', encodingAESKey) && messageMode !== undefined && messageMode !== 'plain') {
    problems.push(`encodingAESKey is required in ${messageMode} mode${revived ? ' (again for a removed account)' : ''}`);
  }
  if (problems.length > 0) throw new InputError(`Invalid account:\n  - ${problems.join('\n  - ')}`);

  const keyChanged = existing !== null && existing.encodingAESKey !== null && encodingAESKey !== existing.encodingAESKey;
  const doc: AccountDoc = {
    _id: appId as string,
    appId: appId as string,
    kind: kind!,
    verified: verified!,
    name,
    originalId,
    messageMode: messageMode!,
    appSecret,
    pushToken,
    encodingAESKey,
    // WeChat switches to a new key at once, but pushes already on their way used the old one.
    previousEncodingAESKey: keyChanged ? existing.encodingAESKey : (existing?.previousEncodingAESKey ?? null),
    status: 'active',
    createdAtMs: existing?.createdAtMs ?? options.nowMs,
    updatedAtMs: options.nowMs,
    removedAtMs: 0,
  };
  const compared = ['kind', 'verified', 'name', 'originalId', 'messageMode', 'appSecret', 'pushToken', 'encodingAESKey'] as const;
  const changed = existing === null ? [] : compared.filter((field) => doc[field] !== existing[field]);
  return { doc, created: existing === null, changed };
}

type Check<T> = (value: unknown) => { value: T } | { problem: string };
const ok = <T>(value: T): { value: T } => ({ value });
const bad = (problem: string): { problem: string } => ({ problem });

// A required field: given, or kept from the existing account; a problem when neither.
function pick<T>(input: Record<string, unknown>, field: string, kept: T | undefined, problems: string[], check: Check<T>): T | undefined {
  if (input[field] === undefined) {
    if (kept === undefined) problems.push(`${field} is required`);
    return kept;
  }
  const result = check(input[field]);
  if ('problem' in result) {
    problems.push(result.problem);
    return kept;
  }
  return result.value;
}

function optional<T>(input: Record<string, unknown>, field: string, kept: T, problems: string[], check: Check<T>): T {
  return input[field] === undefined ? kept : (pick(input, field, kept, problems, check) as T);
}

/** Caller-sent text echoed in a problem is cut to a short prefix. */
function cut(text: string): string {
  return text.length > 40 ? `${JSON.stringify(text.slice(0, 40))}…` : JSON.stringify(text);
}

/** An optional `appid` field of a function's event (default: the environment's account). */
export function readOptionalAppId(event: Readonly<Record<string, unknown>>, field = 'appid'): string | undefined {
  const value = event[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !APPID_PATTERN.test(value)) throw new InputError(`${field} must be an AppID: wx and 16 hex digits`, field);
  return value;
}
