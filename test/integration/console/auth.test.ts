/**
 * The console's sign-in, lock-out and sessions against the local CloudBase through the real
 * node-sdk adapter (what the CLI uses; the function uses wx-server-sdk over the same port).
 */
import { useLocalStore } from '../../helpers/local-store';
import { recentAudit } from '../../../shared/console/audit';
import { ipLimitKey, nameLimitKey, SIGN_IN_LIMITS, SignInLockedError, takeAttempt } from '../../../shared/console/limits';
import { addOperator, removeOperator, resetOperatorPassword, SIGN_IN_FAILED, signIn, unlockSignIn } from '../../../shared/console/operators';
import { csrfTokenOf, readSession, SESSION_TIMING } from '../../../shared/console/sessions';
import { UnauthorizedError } from '../../../shared/errors';
import { COLLECTIONS } from '../../../shared/store/port';

process.env.TENCENTCLOUD = 'true';
const PASSWORD = 'correct horse battery staple';
const T0 = Date.UTC(2026, 5, 1, 2, 0, 0);

const local = useLocalStore();

const attempt = (name: string, password: string, ip = '203.0.113.7') => ({ name, password, ip, userAgent: 'jest' });

describe('takeAttempt', () => {
  it('lets exactly the allowed number of parallel attempts through, however many arrive at once', async () => {
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => takeAttempt(local.store, 'name:parallel', SIGN_IN_LIMITS.name, T0)));

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(SIGN_IN_LIMITS.name.maxAttempts);
    for (const outcome of outcomes.filter((entry) => entry.status === 'rejected')) expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(SignInLockedError);
  });

  it('starts a key over once its window has passed', async () => {
    for (let i = 0; i < SIGN_IN_LIMITS.name.maxAttempts; i += 1) await takeAttempt(local.store, 'name:window', SIGN_IN_LIMITS.name, T0);

    await expect(takeAttempt(local.store, 'name:window', SIGN_IN_LIMITS.name, T0 + SIGN_IN_LIMITS.name.windowMs)).resolves.toBeUndefined();
  });
});

describe('signIn', () => {
  beforeAll(async () => {
    await addOperator(local.store, 'ops-bob', PASSWORD, 'cli:test', T0);
  });

  it('opens a session for the right password, stored by hash, audited', async () => {
    const { token, operator } = await signIn(local.store, attempt('ops-bob', PASSWORD), T0);

    expect(operator._id).toBe('ops-bob');
    expect(await local.store.get(COLLECTIONS.consoleSessions, token)).toBeNull();
    await expect(readSession(local.store, token, T0 + 1000)).resolves.toMatchObject({ operator: { _id: 'ops-bob' } });
    expect(csrfTokenOf(token)).not.toBe(token);
    expect((await recentAudit(local.store, 5)).map((entry) => [entry.action, entry.actor, entry.outcome])).toContainEqual(['sign-in', 'ops-bob', 'ok']);
  });

  it('answers a wrong password and an unknown name with the same message', async () => {
    await expect(signIn(local.store, attempt('ops-bob', 'wrong password here'), T0)).rejects.toThrow(new UnauthorizedError(SIGN_IN_FAILED));
    await expect(signIn(local.store, attempt('nobody-here', PASSWORD), T0)).rejects.toThrow(new UnauthorizedError(SIGN_IN_FAILED));
  });

  it('locks a name after five wrong passwords, refuses the right one until the lock ends, then lets it in', async () => {
    await addOperator(local.store, 'ops-carol', PASSWORD, 'cli:test', T0);
    for (let i = 0; i < 5; i += 1) await expect(signIn(local.store, attempt('ops-carol', `wrong password ${i}`), T0)).rejects.toThrow(SIGN_IN_FAILED);

    await expect(signIn(local.store, attempt('ops-carol', PASSWORD), T0 + 60_000)).rejects.toThrow(SignInLockedError);
    await expect(signIn(local.store, attempt('ops-carol', PASSWORD), T0 + SIGN_IN_LIMITS.name.lockMs + 1)).resolves.toMatchObject({ operator: { _id: 'ops-carol' } });
    const actions = (await recentAudit(local.store, 20)).map((entry) => entry.action);
    expect(actions).toContain('sign-in.locked');
  });

  it('locks an unknown name exactly like a real one (the lock-out tells nothing about which names exist)', async () => {
    for (let i = 0; i < 5; i += 1) await expect(signIn(local.store, attempt('ghost', `wrong password ${i}`), T0)).rejects.toThrow(SIGN_IN_FAILED);

    await expect(signIn(local.store, attempt('ghost', PASSWORD), T0)).rejects.toThrow(SignInLockedError);
  });

  it('locks an address that used up its attempts, whatever name it tries next', async () => {
    const ip = '198.51.100.9';
    for (let i = 0; i < SIGN_IN_LIMITS.ip.maxAttempts; i += 1) await takeAttempt(local.store, ipLimitKey(ip), SIGN_IN_LIMITS.ip, T0);

    await expect(signIn(local.store, attempt('ops-bob', PASSWORD, ip), T0)).rejects.toThrow(SignInLockedError);
    await expect(signIn(local.store, attempt('ops-bob', PASSWORD, '198.51.100.10'), T0)).resolves.toMatchObject({ operator: { _id: 'ops-bob' } });
  });

  it('lets the CLI lift a lock-out at once', async () => {
    await addOperator(local.store, 'ops-dan', PASSWORD, 'cli:test', T0);
    for (let i = 0; i < 5; i += 1) await expect(signIn(local.store, attempt('ops-dan', `wrong password ${i}`), T0)).rejects.toThrow(SIGN_IN_FAILED);
    await unlockSignIn(local.store, { name: 'ops-dan' }, 'cli:test', T0);

    await expect(signIn(local.store, attempt('ops-dan', PASSWORD), T0)).resolves.toMatchObject({ operator: { _id: 'ops-dan' } });
    expect(await local.store.get(COLLECTIONS.consoleSignInLimits, nameLimitKey('ops-dan'))).toMatchObject({ attempts: 0 });
  });
});

