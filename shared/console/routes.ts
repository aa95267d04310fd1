/**
 * The console's routes below `/console`, and what each needs: the sign-in page and the assets are
 * the only ones answered without a session; every POST is a change and carries a CSRF token.
 */
import type { HttpRequest } from '../http';

export type Route =
  | { name: 'home' }
  | { name: 'sign-in' }
  | { name: 'sign-out' }
  | { name: 'asset'; file: string }
  | { name: 'campaigns' }
  | { name: 'campaign'; id: string }
  | { name: 'campaign-pause'; id: string; paused: boolean }
  | { name: 'claim-action'; claimId: string; action: ClaimAction }
  | { name: 'accounts' }
  | { name: 'ledger' }
  | { name: 'ledger-csv' }
  | { name: 'audit' }
  | { name: 'not-found' };

/** What the operator can do to one claim: the paying function's own operator actions. */
export type ClaimAction = 'settle' | 'reissue' | 'cancel-transfer';

/** Ids as the claim engine writes them (campaign ids, claim ids `<campaign>:<key>` with `:`). */
const ID = '([A-Za-z0-9_.:-]{1,200})';

const TABLE: Array<{ method: 'GET' | 'POST'; pattern: RegExp; route: (match: RegExpExecArray) => Route }> = [
  { method: 'GET', pattern: /^\/?$/, route: () => ({ name: 'home' }) },
  { method: 'GET', pattern: /^\/sign-in$/, route: () => ({ name: 'sign-in' }) },
  { method: 'POST', pattern: /^\/sign-in$/, route: () => ({ name: 'sign-in' }) },
  { method: 'POST', pattern: /^\/sign-out$/, route: () => ({ name: 'sign-out' }) },
  { method: 'GET', pattern: /^\/assets\/([a-z0-9-]+\.[0-9a-f]{12}\.(?:css|js))$/, route: (match) => ({ name: 'asset', file: match[1]! }) },
  { method: 'GET', pattern: /^\/campaigns$/, route: () => ({ name: 'campaigns' }) },
  { method: 'GET', pattern: new RegExp(`^/campaigns/${ID}$`), route: (match) => ({ name: 'campaign', id: match[1]! }) },
  { method: 'POST', pattern: new RegExp(`^/campaigns/${ID}/(pause|resume)$`), route: (match) => ({ name: 'campaign-pause', id: match[1]!, paused: match[2] === 'pause' }) },
  { method: 'POST', pattern: new RegExp(`^/claims/${ID}/(settle|reissue|cancel-transfer)$`), route: (match) => ({ name: 'claim-action', claimId: match[1]!, action: match[2] as ClaimAction }) },
  { method: 'GET', pattern: /^\/accounts$/, route: () => ({ name: 'accounts' }) },
  { method: 'GET', pattern: /^\/ledger$/, route: () => ({ name: 'ledger' }) },
  { method: 'GET', pattern: /^\/ledger\.csv$/, route: () => ({ name: 'ledger-csv' }) },
  { method: 'GET', pattern: /^\/audit$/, route: () => ({ name: 'audit' }) },
];

/** The route of a request (its path below `/console`, percent-decoded once). */
export function routeOf(request: Pick<HttpRequest, 'method' | 'subpath'>): Route {
  let path: string;
  try {
    path = decodeURIComponent(request.subpath);
  } catch {
    return { name: 'not-found' };
  }
  for (const entry of TABLE) {
    if (entry.method !== request.method) continue;
    const match = entry.pattern.exec(path);
    if (match !== null) return entry.route(match);
  }
  return { name: 'not-found' };
}

/** Routes answered without a session. */
export function isPublic(route: Route): boolean {
  return route.name === 'sign-in' || route.name === 'asset';
}
