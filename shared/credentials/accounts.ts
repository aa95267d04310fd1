import { hasCapability, type OfficialAccount } from '../accounts/model';
import type { AccountRegistry } from '../accounts/registry';
import type { TokenMode } from '../config';
import { AppError, ConfigError, ErrorCode, InputError } from '../errors';
import { registerSecret, type Logger } from '../log';
import type { DocumentStore } from '../store/port';
import { TICKET_TYPES, type TicketType } from '../wechat/ticket';
import type { CredentialKind, CredentialTiming } from './model';
import type { CredentialOwner } from './owner';
import { createTicketOwners, createTokenOwner, createTokenReader, ticketKind, toInfo, type InvokeFunction } from './services';

/**
 * Credentials of every account of the environment. Each account has its own cache documents, so
 * its own lease (single flight per account), its own back-off and its own errors: one account's
 * bad secret or missing whitelist entry never holds up another.
 */

/** One line of a timer run: what happened to one credential of one account. */
export type CredentialRefresh =
  | { appId: string; kind: CredentialKind; ok: true; refreshed: boolean; version: number; expiresAtMs: number }
  | { appId: string; kind: CredentialKind; ok: false; error: { code: string; message: string } };

interface OwnerOptions {
  store: DocumentStore;
  log: Logger;
  instanceId: string;
  timing?: Partial<CredentialTiming>;
  now?: () => number;
}

/** getToken's owners, one per account, made on first use. */
export class AccountTokenOwners {
  private readonly owners = new Map<string, CredentialOwner>();

  constructor(
    private readonly registry: AccountRegistry,
    private readonly config: {
      apiBaseUrl: string;
      tokenMode: TokenMode;
      /** The environment's mini-program (WX_MP_APPID + WX_MP_APPSECRET), not an official account: its token serves its own APIs. */
      miniProgram?: { appId: string; appSecret: string } | null;
    },
    private readonly options: OwnerOptions,
  ) {
    if (config.miniProgram) registerSecret(config.miniProgram.appSecret);
  }

  /** The owner of an active account's token, or the mini-program's (NOT_FOUND for an unknown or removed appid). */
  async owner(appId?: string): Promise<CredentialOwner> {
    const { miniProgram } = this.config;
    if (miniProgram && appId === miniProgram.appId) return this.ownerOf(appId, () => Promise.resolve(miniProgram.appSecret));
    const account = await this.registry.require(appId);
    return this.ownerOf(account.appId, this.registrySecret(account.appId));
  }

  /** The timer: every active account, each on its own, read fresh from the registry so a removed one stops at once; and the mini-program. */
  async refreshAll(): Promise<CredentialRefresh[]> {
    const accounts = await this.registry.listActive({ fresh: true });
    const { miniProgram } = this.config;
    return Promise.all([
      ...accounts.map((account) => refreshOne(account.appId, 'access_token', this.ownerOf(account.appId, this.registrySecret(account.appId)), this.options.log)),
      ...(miniProgram ? [refreshOne(miniProgram.appId, 'access_token', await this.owner(miniProgram.appId), this.options.log)] : []),
    ]);
  }

  // Looked up at each fetch: a secret an operator rotated is used within the registry's TTL.
  private registrySecret(appId: string): () => Promise<string> {
    return async () => {
      const account = await this.registry.require(appId);
      if (!account.appSecret) {
        throw new ConfigError([`${appId} has no AppSecret: set it with npm run accounts -- add (or WX_OA_APPSECRET for the environment's account)`]);
      }
      return account.appSecret;
    };
  }

  private ownerOf(appId: string, appSecret: () => Promise<string>): CredentialOwner {
    let owner = this.owners.get(appId);
    if (!owner) {
      owner = createTokenOwner(
        { appId, apiBaseUrl: this.config.apiBaseUrl, tokenMode: this.config.tokenMode, appSecret },
        this.options,
      );
      this.owners.set(appId, owner);
    }
    return owner;
  }
}

/** Which tickets an account can have: jsapi always, the card api_ticket only with card rights (verified). */
export function ticketTypesOf(account: Pick<OfficialAccount, 'kind' | 'verified'>): TicketType[] {
  return TICKET_TYPES.filter((type) => type !== 'wx_card' || hasCapability(account, 'cards'));
}

/** getTicket's owners, per account and ticket type, each fetching with its own account's token. */
export class AccountTicketOwners {
  private readonly owners = new Map<string, Record<TicketType, CredentialOwner>>();

  constructor(
    private readonly registry: AccountRegistry,
    private readonly config: { apiBaseUrl: string },
    private readonly options: OwnerOptions & { invoke: InvokeFunction },
  ) {}

  /** The owner of an active account's ticket; a card ticket for an account without card rights is refused before WeChat is asked. */
  async owner(type: TicketType, appId?: string): Promise<CredentialOwner> {
    const account = await this.registry.require(appId);
    if (!ticketTypesOf(account).includes(type)) {
      throw new InputError(
        `${account.appId} is ${account.verified ? 'a' : 'an unverified'} ${account.kind} account: WeChat gives the ${type} ticket only to verified accounts with card rights`,
        'type',
      );
    }
    return this.ownersOf(account.appId)[type];
  }

  async refreshAll(): Promise<CredentialRefresh[]> {
    const accounts = await this.registry.listActive({ fresh: true });
    const jobs = accounts.flatMap((account) =>
      ticketTypesOf(account).map((type) => refreshOne(account.appId, ticketKind(type), this.ownersOf(account.appId)[type], this.options.log)),
    );
    return Promise.all(jobs);
  }

  private ownersOf(appId: string): Record<TicketType, CredentialOwner> {
    let owners = this.owners.get(appId);
    if (!owners) {
      const tokens = createTokenReader({ appId }, { store: this.options.store, invoke: this.options.invoke, ...(this.options.now ? { now: this.options.now } : {}) });
      owners = createTicketOwners({ appId, apiBaseUrl: this.config.apiBaseUrl }, tokens, this.options);
      this.owners.set(appId, owners);
    }
    return owners;
  }
}

// Each credential is refreshed on its own: one failing must not keep the others stale.
async function refreshOne(appId: string, kind: CredentialKind, owner: CredentialOwner, log: Logger): Promise<CredentialRefresh> {
  try {
    const { refreshed, credential } = await owner.refreshIfDue();
    return { appId, ok: true, refreshed, ...toInfo(kind, credential) };
  } catch (error) {
    log.warn('credential refresh failed', { appId, kind, error });
    const code = error instanceof AppError ? error.code : ErrorCode.INTERNAL;
    return { appId, kind, ok: false, error: { code, message: error instanceof Error ? error.message : String(error) } };
  }
}
