import { AppError, CredentialError, ErrorCode, WechatApiError, WxErrcode } from '../errors';
import { registerSecret, type Logger } from '../log';
import type { DocumentStore } from '../store/port';
import { COLLECTIONS } from '../store/port';
import type { FetchedCredential } from '../wechat/token';
import { UpstreamTransportError } from '../wechat/http';
import {
  chinaDayKey,
  credentialId,
  DEFAULT_TIMING,
  isRecentlyConfirmed,
  isUsable,
  type Credential,
  type CredentialDoc,
  type CredentialFailure,
  type CredentialKind,
  type CredentialSource,
  type CredentialTiming,
  type ForceRefreshQuotaDoc,
} from './model';

/** stable_token's force_refresh limits (reference/wechat-api.md §1). */
export const FORCE_REFRESH_PER_DAY = 20;
export const FORCE_REFRESH_SPACING_MS = 30_000;

export interface CredentialOwnerOptions {
  store: DocumentStore;
  appId: string;
  kind: CredentialKind;
  /** The upstream fetch. `forceRefresh` is asked for only when WeChat returned the very value it had rejected. */
  fetch: (request: { forceRefresh: boolean }) => Promise<FetchedCredential>;
  /** Whether `fetch` honours forceRefresh (stable_token does; classic tokens and tickets are always new). */
  supportsForceRefresh: boolean;
  /** Identifies this instance in the lease. */
  instanceId: string;
  log: Logger;
  timing?: Partial<CredentialTiming>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface RefreshOutcome {
  refreshed: boolean;
  credential: Credential;
}

/** Raised to waiters while an earlier upstream failure's back-off is running. */
export class CredentialBackoffError extends AppError {
  readonly failure: CredentialFailure;
  constructor(kind: CredentialKind, failure: CredentialFailure, untilMs: number, nowMs: number) {
    const code = (Object.values(ErrorCode) as string[]).includes(failure.code) ? (failure.code as ErrorCode) : ErrorCode.UPSTREAM;
    super(code, `${kind} unavailable: the last fetch failed (${failure.message}); next attempt in ${Math.max(0, untilMs - nowMs)} ms`);
    this.failure = failure;
  }
}

/**
 * The only code that fetches a credential from WeChat. One instance of it runs in the function
 * that owns the credential (getToken for the access_token, getTicket for the tickets); the
 * cache document's lease makes it a single flight across all instances of that function.
 */
export class CredentialOwner {
  private readonly store: DocumentStore;
  private readonly id: string;
  private readonly timing: CredentialTiming;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly inFlight = new Map<string, Promise<Credential>>();
  private memory: { credential: Credential; confirmedAtMs: number } | null = null;

