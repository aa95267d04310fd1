import { InputError, NotFoundError } from '../errors';
import type { DocumentStore } from '../store/port';
import { COLLECTIONS } from '../store/port';
import type { AccountDoc } from './model';
import { planAccountSave, type AccountSavePlan } from './validate';

/** The registry's writes: what `npm run accounts` and the local stack's seeding do. */

/** Adds an account or changes one (fields left out keep their value); validated first, nothing written on a problem. */
export async function saveAccount(
  store: DocumentStore,
  raw: unknown,
  options: { defaultAppId: string; nowMs?: number },
): Promise<AccountSavePlan> {
  const appId = (raw as { appId?: unknown } | null)?.appId;
  const existing = typeof appId === 'string' && appId !== '' ? await store.get<AccountDoc>(COLLECTIONS.accounts, appId) : null;
  const plan = planAccountSave(raw, { existing, isDefault: appId === options.defaultAppId, nowMs: options.nowMs ?? Date.now() });
  await store.put(COLLECTIONS.accounts, { ...plan.doc });
  return plan;
}

/** The credential documents of an account (the access_token and both tickets). */
const CREDENTIAL_KINDS = ['access_token', 'ticket:wx_card', 'ticket:jsapi'];

/**
 * Removes an account: it stays in the registry as `removed` (so its follows keep a name) with its
 * secrets erased, its cached token and tickets are emptied, and no function refreshes or serves
 * it any more. The environment's own account cannot be removed here: it is WX_OA_APPID.
 */
export async function removeAccount(
  store: DocumentStore,
  appId: string,
  options: { defaultAppId: string; nowMs?: number },
): Promise<void> {
  if (appId === options.defaultAppId) {
    throw new InputError(`${appId} is the environment's own account (WX_OA_APPID): change WX_OA_APPID and redeploy instead`, 'appId');
  }
  const nowMs = options.nowMs ?? Date.now();
  const removed = await store.update(
    COLLECTIONS.accounts,
    { _id: appId, status: 'active' },
    { set: { status: 'removed', removedAtMs: nowMs, updatedAtMs: nowMs, appSecret: null, pushToken: null, encodingAESKey: null, previousEncodingAESKey: null } },
  );
  if (removed === 0) {
    const doc = await store.get<AccountDoc>(COLLECTIONS.accounts, appId);
    throw new NotFoundError(doc ? `${appId} was removed already` : `${appId} is not in the accounts registry`);
  }
  await store.update(COLLECTIONS.credentials, { appId, kind: { in: CREDENTIAL_KINDS } }, { set: { value: null, expiresAtMs: 0 } });
}

/** Writes an account only if the registry has never held it: seeding never overwrites an operator's change or removal. */
export async function seedAccount(store: DocumentStore, doc: AccountDoc): Promise<boolean> {
  return store.insert(COLLECTIONS.accounts, { ...doc });
}
