/**
 * Operators: created, reset and removed by the CLI only (`npm run console -- operator-add …`);
 * signed in by the console. A mini-program user is never an operator: the console's proof is a
 * session opened here with a password, never a WX context.
 */
import { InputError, NotFoundError, UnauthorizedError } from '../errors';
import { clip } from '../echo';
import { COLLECTIONS, type DocumentStore } from '../store/port';
import { writeAudit } from './audit';
import { clearLimit, creditSuccess, ipLimitKey, lockIfExhausted, nameLimitKey, SIGN_IN_LIMITS, takeAttempt } from './limits';
import { OPERATOR_NAME_PATTERN, type OperatorDoc } from './model';
import { decoyHash, hashPassword, needsRehash, verifyPassword } from './passwords';
import { closeOperatorSessions, openSession } from './sessions';

function checkName(name: string): string {
  if (!OPERATOR_NAME_PATTERN.test(name)) throw new InputError('An operator name is 2–32 characters: a–z, 0–9, and . _ - (not first)', 'name');
  return name;
}

/** Creates an operator; refuses an existing name. */
export async function addOperator(store: DocumentStore, name: string, password: string, actor: string, nowMs: number): Promise<OperatorDoc> {
  checkName(name);
  const doc: OperatorDoc = { _id: name, passwordHash: await hashPassword(password), createdAtMs: nowMs, passwordChangedAtMs: nowMs, epoch: 1, changedBy: actor };
  if (!(await store.insert(COLLECTIONS.consoleOperators, { ...doc }))) throw new InputError(`Operator ${name} exists already (reset its password with operator-reset)`, 'name');
  await writeAudit(store, { actor, action: 'operator.add', target: name, outcome: 'ok', ip: '' }, nowMs);
  return doc;
}

/** Sets a new password; every open session of the operator ends, and a lock-out is lifted. */
export async function resetOperatorPassword(store: DocumentStore, name: string, password: string, actor: string, nowMs: number): Promise<void> {
  const current = await store.get<OperatorDoc>(COLLECTIONS.consoleOperators, checkName(name));
  if (current === null) throw new NotFoundError(`No operator ${name}`);
  const passwordHash = await hashPassword(password);
  await store.update(COLLECTIONS.consoleOperators, { _id: name }, { set: { passwordHash, passwordChangedAtMs: nowMs, changedBy: actor }, inc: { epoch: 1 } });
  const closed = await closeOperatorSessions(store, name);
  await clearLimit(store, nameLimitKey(name));
  await writeAudit(store, { actor, action: 'operator.reset', target: name, outcome: 'ok', ip: '', detail: { sessionsClosed: closed } }, nowMs);
}

/** Removes an operator and ends their sessions. */
export async function removeOperator(store: DocumentStore, name: string, actor: string, nowMs: number): Promise<void> {
  if (!(await store.remove(COLLECTIONS.consoleOperators, checkName(name)))) throw new NotFoundError(`No operator ${name}`);
  const closed = await closeOperatorSessions(store, name);
  await writeAudit(store, { actor, action: 'operator.remove', target: name, outcome: 'ok', ip: '', detail: { sessionsClosed: closed } }, nowMs);
}

/** Lifts the lock-out of a sign-in name (and of an address, when given). */
export async function unlockSignIn(store: DocumentStore, target: { name?: string; ip?: string }, actor: string, nowMs: number): Promise<void> {
  if (target.name !== undefined) await clearLimit(store, nameLimitKey(checkName(target.name)));
  if (target.ip !== undefined) await clearLimit(store, ipLimitKey(target.ip));
  await writeAudit(store, { actor, action: 'sign-in.unlock', target: target.name ?? target.ip ?? '', outcome: 'ok', ip: '' }, nowMs);
}

export function listOperators(store: DocumentStore): Promise<OperatorDoc[]> {
  return store.find<OperatorDoc>(COLLECTIONS.consoleOperators, {}, { limit: 1000, orderBy: { field: 'createdAtMs', direction: 'asc' } });
}

/** The one message for every failed sign-in: it never says whether the name exists. */
export const SIGN_IN_FAILED = 'Wrong name or password.';

let decoy: Promise<string> | null = null;

/**
 * Checks a name and password and opens a session. Every attempt is counted (name and address)
 * before the password is checked and audited after; an unknown name costs the same hash as a
 * wrong password. Throws UnauthorizedError (one message for both) or SignInLockedError.
 */
export async function signIn(
  store: DocumentStore,
  attempt: { name: string; password: string; ip: string; userAgent: string },
  nowMs: number,
): Promise<{ token: string; operator: OperatorDoc }> {
  const name = clip(attempt.name.trim().toLowerCase(), 64);
  const keys = { name: nameLimitKey(name), ip: ipLimitKey(attempt.ip) };
  const audit = (outcome: 'ok' | 'refused', action: string, detail: Record<string, string | number | boolean | null> = {}) =>
    writeAudit(store, { actor: outcome === 'ok' ? name : 'anonymous', action, target: name, outcome, ip: attempt.ip, detail }, nowMs);
  try {
    await takeAttempt(store, keys.ip, SIGN_IN_LIMITS.ip, nowMs);
    await takeAttempt(store, keys.name, SIGN_IN_LIMITS.name, nowMs);
  } catch (error) {
    await audit('refused', 'sign-in.locked');
    throw error;
  }
  const operator = OPERATOR_NAME_PATTERN.test(name) ? await store.get<OperatorDoc>(COLLECTIONS.consoleOperators, name) : null;
  const stored = operator?.passwordHash ?? (await (decoy ??= decoyHash()));
  const matches = (await verifyPassword(attempt.password, stored)) && operator !== null;
  if (!matches || operator === null) {
    const locked = (await lockIfExhausted(store, keys.name, SIGN_IN_LIMITS.name, nowMs)) || (await lockIfExhausted(store, keys.ip, SIGN_IN_LIMITS.ip, nowMs));
    await audit('refused', 'sign-in.refused', { locked });
    throw new UnauthorizedError(SIGN_IN_FAILED);
  }
  await creditSuccess(store, keys, nowMs);
  if (needsRehash(operator.passwordHash)) {
    await store.update(COLLECTIONS.consoleOperators, { _id: operator._id, passwordHash: operator.passwordHash }, { set: { passwordHash: await hashPassword(attempt.password) } });
  }
  const { token } = await openSession(store, operator, { ip: attempt.ip, userAgent: attempt.userAgent }, nowMs);
  await audit('ok', 'sign-in');
  return { token, operator };
}
