import { AppError, ErrorCode } from '../errors';
import type { DocumentStore, StoredDoc } from '../store/port';
import { COLLECTIONS } from '../store/port';

/**
 * A user's openid under an official account, found by unionid. The mini-program openid differs
 * from the official-account openid of the same person; only the unionid (same 开放平台 account)
 * links them. Documents in `wx_user_links`, `_id` = `<officialAppId>:<unionid>`.
 */
export interface UserLinkDoc extends StoredDoc {
  officialAppId: string;
  unionid: string;
  openid: string;
  /** Who filled it: a follow (user/info after the event), a card event's UnionId, the webview OAuth path, or an operator. */
  source: 'follow' | 'card' | 'oauth' | 'operator';
  linkedAtMs: number;
}

/** The user has no known openid under the official account: the client must link the account first. */
export class AccountNotLinkedError extends AppError {
  readonly reason: 'no_unionid' | 'no_link';
  constructor(reason: 'no_unionid' | 'no_link') {
    super(
      ErrorCode.NOT_ELIGIBLE,
      reason === 'no_unionid'
        ? 'The user has no unionid: bind the mini-program and the official account to the same Open Platform account (开放平台 → 管理中心), so that WeChat gives one'
        : 'The user has no link to an official-account openid yet: they follow the official account (or open its authorisation page), or an operator links them',
      {
        expose: true,
        // The user cannot bind accounts: they get a plain sentence, the operator the advice above (logs, admin callers).
        publicMessage: reason === 'no_unionid'
          ? 'This is not available for your WeChat account yet'
          : 'Please follow the official account first, then try again',
      },
    );
    this.reason = reason;
  }
}

export function userLinkId(officialAppId: string, unionid: string): string {
  return `${officialAppId}:${unionid}`;
}

/** The official-account openid of a user, or AccountNotLinkedError. */
export async function officialOpenidOf(store: DocumentStore, officialAppId: string, unionid: string | undefined): Promise<string> {
  if (!unionid) throw new AccountNotLinkedError('no_unionid');
  const link = await store.get<UserLinkDoc>(COLLECTIONS.userLinks, userLinkId(officialAppId, unionid));
  if (!link) throw new AccountNotLinkedError('no_link');
  return link.openid;
}

/** Records (or replaces) a link. */
export async function linkUser(
  store: DocumentStore,
  link: Omit<UserLinkDoc, '_id' | 'linkedAtMs'>,
  nowMs: number = Date.now(),
): Promise<void> {
  await store.put(COLLECTIONS.userLinks, { _id: userLinkId(link.officialAppId, link.unionid), ...link, linkedAtMs: nowMs });
}
