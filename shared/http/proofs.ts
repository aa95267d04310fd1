/**
 * Proofs of caller for HTTP access (see handler.ts). The product's real ones live with their
 * features (push signature, OAuth session, Pay v3 signature, operator session + CSRF); this is
 * the one simple proof the wrapper ships, for internal routes and tests, and the model to copy:
 * read what the request carries, compare in constant time, throw UnauthorizedError otherwise.
 */
import { UnauthorizedError } from '../errors';
import { safeEqual } from '../signing/compare';
import type { CallerProof } from './handler';

/** Proven: the request carried the shared secret in `header`. */
export interface SharedSecretCaller {
  via: 'shared-secret';
  header: string;
}

/**
 * A request proves itself by carrying `secretOf(deps)` in the header `header` (compared in
 * constant time). An empty configured secret never matches, so a missing setting locks the
 * route instead of opening it.
 */
export function sharedSecretProof<D>(header: string, secretOf: (deps: D) => string): CallerProof<D, SharedSecretCaller> {
  const name = header.toLowerCase();
  return {
    name: 'shared-secret',
    verify(request, { deps }) {
      const given = request.headers[name];
      if (given === undefined || given === '') throw new UnauthorizedError(`The ${name} header is missing`);
      const secret = secretOf(deps);
      if (secret === '' || !safeEqual(given, secret)) throw new UnauthorizedError(`The ${name} header is wrong`);
      return { proven: { via: 'shared-secret', header: name } };
    },
  };
}
