/**
 * Which APIs WeChat gives which account (接口权限, reference/official-accounts.md §1), as data.
 * Token, ticket, push and passive-reply APIs are open to every account; these are not, and an
 * account without the right gets 48001 "api unauthorized" once its access_token checked out.
 * Written for the sandbox on its own, from the reference, so that a wrong rule in the product's
 * copy (shared/accounts/model.ts) shows up as a test failure instead of agreeing with itself.
 */
import type { SandboxAccount, SandboxAccountKind } from './options';

export type SandboxCapability = 'cards' | 'qrcode' | 'userInfo' | 'customMessage' | 'oauth';

const RULES: Readonly<Record<SandboxCapability, { kinds: readonly SandboxAccountKind[]; verifiedOnly: boolean }>> = {
  // 卡券 needs 微信认证 (operator guides; not in the PERM table).
  cards: { kinds: ['service', 'subscription'], verifiedOnly: true },
  qrcode: { kinds: ['service'], verifiedOnly: true },
  userInfo: { kinds: ['service', 'subscription'], verifiedOnly: true },
  customMessage: { kinds: ['service', 'subscription'], verifiedOnly: true },
  oauth: { kinds: ['service'], verifiedOnly: true },
};

export function accountHas(account: Pick<SandboxAccount, 'kind' | 'verified'>, capability: SandboxCapability): boolean {
  const rule = RULES[capability];
  return rule.kinds.includes(account.kind) && (!rule.verifiedOnly || account.verified);
}
