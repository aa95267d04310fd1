import { defineHttpHandler } from '../../shared/http/handler';
import { looksLikeHttpEvent } from '../../shared/http/request';
import { cloudPlatform } from '../../shared/platform';
import { InputError } from '../../shared/errors';
import { pushSignatureProof, type ProvenPush } from '../../shared/push/proof';
import { pushServiceFromEnvironment, type PushService } from '../../shared/push/setup';
import { allowOnlyFields, defineHandler, readOptionalInt } from '../../shared/runtime';

/** WeChat's pushes to `/wx/push/<appid>`: proven by the push signature, answered within WeChat's 5 s. */
const push = defineHttpHandler<PushService, ProvenPush>({
  name: 'receivePush',
  route: '/wx/push',
  methods: ['GET', 'POST'],
  maxBodyBytes: 64 * 1024,
  wxContext: () => cloudPlatform().getWXContext(),
  init: (log) => pushServiceFromEnvironment(log),
  proof: pushSignatureProof,
  run: (_request, { deps, proven, nowMs }) => deps.receiver.respond(proven, nowMs),
});

/** Its timer (and an admin): applies the pushes a slow store or a frozen instance left unapplied. */
const reconcile = defineHandler({
  name: 'receivePush',
  allow: ['timer', 'admin'],
  wxContext: () => cloudPlatform().getWXContext(),
  init: (log) => pushServiceFromEnvironment(log),
  parse: (event, caller) => {
    if (caller.type === 'timer') return {};
    allowOnlyFields(event, ['action', 'minAgeMs']);
    if (event.action !== 'reconcile') throw new InputError('action must be reconcile', 'action');
    const minAgeMs = readOptionalInt(event, 'minAgeMs', 0, 86_400_000);
    return minAgeMs === undefined ? {} : { minAgeMs };
  },
  run: (input, { deps }) => deps.receiver.reconcile(input),
});

/** HTTP-access events go to the push handler, everything else to the reconciler; each refuses what is not its own. */
export const main = Object.assign((event: unknown) => (looksLikeHttpEvent(event) ? push(event) : reconcile(event)), { allow: reconcile.allow });
