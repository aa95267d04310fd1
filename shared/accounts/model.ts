import type { StoredDoc } from '../store/port';

/**
 * Official accounts (公众号): what the product knows about each one, and what each kind may do.
 * Facts: reference/official-accounts.md §1 (types and permissions) and §2.1 (server URL settings).
 */

/** 服务号 (service) or 订阅号 (subscription; "公众号" in WeChat's newest docs). */
export type AccountKind = 'service' | 'subscription';
export const ACCOUNT_KINDS: readonly AccountKind[] = ['service', 'subscription'];

/** The server URL's message mode: 明文 plain, 兼容 compatible, 安全 safe (reference §2.3). */
export type MessageMode = 'plain' | 'compatible' | 'safe';
export const MESSAGE_MODES: readonly MessageMode[] = ['plain', 'compatible', 'safe'];

/** Whether an operator removed the account: a removed one is neither refreshed nor served, and its pushes are refused. */
export type AccountStatus = 'active' | 'removed';

/**
 * One account in collection `wx_accounts` (`_id` = appid). It holds secrets, so the collection's
 * database permission must be ADMINONLY (仅管理端可读写): only server SDKs may read it.
 */
export interface AccountDoc extends StoredDoc {
  appId: string;
  kind: AccountKind;
  verified: boolean;
  /** The account's display name, for operators ('' when not given). */
  name: string;
  /** The 原始ID (`gh_…`): pushes name the account by it in `ToUserName`. */
  originalId: string | null;
  messageMode: MessageMode;
  /** null for the environment's own account when its AppSecret stays in WX_OA_APPSECRET. */
  appSecret: string | null;
  /** The server URL's Token (服务器配置 → 令牌). */
  pushToken: string | null;
  encodingAESKey: string | null;
  /** The key before the last change: pushes WeChat encrypted with it still decrypt during a rotation (reference §2.3). */
  previousEncodingAESKey: string | null;
  status: AccountStatus;
  createdAtMs: number;
  updatedAtMs: number;
  /** 0 while active. */
  removedAtMs: number;
}

/** An account as functions see it: its registry document merged with the environment's account. */
export interface OfficialAccount {
  appId: string;
  kind: AccountKind;
  verified: boolean;
  name: string;
  originalId: string | null;
  messageMode: MessageMode;
  appSecret: string | null;
  pushToken: string | null;
  encodingAESKey: string | null;
  previousEncodingAESKey: string | null;
  active: boolean;
  /** The environment's account (WX_OA_APPID): the default of getToken/getTicket, always active while configured. */
  isDefault: boolean;
  /** Where its settings come from. */
  source: 'environment' | 'registry' | 'environment+registry';
}

/** What the push receiver needs to verify and decrypt an account's pushes and to encrypt its replies. */
export interface PushSettings {
  appId: string;
  originalId: string | null;
  mode: MessageMode;
  token: string;
  /** null only in plain mode. */
  encodingAESKey: string | null;
  previousEncodingAESKey: string | null;
}

/** APIs that not every account has (everything else — token, tickets, push, passive replies — all have). */
export type Capability = 'qrcode' | 'oauth' | 'userInfo' | 'customMessage' | 'jsapiShare' | 'cards';

/** reference/official-accounts.md §1, as data: which kinds have the API, and whether only when verified. */
export const CAPABILITY_RULES: Readonly<Record<Capability, { kinds: readonly AccountKind[]; verifiedOnly: boolean; source: string }>> = {
  qrcode: { kinds: ['service'], verifiedOnly: true, source: 'PERM; 48001 reports for subscription accounts (§0.1)' },
  oauth: { kinds: ['service'], verifiedOnly: true, source: 'PERM; community doc 000cee5a9dcbe8a20d5154f426a400' },
  userInfo: { kinds: ['service', 'subscription'], verifiedOnly: true, source: 'PERM (user/info, user/get)' },
  customMessage: { kinds: ['service', 'subscription'], verifiedOnly: true, source: 'PERM (message/custom/send)' },
  jsapiShare: { kinds: ['service', 'subscription'], verifiedOnly: true, source: 'PERM (JS-SDK 分享接口)' },
  // Not in the PERM table; operator guides agree 卡券 needs a verified account (已认证的订阅号或者服务号). UNVERIFIED as a documented rule.
  cards: { kinds: ['service', 'subscription'], verifiedOnly: true, source: 'operator guides (UNVERIFIED)' },
};

export function hasCapability(account: Pick<OfficialAccount, 'kind' | 'verified'>, capability: Capability): boolean {
  const rule = CAPABILITY_RULES[capability];
  return rule.kinds.includes(account.kind) && (!rule.verifiedOnly || account.verified);
}

export function capabilitiesOf(account: Pick<OfficialAccount, 'kind' | 'verified'>): Capability[] {
  return (Object.keys(CAPABILITY_RULES) as Capability[]).filter((capability) => hasCapability(account, capability));
}

/** An account without its secrets: what CLIs print and status answers show ('set' / 'missing' for each secret). */
export interface AccountSummary {
  appId: string;
  kind: AccountKind;
  verified: boolean;
  name: string;
  originalId: string | null;
  messageMode: MessageMode;
  active: boolean;
  isDefault: boolean;
  source: OfficialAccount['source'];
  appSecret: 'set' | 'missing';
  pushToken: 'set' | 'missing';
  encodingAESKey: 'set' | 'missing';
  capabilities: Capability[];
}

export function summarizeAccount(account: OfficialAccount): AccountSummary {
  const set = (value: string | null): 'set' | 'missing' => (value ? 'set' : 'missing');
  return {
    appId: account.appId,
    kind: account.kind,
    verified: account.verified,
    name: account.name,
    originalId: account.originalId,
    messageMode: account.messageMode,
    active: account.active,
    isDefault: account.isDefault,
    source: account.source,
    appSecret: set(account.appSecret),
    pushToken: set(account.pushToken),
    encodingAESKey: set(account.encodingAESKey),
    capabilities: capabilitiesOf(account),
  };
}