describe('sessions', () => {
  beforeAll(async () => {
    await addOperator(local.store, 'ops-eve', PASSWORD, 'cli:test', T0);
  });

  it.each([
    { case: 'idle for longer than the idle limit', atMs: T0 + SESSION_TIMING.idleMs + 1 },
    { case: 'past its absolute end', atMs: T0 + SESSION_TIMING.absoluteMs + 1 },
  ])('ends a session $case and removes it', async ({ atMs }) => {
    const { token } = await signIn(local.store, attempt('ops-eve', PASSWORD), T0);

    await expect(readSession(local.store, token, atMs)).resolves.toBeNull();
    await expect(readSession(local.store, token, T0 + 1000)).resolves.toBeNull();
  });

  it('keeps an active session alive past the idle limit, up to its absolute end', async () => {
    const { token } = await signIn(local.store, attempt('ops-eve', PASSWORD), T0);
    let nowMs = T0;
    while (nowMs + SESSION_TIMING.idleMs / 2 < T0 + SESSION_TIMING.absoluteMs) {
      nowMs += SESSION_TIMING.idleMs / 2;
      await expect(readSession(local.store, token, nowMs)).resolves.not.toBeNull();
    }
    await expect(readSession(local.store, token, T0 + SESSION_TIMING.absoluteMs)).resolves.toBeNull();
  });

  it('ends every session of an operator whose password is reset or who is removed', async () => {
    const first = await signIn(local.store, attempt('ops-eve', PASSWORD), T0);
    await resetOperatorPassword(local.store, 'ops-eve', 'another long passphrase', 'cli:test', T0 + 1);
    await expect(readSession(local.store, first.token, T0 + 2)).resolves.toBeNull();

    const second = await signIn(local.store, attempt('ops-eve', 'another long passphrase'), T0 + 3);
    await removeOperator(local.store, 'ops-eve', 'cli:test', T0 + 4);
    await expect(readSession(local.store, second.token, T0 + 5)).resolves.toBeNull();
    await expect(signIn(local.store, attempt('ops-eve', 'another long passphrase'), T0 + 6)).rejects.toThrow(SIGN_IN_FAILED);
  });
});
