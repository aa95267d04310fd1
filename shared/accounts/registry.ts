import { NotFoundError, StoreError } from '../errors';
import { registerSecret } from '../log';
import type { DocumentStore } from '../store/port';
import { COLLECTIONS } from '../store/port';
import { hasCapability, type AccountDoc, type OfficialAccount, type PushSettings } from './model';

/**
 * The accounts registry as functions read it: the environment's own account (WX_OA_APPID, with
 * WX_OA_APPSECRET where the function has it) plus the active documents of `wx_accounts`, kept in
 * instance memory for `ttlMs`. Operators change the collection (`npm run accounts`) without a
 * redeploy; every instance sees the change within `ttlMs`, and an appid it does not know yet
 * makes it look again at most once per `missReloadMs`.
 */
export interface EnvironmentAccount {
  appId: string;
  /** Only getToken holds it. */
  appSecret?: string;
}

export interface AccountRegistryOptions {
  store: DocumentStore;
  environment: EnvironmentAccount;
  /** Default {@link ACCOUNTS_CACHE_TTL_MS}. */
  ttlMs?: number;
  /** Default 1000 ms. */
  missReloadMs?: number;
  now?: () => number;
}

/** How long an instance trusts its copy of the registry: the bound on seeing an operator's change. */
export const ACCOUNTS_CACHE_TTL_MS = 30_000;
// Several accounts per environment, not thousands: one read holds them all.
const MAX_ACCOUNTS = 1000;
// CloudBase's DATABASE_COLLECTION_NOT_EXIST (-502005), and the local stand-in's text for it.
const MISSING_COLLECTION = /COLLECTION_NOT_EXIST|-502005|does not exist/i;

/** The environment's account when the registry says nothing else about it: the product's cards and packets need a verified service account. */
const ENVIRONMENT_DEFAULTS = { kind: 'service', verified: true, name: '', originalId: null, messageMode: 'plain' } as const;

export class AccountRegistry {
  readonly defaultAppId: string;
  private snapshot: { loadedAtMs: number; docs: Promise<Map<string, AccountDoc>> } | null = null;
  private readonly ttlMs: number;
  private readonly missReloadMs: number;
  private readonly now: () => number;

  constructor(private readonly options: AccountRegistryOptions) {
    this.defaultAppId = options.environment.appId;
    this.ttlMs = options.ttlMs ?? ACCOUNTS_CACHE_TTL_MS;
    this.missReloadMs = options.missReloadMs ?? 1000;
    this.now = options.now ?? Date.now;
    if (options.environment.appSecret) registerSecret(options.environment.appSecret);
  }

  /** The account, active or removed; null when this environment has never known it. */
  async get(appId: string): Promise<OfficialAccount | null> {
    let docs = await this.load(this.ttlMs);
    if (!docs.has(appId) && appId !== this.defaultAppId) docs = await this.load(this.missReloadMs);
    return this.merge(appId, docs);
  }

  /** The active account (default: the environment's), or a NOT_FOUND error that says why not. */
  async require(appId: string = this.defaultAppId): Promise<OfficialAccount> {
    const account = await this.get(appId);
    if (account === null) {
      throw new NotFoundError(`${appId} is not an official account of this environment (npm run accounts -- list)`);
    }
    if (!account.active) throw new NotFoundError(`${appId} was removed from this environment's accounts`);
    return account;
  }

  /** What the push receiver checks first: pushes of an unknown or removed account are refused. */
  async isActive(appId: string): Promise<boolean> {
    return (await this.get(appId))?.active === true;
  }

  /** Every active account, the environment's first. `fresh` reads the collection now (timers do). */
  async listActive(options: { fresh?: boolean } = {}): Promise<OfficialAccount[]> {
    const docs = await this.load(options.fresh ? 0 : this.ttlMs);
    const appIds = [this.defaultAppId, ...[...docs.keys()].filter((id) => id !== this.defaultAppId).sort()];
    return appIds.map((appId) => this.merge(appId, docs)).filter((account): account is OfficialAccount => account?.active === true);
  }