  constructor(private readonly options: CredentialOwnerOptions) {
    this.store = options.store;
    this.id = credentialId(options.appId, options.kind);
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * A usable credential for a request path. Reads the cache document; fetches only when it is not
   * usable, or when it is the version the caller saw rejected (`rejectedVersion`) and WeChat has
   * not just confirmed that version as current. Every concurrent caller reporting the same
   * rejection shares one refresh: waiters re-read the document and find it replaced or confirmed.
   */
  get(options: { rejectedVersion?: number } = {}): Promise<Credential> {
    const { rejectedVersion } = options;
    const stands = (doc: { version: number; confirmedAtMs: number }, nowMs: number): boolean =>
      rejectedVersion === undefined || doc.version > rejectedVersion || isRecentlyConfirmed(doc, nowMs, this.timing);
    // A warm instance answers from memory; a caller reporting a rejected version goes past it
    // unless that version is newer than the rejected one or freshly confirmed.
    const memory = this.memory;
    const nowMs = this.now();
    if (memory && isUsable(memory.credential, nowMs, this.timing) && stands({ version: memory.credential.version, confirmedAtMs: memory.confirmedAtMs }, nowMs)) {
      return Promise.resolve(memory.credential);
    }
    const key = `get:${rejectedVersion ?? ''}`;
    return this.shared(key, () =>
      this.ensure(
        (doc, now) => !isUsable(doc, now, this.timing) || !stands(doc, now),
        rejectedVersion === undefined ? 'demand' : 'recover',
      ),
    );
  }

  /** The timer's entry: refresh when the cached value is missing or within `refreshAheadMs` of expiry. */
  async refreshIfDue(): Promise<RefreshOutcome> {
    let fetched = false;
    const held = await this.ensure(
      (doc, nowMs) => doc.value === null || doc.expiresAtMs - this.timing.refreshAheadMs <= nowMs,
      'timer',
      () => {
        fetched = true;
      },
    );
    return { refreshed: fetched, credential: this.remember(held) };
  }

  private remember(held: Held): Credential {
    registerSecret(held.credential.value);
    if (!this.memory || held.credential.version >= this.memory.credential.version) this.memory = held;
    return held.credential;
  }

  /** Metadata for operators; never the value. */
  async status(): Promise<Omit<CredentialDoc, 'value'> & { hasValue: boolean }> {
    const doc = await this.readOrCreate();
    const { value, ...rest } = doc;
    return { ...rest, hasValue: typeof value === 'string' && value !== '' };
  }

  // Callers in one instance share one promise; a rejected one is evicted so the next call retries.
  private shared(key: string, work: () => Promise<Held>): Promise<Credential> {
    const existing = this.inFlight.get(key);
    if (existing) return existing;
    const promise = work()
      .then((credential) => this.remember(credential))
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }

  private async readOrCreate(): Promise<CredentialDoc> {
    const existing = await this.store.get<CredentialDoc>(COLLECTIONS.credentials, this.id);
    if (existing) return existing;
    const blank: CredentialDoc = {
      _id: this.id,
      appId: this.options.appId,
      kind: this.options.kind,
      value: null,
      expiresAtMs: 0,
      fetchedAtMs: 0,
      version: 0,
      source: null,
      leaseOwner: null,
      leaseUntilMs: 0,
      backoffUntilMs: 0,
      lastError: null,
      rejectedAtMs: 0,
      confirmedAtMs: 0,
      contradictions: 0,
      lastContradiction: null,
    };
    // Many cold instances may race here; the unique _id lets exactly one insert win.
    await this.store.insert(COLLECTIONS.credentials, { ...blank });
    return (await this.store.get<CredentialDoc>(COLLECTIONS.credentials, this.id)) ?? blank;
  }

  // Documents written before confirmations existed get the fields once, so that the readers'
  // compare-and-expire guard (`confirmedAtMs < …`) matches them too.
  private async migrate(doc: CredentialDoc): Promise<CredentialDoc> {
    if (typeof doc.confirmedAtMs === 'number') return doc;
    const fields = { confirmedAtMs: 0, contradictions: doc.contradictions ?? 0, lastContradiction: doc.lastContradiction ?? null };
    await this.store.update(COLLECTIONS.credentials, { _id: this.id }, { set: fields });
    return { ...doc, ...fields };
  }

  private async ensure(
    needsFetch: (doc: CredentialDoc, nowMs: number) => boolean,
    source: CredentialSource,
    onFetch?: () => void,
  ): Promise<Held> {
    const deadlineMs = this.now() + this.timing.waitMs;
    let doc = await this.migrate(await this.readOrCreate());
    for (;;) {
      const nowMs = this.now();
      if (!needsFetch(doc, nowMs)) return held(doc);
      if (doc.backoffUntilMs > nowMs) {
        // An instance just failed upstream. Hand out what still works; otherwise fail fast, don't hammer.
        if (isUsable(doc, nowMs, this.timing) && doc.rejectedAtMs === 0) return held(doc);
        throw new CredentialBackoffError(this.options.kind, doc.lastError ?? unknownFailure(nowMs), doc.backoffUntilMs, nowMs);
      }
      if (doc.leaseUntilMs <= nowMs) {
        // The version guard makes this a compare-and-set: if anyone refreshed since our read, we lose and re-read.
        const won = await this.store.update(
          COLLECTIONS.credentials,
          { _id: this.id, version: doc.version, leaseUntilMs: { lte: nowMs } },
          { set: { leaseOwner: this.options.instanceId, leaseUntilMs: nowMs + this.timing.leaseMs } },
        );
        if (won === 1) {
          onFetch?.();
          return this.fetchAndStore(doc, source);
        }
      }
      if (nowMs >= deadlineMs) {
        throw new CredentialError(
          `Timed out after ${this.timing.waitMs} ms waiting for another instance to refresh ${this.options.kind}`,
        );
      }
      await this.sleep(this.timing.pollMs);
      doc = await this.readOrCreate();
    }
  }

  private async fetchAndStore(doc: CredentialDoc, source: CredentialSource): Promise<Held> {
    const startedAtMs = this.now();
    try {
      // A reader compare-and-expired the value after WeChat refused it (rejectedAtMs), or a caller
      // reported its version rejected (source recover): either way this fetch answers a rejection.
      const rejected = doc.rejectedAtMs > 0;
      const answersRejection = rejected || source === 'recover';
      let fetched = await this.options.fetch({ forceRefresh: false });
      let contradiction: string | null = null;
      if (rejected && fetched.value === doc.value) {
        // WeChat handed back the very value its API had just refused: only a force refresh replaces it.
        const refusal = this.options.supportsForceRefresh ? await this.takeForceRefreshQuota() : `WeChat has no force refresh for ${this.options.kind}`;
        if (refusal === null) {
          this.options.log.warn('force-refreshing the rejected credential', { kind: this.options.kind });
          fetched = await this.options.fetch({ forceRefresh: true });
          if (fetched.value === doc.value) contradiction = 'force_refresh answered the same value';
        } else {
          contradiction = refusal;
        }
      }
      registerSecret(fetched.value);
      const expiresAtMs = startedAtMs + fetched.expiresInSeconds * 1000;
      const fetchedAtMs = this.now();
      // stable_token in normal mode may hand back the value already cached, with a later expiry. The
      // version names the value (compare-and-expire matches on it), so it moves only when the value does.
      const changed = fetched.value !== doc.value;
      const version = changed ? doc.version + 1 : doc.version;
      // The same value in answer to a rejection is WeChat's word that it is current: served, and not
      // fetched again for further rejections of it within recheckAfterMs (one refresh per burst, no loop).
      const confirmedAtMs = changed ? 0 : answersRejection ? fetchedAtMs : doc.confirmedAtMs;
      const inc: Record<string, number> = {};
      if (changed) inc.version = 1;
      if (contradiction !== null) inc.contradictions = 1;
      await this.store.update(
        COLLECTIONS.credentials,
        { _id: this.id },
        {
          set: {
            value: fetched.value,
            expiresAtMs,
            fetchedAtMs,
            source,
            leaseOwner: null,
            leaseUntilMs: 0,
            backoffUntilMs: 0,
            lastError: null,
            rejectedAtMs: 0,
            confirmedAtMs,
            ...(contradiction === null ? {} : { lastContradiction: { atMs: fetchedAtMs, version, message: contradiction } }),
          },
          ...(Object.keys(inc).length > 0 ? { inc } : {}),
        },
      );
      if (contradiction !== null) {
        // Taking the value out of service would fail every caller until force_refresh is allowed
        // again (30 s, or tomorrow after 20): WeChat's token endpoint says it is current, so it stays.
        this.options.log.warn('WeChat contradicted a rejection: keeping the value its token endpoint answered', {
          kind: this.options.kind,
          version,
          reason: contradiction,
        });
      }
      this.options.log.info('credential refreshed', {
        kind: this.options.kind,
        source,
        version,
        expiresInSeconds: fetched.expiresInSeconds,
      });
      return { credential: { value: fetched.value, expiresAtMs, version }, confirmedAtMs };
    } catch (error) {
      await this.releaseWithBackoff(error);
      throw error;
    }
  }

  private async releaseWithBackoff(error: unknown): Promise<void> {
    const nowMs = this.now();
    const failure: CredentialFailure = {
      code: error instanceof AppError ? error.code : ErrorCode.INTERNAL,
      errcode: error instanceof WechatApiError ? error.errcode : null,
      message: error instanceof Error ? error.message : String(error),
      atMs: nowMs,
    };
    try {
      await this.store.update(
        COLLECTIONS.credentials,
        { _id: this.id, leaseOwner: this.options.instanceId },
        { set: { leaseOwner: null, leaseUntilMs: 0, backoffUntilMs: nowMs + backoffMsFor(error), lastError: failure } },
      );
    } catch (releaseError) {
      // The lease then simply runs out; the original error is the one that matters.
      this.options.log.warn('could not release the credential lease', { kind: this.options.kind, error: releaseError });
    }
  }

  /** Takes one force_refresh from the shared daily budget; the reason when none may be spent now. */
  private async takeForceRefreshQuota(): Promise<string | null> {
    const id = `${this.options.appId}:force_refresh`;
    const nowMs = this.now();
    const today = chinaDayKey(nowMs);
    const blank: ForceRefreshQuotaDoc = { _id: id, appId: this.options.appId, kind: 'force_refresh_quota', dayKey: today, count: 0, lastAtMs: 0 };
    await this.store.insert(COLLECTIONS.credentials, { ...blank });
    const spaced = { lte: nowMs - FORCE_REFRESH_SPACING_MS };
    const sameDay = await this.store.update(
      COLLECTIONS.credentials,
      { _id: id, dayKey: today, count: { lt: FORCE_REFRESH_PER_DAY }, lastAtMs: spaced },
      { inc: { count: 1 }, set: { lastAtMs: nowMs } },
    );
    if (sameDay === 1) return null;
    const newDay = await this.store.update(
      COLLECTIONS.credentials,
      { _id: id, dayKey: { neq: today }, lastAtMs: spaced },
      { set: { dayKey: today, count: 1, lastAtMs: nowMs } },
    );
    if (newDay === 1) return null;
    return (
      `stable_token returned the rejected access_token again, and force_refresh is not allowed now ` +
      `(at most ${FORCE_REFRESH_PER_DAY} per day, ${FORCE_REFRESH_SPACING_MS / 1000} s apart)`
    );
  }
}

/** A credential with the moment WeChat last confirmed it after a rejection (what `get` needs to decide). */
interface Held {
  credential: Credential;
  confirmedAtMs: number;
}

function held(doc: CredentialDoc): Held {
  return { credential: toCredential(doc), confirmedAtMs: doc.confirmedAtMs ?? 0 };
}

function toCredential(doc: CredentialDoc): Credential {
  return { value: doc.value as string, expiresAtMs: doc.expiresAtMs, version: doc.version };
}

function unknownFailure(nowMs: number): CredentialFailure {
  return { code: ErrorCode.UPSTREAM, errcode: null, message: 'unknown failure', atMs: nowMs };
}

/** How long every instance leaves WeChat alone after a failure, by what the failure means. */
export function backoffMsFor(error: unknown): number {
  if (error instanceof WechatApiError) {
    switch (error.errcode) {
      case WxErrcode.DAILY_QUOTA:
        return 60_000;
      case WxErrcode.IP_NOT_WHITELISTED:
      case WxErrcode.INVALID_APPSECRET:
      case WxErrcode.INVALID_APPID:
      case WxErrcode.APPSECRET_FROZEN:
      case WxErrcode.ADMIN_CONFIRM_PENDING:
      case WxErrcode.ADMIN_CONFIRM_NEEDED:
      case WxErrcode.IP_REFUSED_1H:
      case WxErrcode.IP_REFUSED_24H:
        // Configuration problems: repeating the call cannot help and may alarm the account admin.
        return 60_000;
      case WxErrcode.SYSTEM_BUSY:
      case WxErrcode.MINUTE_QUOTA:
        return 2_000;
      default:
        return 1_000;
    }
  }
  if (error instanceof UpstreamTransportError) return 1_000;
  return 1_000;
}
