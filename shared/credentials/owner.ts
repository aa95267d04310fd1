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
  private memory: Credential | null = null;

  constructor(private readonly options: CredentialOwnerOptions) {
    this.store = options.store;
    this.id = credentialId(options.appId, options.kind);
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * A usable credential for a request path. Reads the cache document; fetches only when it is not
   * usable, or when it is the version the caller saw rejected (`rejectedVersion`).
   */
  get(options: { rejectedVersion?: number } = {}): Promise<Credential> {
    const { rejectedVersion } = options;
    // A warm instance answers from memory; a caller reporting a rejected version always goes past it.
    const memory = this.memory;
    if (memory && isUsable(memory, this.now(), this.timing) && (rejectedVersion === undefined || memory.version > rejectedVersion)) {
      return Promise.resolve(memory);
    }
    const key = `get:${rejectedVersion ?? ''}`;
    return this.shared(key, () =>
      this.ensure(
        (doc, nowMs) => !isUsable(doc, nowMs, this.timing) || (rejectedVersion !== undefined && doc.version <= rejectedVersion),
        rejectedVersion === undefined ? 'demand' : 'recover',
      ),
    );
  }

  /** The timer's entry: refresh when the cached value is missing or within `refreshAheadMs` of expiry. */
  async refreshIfDue(): Promise<RefreshOutcome> {
    let fetched = false;
    const credential = await this.ensure(
      (doc, nowMs) => doc.value === null || doc.expiresAtMs - this.timing.refreshAheadMs <= nowMs,
      'timer',
      () => {
        fetched = true;
      },
    );
    return { refreshed: fetched, credential: this.remember(credential) };
  }

  private remember(credential: Credential): Credential {
    registerSecret(credential.value);
    if (!this.memory || credential.version >= this.memory.version) this.memory = credential;
    return credential;
  }

  /** Metadata for operators; never the value. */
  async status(): Promise<Omit<CredentialDoc, 'value'> & { hasValue: boolean }> {
    const doc = await this.readOrCreate();
    const { value, ...rest } = doc;
    return { ...rest, hasValue: typeof value === 'string' && value !== '' };
  }

  // Callers in one instance share one promise; a rejected one is evicted so the next call retries.
  private shared(key: string, work: () => Promise<Credential>): Promise<Credential> {
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
    };
    // Many cold instances may race here; the unique _id lets exactly one insert win.
    await this.store.insert(COLLECTIONS.credentials, { ...blank });
    return (await this.store.get<CredentialDoc>(COLLECTIONS.credentials, this.id)) ?? blank;
  }

  private async ensure(
    needsFetch: (doc: CredentialDoc, nowMs: number) => boolean,
    source: CredentialSource,
    onFetch?: () => void,
  ): Promise<Credential> {
    const deadlineMs = this.now() + this.timing.waitMs;
    let doc = await this.readOrCreate();
    for (;;) {
      const nowMs = this.now();
      if (!needsFetch(doc, nowMs)) return toCredential(doc);
      if (doc.backoffUntilMs > nowMs) {
        // An instance just failed upstream. Hand out what still works; otherwise fail fast, don't hammer.
        if (isUsable(doc, nowMs, this.timing) && doc.rejectedAtMs === 0) return toCredential(doc);
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

  private async fetchAndStore(doc: CredentialDoc, source: CredentialSource): Promise<Credential> {
    const startedAtMs = this.now();
    try {
      let fetched = await this.options.fetch({ forceRefresh: false });
      if (doc.rejectedAtMs > 0 && fetched.value === doc.value) {
        // WeChat handed back the very value it had just rejected: only a force refresh replaces it.
        if (!this.options.supportsForceRefresh) {
          throw new CredentialError(`WeChat returned the rejected ${this.options.kind} again`);
        }
        await this.takeForceRefreshQuota();
        this.options.log.warn('force-refreshing the rejected credential', { kind: this.options.kind });
        fetched = await this.options.fetch({ forceRefresh: true });
      }
      registerSecret(fetched.value);
      const expiresAtMs = startedAtMs + fetched.expiresInSeconds * 1000;
      const fetchedAtMs = this.now();
      // stable_token in normal mode may hand back the value already cached, with a later expiry. The
      // version names the value (compare-and-expire matches on it), so it moves only when the value does.
      const changed = fetched.value !== doc.value;
      const version = changed ? doc.version + 1 : doc.version;
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
          },
          ...(changed ? { inc: { version: 1 } } : {}),
        },
      );
      this.options.log.info('credential refreshed', {
        kind: this.options.kind,
        source,
        version,
        expiresInSeconds: fetched.expiresInSeconds,
      });
      return { value: fetched.value, expiresAtMs, version };
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

  private async takeForceRefreshQuota(): Promise<void> {
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
    if (sameDay === 1) return;
    const newDay = await this.store.update(
      COLLECTIONS.credentials,
      { _id: id, dayKey: { neq: today }, lastAtMs: spaced },
      { set: { dayKey: today, count: 1, lastAtMs: nowMs } },
    );
    if (newDay === 1) return;
    throw new CredentialError(
      `The access_token was rejected and stable_token returned it again, but force_refresh is not allowed now ` +
        `(at most ${FORCE_REFRESH_PER_DAY} per day, ${FORCE_REFRESH_SPACING_MS / 1000} s apart)`,
    );
  }
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