  /** Every account the environment knows, removed ones included (for operators), the environment's first. */
  async listAll(): Promise<OfficialAccount[]> {
    const docs = await this.load(0);
    const appIds = [this.defaultAppId, ...[...docs.keys()].filter((id) => id !== this.defaultAppId).sort()];
    return appIds.map((appId) => this.merge(appId, docs)).filter((account): account is OfficialAccount => account !== null);
  }

  /** An active account's push settings, or null when it is unknown, removed, or has no push token. */
  async pushSettings(appId: string): Promise<PushSettings | null> {
    const account = await this.get(appId);
    if (account === null || !account.active || account.pushToken === null) return null;
    return {
      appId,
      originalId: account.originalId,
      mode: account.messageMode,
      token: account.pushToken,
      encodingAESKey: account.encodingAESKey,
      previousEncodingAESKey: account.previousEncodingAESKey,
    };
  }

  /**
   * The verified service account that pays and runs OAuth (claim pages): the environment's
   * account when it is one, else the first active verified service account of the registry.
   */
  async serviceAccount(): Promise<OfficialAccount> {
    const found = (await this.listActive()).find((account) => hasCapability(account, 'oauth'));
    if (!found) throw new NotFoundError('No verified service account (服务号, 已认证) is configured: npm run accounts -- add');
    return found;
  }

  private load(maxAgeMs: number): Promise<Map<string, AccountDoc>> {
    const nowMs = this.now();
    if (this.snapshot && nowMs - this.snapshot.loadedAtMs < maxAgeMs) return this.snapshot.docs;
    const docs = this.options.store
      .find<AccountDoc>(COLLECTIONS.accounts, {}, { limit: MAX_ACCOUNTS })
      .catch((error: unknown) => {
        // An environment deployed before the registry existed has no collection yet: only its own account.
        if (error instanceof StoreError && MISSING_COLLECTION.test(error.message)) return [];
        throw error;
      })
      .then((found) => {
        for (const doc of found) for (const secret of [doc.appSecret, doc.pushToken, doc.encodingAESKey]) if (secret) registerSecret(secret);
        return new Map(found.map((doc) => [doc._id, doc]));
      });
    const snapshot = { loadedAtMs: nowMs, docs };
    this.snapshot = snapshot;
    // A failed read is not kept: the next call reads again.
    docs.catch(() => {
      if (this.snapshot === snapshot) this.snapshot = null;
    });
    return docs;
  }

  private merge(appId: string, docs: Map<string, AccountDoc>): OfficialAccount | null {
    const doc = docs.get(appId);
    if (appId === this.defaultAppId) {
      // The environment's account is active while it is configured; its registry entry only adds settings.
      const settings = doc?.status === 'active' ? doc : undefined;
      return {
        appId,
        kind: settings?.kind ?? ENVIRONMENT_DEFAULTS.kind,
        verified: settings?.verified ?? ENVIRONMENT_DEFAULTS.verified,
        name: settings?.name ?? ENVIRONMENT_DEFAULTS.name,
        originalId: settings?.originalId ?? ENVIRONMENT_DEFAULTS.originalId,
        messageMode: settings?.messageMode ?? ENVIRONMENT_DEFAULTS.messageMode,
        // The registry's secret wins: an operator rotates it there without a redeploy.
        appSecret: settings?.appSecret ?? this.options.environment.appSecret ?? null,
        pushToken: settings?.pushToken ?? null,
        encodingAESKey: settings?.encodingAESKey ?? null,
        previousEncodingAESKey: settings?.previousEncodingAESKey ?? null,
        active: true,
        isDefault: true,
        source: settings ? 'environment+registry' : 'environment',
      };
    }
    if (!doc) return null;
    return {
      appId,
      kind: doc.kind,
      verified: doc.verified,
      name: doc.name,
      originalId: doc.originalId,
      messageMode: doc.messageMode,
      appSecret: doc.appSecret,
      pushToken: doc.pushToken,
      encodingAESKey: doc.encodingAESKey,
      previousEncodingAESKey: doc.previousEncodingAESKey,
      active: doc.status === 'active',
      isDefault: false,
      source: 'registry',
    };
  }
}
