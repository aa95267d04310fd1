import { hashPassword, needsRehash, passwordProblem, verifyPassword, type ScryptParams } from '../../../shared/console/passwords';

// Tests use small parameters where the cost is not what is tested; the defaults are checked once.
const FAST: ScryptParams = { N: 2 ** 10, r: 8, p: 1 };

describe('operator passwords', () => {
  it('stores scrypt with its parameters and a random salt, and verifies only the right password', async () => {
    const stored = await hashPassword('correct horse battery staple');
    const again = await hashPassword('correct horse battery staple');

    expect(stored).toMatch(/^scrypt\$32768\$8\$3\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(again).not.toBe(stored);
    await expect(verifyPassword('correct horse battery staple', stored)).resolves.toBe(true);
    await expect(verifyPassword('correct horse battery stapl', stored)).resolves.toBe(false);
    expect(needsRehash(stored)).toBe(false);
  });

  it('verifies a hash made with weaker parameters and says it needs replacing', async () => {
    const weak = await hashPassword('a long enough passphrase', FAST);

    await expect(verifyPassword('a long enough passphrase', weak)).resolves.toBe(true);
    expect(needsRehash(weak)).toBe(true);
  });

  it.each([
    { case: 'garbage', stored: 'not-a-hash' },
    { case: 'another scheme', stored: 'bcrypt$2b$10$abc' },
    { case: 'an absurd cost', stored: 'scrypt$1073741824$8$1$AAAA$AAAA' },
    { case: 'N not a power of two', stored: 'scrypt$1000$8$1$AAAA$AAAA' },
  ])('never matches $case', async ({ stored }) => {
    await expect(verifyPassword('anything at all here', stored)).resolves.toBe(false);
  });

  it.each([
    { case: 'too short', password: 'short', problem: 'at least 12' },
    { case: 'too long', password: 'x'.repeat(257), problem: 'at most 256' },
    { case: 'padded with spaces', password: ' twelve chars long ', problem: 'spaces' },
  ])('refuses a new password that is $case', async ({ password, problem }) => {
    expect(passwordProblem(password)).toContain(problem);
    await expect(hashPassword(password, FAST)).rejects.toThrow(problem);
  });
});
