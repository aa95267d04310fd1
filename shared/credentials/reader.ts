import { CredentialError, TOKEN_REJECTED_ERRCODES, WechatApiError } from '../errors';
import { registerSecret } from '../log';
import type { DocumentStore } from '../store/port';
import { COLLECTIONS } from '../store/port';
import { credentialId, DEFAULT_TIMING, isUsable, type Credential, type CredentialDoc, type CredentialKind, type CredentialTiming } from './model';

/**
 * Asks the owning function (getToken / getTicket) to make a usable credential available in the
 * cache, newer than `rejectedVersion` if given. The owner answers with the version only: the value
 * stays in the database, because a function's return value ends up in CloudBase's invocation logs.
 */
export type AskOwner = (request: { rejectedVersion?: number }) => Promise<{ version: number }>;

export interface CredentialReaderOptions {
  store: DocumentStore;
  appId: string;
  kind: CredentialKind;
  askOwner: AskOwner;
  timing?: Partial<CredentialTiming>;
  now?: () => number;
}

/** Anything that hands out a credential and can replace one WeChat rejected. */
export interface CredentialSourcePort {
  get(): Promise<Credential>;
  /** Compare-and-expire `rejected`, then obtain a newer credential (once). */
  recover(rejected: Credential): Promise<Credential>;
}

/**
 * How every function other than the owner gets a credential: instance memory while fresh (no
 * database read at all), then the cache document, then the owner function. Never fetches from
 * WeChat itself.
 */
export class CredentialReader implements CredentialSourcePort {
  private memory: Credential | null = null;
  private inFlight: Promise<Credential> | null = null;
  private readonly id: string;
  private readonly timing: CredentialTiming;
  private readonly now: () => number;

  constructor(private readonly options: CredentialReaderOptions) {
    this.id = credentialId(options.appId, options.kind);
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.now = options.now ?? Date.now;
  }

  get(): Promise<Credential> {
    if (this.memory && isUsable(this.memory, this.now(), this.timing)) return Promise.resolve(this.memory);
    // Concurrent callers in this instance share one database read / owner call.
    this.inFlight ??= this.load().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  async recover(rejected: Credential): Promise<Credential> {
    this.memory = null;
    // Expire the cached copy only if it is still the one that failed: a newer one written meanwhile
    // stays, and so does one WeChat confirmed as current moments ago (the owner serves it as it is).
    const nowMs = this.now();
    await this.options.store.update(
      COLLECTIONS.credentials,
      { _id: this.id, version: rejected.version, confirmedAtMs: { lt: nowMs - this.timing.recheckAfterMs } },
      { set: { expiresAtMs: 0, rejectedAtMs: nowMs } },
    );
    return this.viaOwner({ rejectedVersion: rejected.version });
  }

  private async load(): Promise<Credential> {
    const doc = await this.options.store.get<CredentialDoc>(COLLECTIONS.credentials, this.id);
    if (doc && isUsable(doc, this.now(), this.timing)) {
      return this.remember({ value: doc.value as string, expiresAtMs: doc.expiresAtMs, version: doc.version });
    }
    // A copy another instance saw rejected is reported as such, so the owner looks past its own memory.
    return this.viaOwner(doc && doc.rejectedAtMs > 0 ? { rejectedVersion: doc.version } : {});
  }

  private async viaOwner(request: { rejectedVersion?: number }): Promise<Credential> {
    const { version } = await this.options.askOwner(request);
    const doc = await this.options.store.get<CredentialDoc>(COLLECTIONS.credentials, this.id);
    if (!doc || doc.version < version || !isUsable(doc, this.now(), this.timing)) {
      throw new CredentialError(`${this.options.kind} version ${version} was reported fresh but the cache does not hold it`);
    }
    return this.remember({ value: doc.value as string, expiresAtMs: doc.expiresAtMs, version: doc.version });
  }

  private remember(credential: Credential): Credential {
    registerSecret(credential.value);
    this.memory = credential;
    return credential;
  }
}

/** Did WeChat reject the access_token itself (invalid, not latest, expired)? */
export function isTokenRejection(error: unknown): error is WechatApiError {
  return error instanceof WechatApiError && TOKEN_REJECTED_ERRCODES.has(error.errcode);
}

/** How {@link withAccessToken} waits before retrying with a value WeChat stood by. */
export interface RetryOptions {
  /** Default 1000 ms. */
  retryDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs a WeChat call that needs the access_token. On 40001/40014/42001 the token is
 * compare-and-expired and replaced once through the owner; a second rejection is thrown.
 * Bounded on purpose: an unbounded retry here is how peers burn the daily token quota.
 * When the owner answers with the very token that failed (WeChat's token endpoint confirmed it as
 * current and no force refresh is allowed now), the retry waits a moment first: such a refusal
 * is usually one API server lagging behind another.
 */
export async function withAccessToken<T>(
  tokens: CredentialSourcePort,
  call: (accessToken: string) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const first = await tokens.get();
  try {
    return await call(first.value);
  } catch (error) {
    if (!isTokenRejection(error)) throw error;
    const second = await tokens.recover(first);
    if (second.version === first.version) {
      const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
      await sleep(options.retryDelayMs ?? 1000);
    }
    return call(second.value);
  }
}
