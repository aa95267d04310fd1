/**
 * The console's proof of caller (shared/http's CallerProof): an operator session, and for every
 * change a CSRF token and a same-origin request. The platform's WX context proves nothing here —
 * defineHttpHandler already refuses any request that carries a mini-program user — and a session
 * is only ever opened by a password sign-in (operators.ts).
 *
 *   asset, GET sign-in ─────────────────────────────────────▶ visitor
 *   POST sign-in ── same origin, pre-session CSRF ──────────▶ visitor (run checks the password)
 *   anything else ── live session? ── no: GET → 302 sign-in, otherwise 401
 *                                  └─ yes: POST ── same origin, session CSRF ──▶ operator
 */
import { ForbiddenError, UnauthorizedError } from '../errors';
import { bodyForm, respond, type CallerProof, type HttpRequest } from '../http';
import type { DocumentStore } from '../store/port';
import { routeOf, isPublic, type Route } from './routes';
import { csrfMatches, csrfTokenOf, preSessionCsrfOf, PRE_SESSION_COOKIE, readSession, SESSION_COOKIE } from './sessions';
import { secured } from './security';
import { BASE } from './pages';

export type ConsoleCaller =
  | { kind: 'visitor'; route: Route }
  | { kind: 'operator'; route: Route; operator: string; token: string; csrf: string };

/** Refuses a change that a browser says came from another site (defence in depth behind the CSRF token). */
export function assertSameOrigin(request: Pick<HttpRequest, 'headers'>): void {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') throw new ForbiddenError('Changes are accepted only from the console\'s own pages');
  const origin = request.headers.origin;
  const host = request.headers.host;
  if (origin === undefined || origin === 'null' || host === undefined) {
    if (origin === 'null') throw new ForbiddenError('Changes are accepted only from the console\'s own pages');
    return;
  }
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    throw new ForbiddenError('Changes are accepted only from the console\'s own pages');
  }
  if (originHost !== host) throw new ForbiddenError('Changes are accepted only from the console\'s own pages');
}

export const STALE_FORM = 'This form is stale or did not come from the console (its CSRF token is missing or wrong): reload the page and try again.';

export function operatorSessionProof<D extends { store: DocumentStore }>(): CallerProof<D, ConsoleCaller> {
  return {
    name: 'operator-session',
    async verify(request, { deps, nowMs }) {
      const route = routeOf(request);
      if (request.method === 'POST') assertSameOrigin(request);
      if (isPublic(route)) {
        if (route.name === 'sign-in' && request.method === 'POST') {
          const pre = request.cookies[PRE_SESSION_COOKIE];
          if (pre === undefined || !csrfMatches(bodyForm(request).csrf, preSessionCsrfOf(pre))) throw new ForbiddenError(STALE_FORM);
        }
        return { proven: { kind: 'visitor', route } };
      }
      const token = request.cookies[SESSION_COOKIE];
      const found = await readSession(deps.store, token, nowMs);
      if (found === null || token === undefined) {
        if (request.method === 'GET' && route.name !== 'ledger-csv') return { respond: secured(respond.redirect(`${BASE}/sign-in`, 303)) };
        throw new UnauthorizedError('Sign in first: this needs an operator session.');
      }
      const csrf = csrfTokenOf(token);
      if (request.method === 'POST' && !csrfMatches(bodyForm(request).csrf, csrf)) throw new ForbiddenError(STALE_FORM);
      return { proven: { kind: 'operator', route, operator: found.operator._id, token, csrf } };
    },
  };
}
