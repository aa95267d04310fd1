/**
 * The one state object of the WeChat sandbox and the credential rules that act on it: the
 * sandbox clock, accounts and whitelist, issued access tokens and tickets, daily quotas, faults
 * and call counters, plus uploaded images and the card state (its rules live in `card-state.ts`).
 * API modules read and change it only through these functions so that every endpoint sees the
 * same clock and the same tokens.
 */
import { randomBytes } from 'node:crypto';
import { clearCardState, createCardState, type CardState } from './card-state';
import type { Fault } from './faults';
import type { SandboxAccount, SandboxConfig } from './options';

/** Classic `/cgi-bin/token` tokens and `/cgi-bin/stable_token` tokens are fully independent. */
export type TokenKind = 'classic' | 'stable';
/** `wx_card` is the card api_ticket, `jsapi` the JS-SDK ticket: two different credentials. */
export type TicketType = 'wx_card' | 'jsapi';
export const TICKET_TYPES: readonly TicketType[] = ['wx_card', 'jsapi'];

/** access_token and ticket lifetime: "有效期目前为 2 个小时". */
export const CREDENTIAL_TTL_MS = 7_200_000;
/** "公众平台后台会保证在5分钟内，新老access_token都可用" (classic), and the stable token's early-refresh window. */
export const TOKEN_OVERLAP_MS = 300_000;
/** A stable_token force refresh less than 30 s after the last effective one does not refresh. */
export const FORCE_REFRESH_SPACING_MS = 30_000;
/** stable_token force_refresh is limited to 20 calls per day. */
export const FORCE_REFRESH_DAILY_LIMIT = 20;

const UTC8_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** One issued access token. */
export interface TokenRecord {
  readonly accessToken: string;
  readonly appid: string;
  readonly kind: TokenKind;
  readonly issuedAtMs: number;
  /** Natural expiry, or the moment the control API expired it: 42001 from then on. */
  expiresAtMs: number;
  /** When it was superseded or invalidated: 40001 from then on (if before `expiresAtMs`). */
  revokedAtMs: number | undefined;
}

/** One issued ticket; each stays valid until its own expiry. */
export interface TicketRecord {
  readonly ticket: string;
  readonly appid: string;
  readonly type: TicketType;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

/** One image `/cgi-bin/media/uploadimg` stored; its URL is what `/card/create` accepts as logo_url. */
export interface UploadedImage {
  readonly url: string;
  readonly appid: string;
  readonly sizeBytes: number;
  readonly uploadedAtMs: number;
}

/** Daily quotas are per account and per API, like WeChat's "接口调用次数". */
export type QuotaName = 'token' | 'stable_token' | 'stable_token_force' | 'getticket';

/**
 * A sandbox user's relation to one official account (they follow it, or did). The customer-service
 * window is the allowance the user's last action opened (reference/official-accounts.md §1.3).
 */
export interface FollowRecord {
  user: string;
  appid: string;
  openid: string;
  following: boolean;
  /** The last follow (sandbox clock); `user/info`'s subscribe_time. */
  subscribedAtMs: number;
  unsubscribedAtMs: number | null;
  subscribeScene: string;
  qrScene: string | null;
  window: { kind: 'follow' | 'scan' | 'message'; opensAtMs: number; validMs: number; allowed: number; used: number } | null;
}

/** A parametric QR code `/cgi-bin/qrcode/create` made. */
export interface QrCodeRecord {
  ticket: string;
  appid: string;
  /** scene_str, or scene_id as digits. */
  scene: string;
  permanent: boolean;
  /** What the image encodes. */
  url: string;
  createdAtMs: number;
  expiresAtMs: number | null;
}

/** One push the sandbox delivered (or tried to) to an account's server URL, kept for replays and tests. */
export interface PushRecord {
  id: number;
  appid: string;
  openid: string;
  event: string;
  url: string;
  /** The query string WeChat signed, exactly as sent. */
  query: string;
  body: string;
  sentAtMs: number;
  attempts: number;
  delivered: boolean;
  status: number | null;
  /** `success`, `empty`, `xml` (a passive reply), `error` (non-200), `timeout` (every attempt timed out). */
  answer: 'success' | 'empty' | 'xml' | 'error' | 'timeout' | null;
  reply: Record<string, unknown> | null;
  replyError: string | null;
}

/** Upstream call counters, as `GET /__sandbox/stats` shows them. */
export interface SandboxCounters {
  calls: Map<string, number>;
  detail: Map<string, number>;
  errors: Map<string, Map<string, number>>;
  byAppid: Map<string, Map<string, number>>;
}

/**
 * The whole mutable state of one sandbox. It persists as a whole (`.local/sandbox/wechat.json`,
 * see the contract in `../persist.ts`): a field added here is saved and restored with no other
 * change, provided it holds data (Maps, Sets, arrays, plain objects, primitives, Dates, Buffers),
 * not functions or class instances. Only {@link SANDBOX_TRANSIENT_KEYS} are left out.
 */
export interface SandboxState {
  readonly config: SandboxConfig;
  clockOffsetMs: number;
  /** By appid: secret, kind, verification, push settings, Open Platform binding, own whitelist. */
  accounts: Map<string, SandboxAccount>;
  ipWhitelist: Set<string>;
  tokensByValue: Map<string, TokenRecord>;
  /** Per appid, in issue order (the newest last). */
  tokensByAppid: Map<string, TokenRecord[]>;
  tickets: Map<string, TicketRecord>;
  quota: { dayKey: number; used: Map<string, number> };
  lastForceRefreshAtMs: Map<string, number>;
  faults: Fault[];
  nextFaultId: number;
  counters: SandboxCounters;
  /** By URL. */
  images: Map<string, UploadedImage>;
  cards: CardState;
  /** By `<appid> <openid>`: who follows which account (users.ts). */
  follows: Map<string, FollowRecord>;
  /** openid → the sandbox user and the app it belongs to (openids are derived from both). */
  userIds: Map<string, { user: string; appid: string }>;
  /** By ticket. */
  qrCodes: Map<string, QrCodeRecord>;
  /** The latest pushes, oldest first (at most {@link MAX_PUSH_RECORDS}). */
  pushes: PushRecord[];
  nextPushId: number;
  /** How long WeChat waits for a server URL's answer before it retries (5 s; tests shorten it). */
  pushTimeoutMs: number;
  /** Web OAuth codes by value (api/oauth.ts): single use, 5 minutes. */
  oauthCodes: Map<string, OauthCodeRecord>;
  /** User-level access_tokens of web OAuth by value (for /sns/userinfo). */
  oauthTokens: Map<string, { appid: string; openid: string; scope: string; expiresAtMs: number }>;
  /** Users WeChat shows the snapshot page (快照页) to: their OAuth ids are virtual (is_snapshotuser). */
  snapshotUsers: Set<string>;
  /** The in-app browser's cookies per user (browser.ts): `<user>` → `<origin> <path> <name>` → value. */
  browserCookies: Map<string, Map<string, string>>;
  /** Every wx.config the JS-SDK stand-in verified, newest last (at most {@link MAX_PUSH_RECORDS}). */
  jsapiVerifications: JsapiVerification[];
  /** By `<appid> <openid>`: a mini-program user's risk rank and last visit (api/risk.ts). */
  riskUsers: Map<string, RiskUserRecord>;
}

/** What WeChat's risk control knows of one mini-program user (api/risk.ts). */
export interface RiskUserRecord {
  /** 0..4. */
  rank: number;
  /** The user's last visit to the mini-program (sandbox clock); null: none WeChat remembers. */
  visitedAtMs: number | null;
  /** What the last getuserriskrank for this user said (for tests: the client_ip and scene a caller sent); null before any. */
  lastAsked: { clientIp: string; scene: number } | null;
}

/** One web OAuth code. */
export interface OauthCodeRecord {
  appid: string;
  user: string;
  scope: string;
  issuedAtMs: number;
  used: boolean;
  snapshot: boolean;
}

/** One wx.config as WeChat's client checked it. */
export interface JsapiVerification {
  appId: string;
  url: string;
  jsApiList: string[];
  ok: boolean;
  errMsg: string;
  atMs: number;
}

/** How many pushes the sandbox remembers for `GET /__sandbox/pushes` and replays. */
export const MAX_PUSH_RECORDS = 1000;

/** Left out of the snapshot: rebuilt from the options at every start (and it holds the clock function). */
export const SANDBOX_TRANSIENT_KEYS = ['config'] as const satisfies readonly (keyof SandboxState)[];
/** The snapshot's schema: bump it when a change makes older snapshots unreadable (they are then set aside). */
// /2: accounts became Map<appid, SandboxAccount> (kind, verification, push settings) instead of Map<appid, secret>.
export const SANDBOX_STATE_SCHEMA = 'wechat-sandbox/2';

/** A fresh state from validated options. */
export function createSandboxState(config: SandboxConfig): SandboxState {
  const state: SandboxState = {
    config,
    clockOffsetMs: 0,
    accounts: new Map(),
    ipWhitelist: new Set(),
    tokensByValue: new Map(),
    tokensByAppid: new Map(),
    tickets: new Map(),
    quota: { dayKey: 0, used: new Map() },
    lastForceRefreshAtMs: new Map(),
    faults: [],
    nextFaultId: 1,
    counters: emptyCounters(),
    images: new Map(),
    cards: createCardState(),
    follows: new Map(),
    userIds: new Map(),
    qrCodes: new Map(),
    pushes: [],
    nextPushId: 1,
    pushTimeoutMs: config.pushTimeoutMs,
    oauthCodes: new Map(),
    oauthTokens: new Map(),
    snapshotUsers: new Set(),
    browserCookies: new Map(),
    jsapiVerifications: [],
    riskUsers: new Map(),
  };
  resetSandboxState(state, { keepAccounts: false });
  return state;
}

/**
 * Forgets tokens, tickets, quotas, counters, faults, the clock offset, images, cards and codes;
 * restores the whitelist and, unless kept, the accounts.
 */
export function resetSandboxState(state: SandboxState, options: { keepAccounts: boolean }): void {
  state.clockOffsetMs = 0;
  if (!options.keepAccounts) state.accounts = new Map([...state.config.accounts].map(([appid, account]) => [appid, copyAccount(account)]));
  state.ipWhitelist = new Set(state.config.ipWhitelist);
  for (const account of state.accounts.values()) {
    const configured = state.config.accounts.get(account.appid)?.ipWhitelist ?? null;
    account.ipWhitelist = configured === null ? null : [...configured];
  }
  state.tokensByValue.clear();
  state.tokensByAppid.clear();
  state.tickets.clear();
  state.quota = { dayKey: utc8DayKey(sandboxNowMs(state)), used: new Map() };
  state.lastForceRefreshAtMs.clear();
  state.faults = [];
  state.counters = emptyCounters();
  state.images.clear();
  clearCardState(state.cards);
  state.follows.clear();
  state.userIds.clear();
  state.qrCodes.clear();
  state.pushes = [];
  state.nextPushId = 1;
  state.pushTimeoutMs = state.config.pushTimeoutMs;
  state.oauthCodes.clear();
  state.oauthTokens.clear();
  state.snapshotUsers.clear();
  state.browserCookies.clear();
  state.jsapiVerifications = [];
  state.riskUsers.clear();
}

// A copy made in this realm, not structuredClone's: the state persists only plain objects of its own realm.
function copyAccount(account: SandboxAccount): SandboxAccount {
  return {
    ...account,
    push: account.push === null ? null : { ...account.push },
    ipWhitelist: account.ipWhitelist === null ? null : [...account.ipWhitelist],
    webDomains: account.webDomains === undefined || account.webDomains === null ? null : [...account.webDomains],
  };
}

export function emptyCounters(): SandboxCounters {
  return { calls: new Map(), detail: new Map(), errors: new Map(), byAppid: new Map() };
}

/** The sandbox clock: the base clock plus the advanceable offset. */
export function sandboxNowMs(state: SandboxState): number {
  return state.config.baseNowMs() + state.clockOffsetMs;
}

/** Seconds left on a credential, as WeChat's `expires_in` (never negative). */
export function expiresInSeconds(state: SandboxState, expiresAtMs: number): number {
  return Math.max(0, Math.floor((expiresAtMs - sandboxNowMs(state)) / 1000));
}

/** WeChat's daily quotas reset at midnight Beijing time (UTC+8). */
export function utc8DayKey(epochMs: number): number {
  return Math.floor((epochMs + UTC8_OFFSET_MS) / DAY_MS);
}

/** Counts one call against a daily quota; false (and nothing counted) when the quota is used up. */
export function takeDailyQuota(state: SandboxState, appid: string, name: QuotaName, limit: number): boolean {
  const dayKey = utc8DayKey(sandboxNowMs(state));
  if (dayKey !== state.quota.dayKey) state.quota = { dayKey, used: new Map() };
  const key = `${appid} ${name}`;
  const used = state.quota.used.get(key) ?? 0;
  if (used >= limit) return false;
  state.quota.used.set(key, used + 1);
  return true;
}

/** The IP whitelist a token request for `appid` is checked against: its own, else the sandbox-wide one. */
export function whitelistOf(state: SandboxState, account: SandboxAccount): ReadonlySet<string> {
  return account.ipWhitelist === null ? state.ipWhitelist : new Set(account.ipWhitelist);
}

/** The moment a token stops working, for whatever reason. */
export function tokenValidUntilMs(record: TokenRecord): number {
  return Math.min(record.expiresAtMs, record.revokedAtMs ?? Number.POSITIVE_INFINITY);
}

/** Why a token is (not) accepted now: 40001 for unknown and revoked, 42001 for expired. */
export function tokenStatus(state: SandboxState, accessToken: string): { status: 'unknown' | 'revoked' | 'expired' } | { status: 'live'; record: TokenRecord } {
  const record = state.tokensByValue.get(accessToken);
  if (record === undefined) return { status: 'unknown' };
  const nowMs = sandboxNowMs(state);
  if (record.revokedAtMs !== undefined && record.revokedAtMs < record.expiresAtMs && nowMs >= record.revokedAtMs) {
    return { status: 'revoked' };
  }
  if (nowMs >= record.expiresAtMs) return { status: 'expired' };
  return { status: 'live', record };
}

/** The account's tokens still working now, oldest first. */
export function liveTokens(state: SandboxState, appid: string, kind?: TokenKind): TokenRecord[] {
  const nowMs = sandboxNowMs(state);
  return (state.tokensByAppid.get(appid) ?? []).filter(
    (record) => (kind === undefined || record.kind === kind) && nowMs < tokenValidUntilMs(record),
  );
}

/**
 * Issues a classic token. "重复获取将导致上次获取的 access_token 失效", but the platform keeps
 * old and new valid together for 5 minutes: earlier classic tokens die then, or at their own
 * expiry if that comes first (in which case they report 42001, not 40001).
 */
export function issueClassicToken(state: SandboxState, appid: string): TokenRecord {
  const graceEndsAtMs = sandboxNowMs(state) + TOKEN_OVERLAP_MS;
  for (const record of liveTokens(state, appid, 'classic')) {
    if (graceEndsAtMs < tokenValidUntilMs(record)) record.revokedAtMs = graceEndsAtMs;
  }
  return issueToken(state, appid, 'classic');
}

/** Issues a stable token without touching the others (the normal-mode early refresh keeps the old one alive). */
export function issueStableToken(state: SandboxState, appid: string): TokenRecord {
  return issueToken(state, appid, 'stable');
}

/** Makes the account's live tokens of a kind stop working now (40001 afterwards); returns how many. */
export function revokeLiveTokens(state: SandboxState, appid: string, kind: TokenKind | 'all'): number {
  const nowMs = sandboxNowMs(state);
  const records = liveTokens(state, appid, kind === 'all' ? undefined : kind);
  for (const record of records) record.revokedAtMs = nowMs;
  return records.length;
}

/** Makes every live token of the account expire now (42001 afterwards); returns how many. */
export function expireLiveTokens(state: SandboxState, appid: string): number {
  const nowMs = sandboxNowMs(state);
  const records = liveTokens(state, appid);
  for (const record of records) record.expiresAtMs = nowMs;
  return records.length;
}

/** Issues a new ticket. Earlier tickets of the account and type stay valid until their own expiry. */
export function issueTicket(state: SandboxState, appid: string, type: TicketType): TicketRecord {
  const issuedAtMs = sandboxNowMs(state);
  const record: TicketRecord = { ticket: randomBytes(64).toString('base64url'), appid, type, issuedAtMs, expiresAtMs: issuedAtMs + CREDENTIAL_TTL_MS };
  state.tickets.set(record.ticket, record);
  return record;
}

/** Whether `ticket` was issued to `appid` for `type` and has not expired: what card endpoints check. */
export function isValidTicket(state: SandboxState, appid: string, type: TicketType, ticket: string): boolean {
  const record = state.tickets.get(ticket);
  return record !== undefined && record.appid === appid && record.type === type && sandboxNowMs(state) < record.expiresAtMs;
}

/** Every ticket of the account and type still valid now: cardExt signed with any of them verifies. */
export function liveTickets(state: SandboxState, appid: string, type: TicketType): TicketRecord[] {
  return [...state.tickets.values()].filter((record) => isValidTicket(state, appid, type, record.ticket));
}

function issueToken(state: SandboxState, appid: string, kind: TokenKind): TokenRecord {
  const issuedAtMs = sandboxNowMs(state);
  // 136 chars of [A-Za-z0-9_-], the length of real tokens (WeChat asks to reserve 512).
  const record: TokenRecord = {
    accessToken: randomBytes(102).toString('base64url'),
    appid,
    kind,
    issuedAtMs,
    expiresAtMs: issuedAtMs + CREDENTIAL_TTL_MS,
    revokedAtMs: undefined,
  };
  state.tokensByValue.set(record.accessToken, record);
  const list = state.tokensByAppid.get(appid) ?? [];
  list.push(record);
  state.tokensByAppid.set(appid, list);
  return record;
}
