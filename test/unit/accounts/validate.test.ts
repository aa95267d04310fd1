import { capabilitiesOf, summarizeAccount, type AccountDoc, type OfficialAccount } from '../../../shared/accounts/model';
import { planAccountSave } from '../../../shared/accounts/validate';
import { InputError } from '../../../shared/errors';

const NOW = Date.parse('2026-03-01T10:00:00+08:00');
const SECRET = 'Ab0123456789abcdef0123456789abcd';
const TOKEN = 'PushToken2026';
const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const complete = {
  appId: 'wx10ca1000000000a2',
  kind: 'subscription',
  verified: false,
  name: '订阅号甲',
  originalId: 'gh_10ca100000a2',
  messageMode: 'safe',
  appSecret: SECRET,
  pushToken: TOKEN,
  encodingAESKey: KEY,
};

function problemsOf(raw: unknown, existing: AccountDoc | null = null, isDefault = false): string {
  try {
    planAccountSave(raw, { existing, isDefault, nowMs: NOW });
  } catch (error) {
    if (error instanceof InputError) return error.message;
    throw error;
  }
  return '';
}

describe('planAccountSave', () => {
  it('accepts a complete new account and stamps it active', () => {
    const { doc, created, changed } = planAccountSave(complete, { existing: null, isDefault: false, nowMs: NOW });
    expect(created).toBe(true);
    expect(changed).toEqual([]);
    expect(doc).toEqual({
      _id: complete.appId, ...complete, kind: 'subscription', messageMode: 'safe', previousEncodingAESKey: null,
      status: 'active', createdAtMs: NOW, updatedAtMs: NOW, removedAtMs: 0,
    });
  });

  it.each([
    { case: 'a malformed appid', patch: { appId: 'wx123' }, problem: 'appId must be an AppID' },
    { case: 'an unknown kind', patch: { kind: 'enterprise' }, problem: 'kind must be one of service, subscription' },
    { case: 'verified as text', patch: { verified: 'yes' }, problem: 'verified must be true or false' },
    { case: 'an unknown mode', patch: { messageMode: 'secure' }, problem: 'messageMode must be one of plain, compatible, safe' },
    { case: 'a short push token', patch: { pushToken: 'ab' }, problem: 'pushToken must be 3–32 letters and digits' },
    { case: 'a push token with symbols', patch: { pushToken: 'tok-en!' }, problem: 'pushToken must be 3–32 letters and digits' },
    { case: 'a 42-character AES key', patch: { encodingAESKey: KEY.slice(1) }, problem: 'encodingAESKey must be 43 letters and digits' },
    { case: 'a malformed AppSecret', patch: { appSecret: 'short' }, problem: 'appSecret is malformed' },
    { case: 'a malformed original id', patch: { originalId: 'gh_xyz' }, problem: 'originalId must be the 原始ID' },
    { case: 'a name with a newline', patch: { name: 'a\nb' }, problem: 'name must be text' },
    { case: 'an unknown field', patch: { secret: SECRET }, problem: 'unknown field "secret"' },
    { case: 'a missing AppSecret', patch: { appSecret: undefined }, problem: 'appSecret is required' },
    { case: 'a missing push token', patch: { pushToken: undefined }, problem: 'pushToken is required' },
    { case: 'safe mode without an AES key', patch: { encodingAESKey: undefined }, problem: 'encodingAESKey is required in safe mode' },
  ])('refuses $case, naming it', ({ patch, problem }) => {
    expect(problemsOf({ ...complete, ...patch })).toContain(problem);
  });

  it('names every problem at once and never echoes a secret value', () => {
    const message = problemsOf({ appId: 'nope', appSecret: 'SECRET-VALUE!', pushToken: 'TOKEN-VALUE!', encodingAESKey: 'KEY-VALUE!', ['x'.repeat(500)]: 1 });
    for (const expected of ['appId must be', 'kind is required', 'verified is required', 'messageMode is required', 'appSecret is malformed', 'pushToken must be', 'encodingAESKey must be', 'unknown field']) {
      expect(message).toContain(expected);
    }
    for (const secret of ['SECRET-VALUE!', 'TOKEN-VALUE!', 'KEY-VALUE!']) expect(message).not.toContain(secret);
    expect(message.length).toBeLessThan(1200);
  });

  it('lets plain mode go without an AES key, and the environment\'s account without an AppSecret', () => {
    const { appSecret: _s, encodingAESKey: _k, ...rest } = complete;
    expect(problemsOf({ ...rest, messageMode: 'plain' }, null, true)).toBe('');
  });

  it('changes an account keeping what is not given, names the changes, and keeps the old AES key for a rotation', () => {
    const { doc: existing } = planAccountSave(complete, { existing: null, isDefault: false, nowMs: NOW - 1000 });
    const newKey = 'Z'.repeat(43);
    const { doc, created, changed } = planAccountSave(
      { appId: complete.appId, verified: true, encodingAESKey: newKey },
      { existing, isDefault: false, nowMs: NOW },
    );
    expect(created).toBe(false);
    expect(changed).toEqual(['verified', 'encodingAESKey']);
    expect(doc).toMatchObject({ appSecret: SECRET, pushToken: TOKEN, encodingAESKey: newKey, previousEncodingAESKey: KEY, createdAtMs: NOW - 1000, updatedAtMs: NOW });
  });

  it('asks for the secrets again when a removed account comes back', () => {
    const removed: AccountDoc = {
      ...planAccountSave(complete, { existing: null, isDefault: false, nowMs: NOW }).doc,
      status: 'removed', appSecret: null, pushToken: null, encodingAESKey: null,
    };
    expect(problemsOf({ appId: complete.appId, kind: 'subscription', verified: false, messageMode: 'plain' }, removed)).toMatch(
      /appSecret is required again for a removed account[\s\S]*pushToken is required again/,
    );
  });
});

describe('account capabilities (reference/official-accounts.md §1)', () => {
  it.each([
    { case: 'a verified service account', kind: 'service', verified: true, expected: ['qrcode', 'oauth', 'userInfo', 'customMessage', 'jsapiShare', 'cards'] },
    { case: 'an unverified service account', kind: 'service', verified: false, expected: [] },
    { case: 'a verified subscription account', kind: 'subscription', verified: true, expected: ['userInfo', 'customMessage', 'jsapiShare', 'cards'] },
    { case: 'an unverified subscription account', kind: 'subscription', verified: false, expected: [] },
  ] as const)('gives $case these extra APIs', ({ kind, verified, expected }) => {
    expect(capabilitiesOf({ kind, verified })).toEqual(expected);
  });

  it('summarises an account without its secrets', () => {
    const account: OfficialAccount = {
      appId: complete.appId, kind: 'subscription', verified: false, name: '', originalId: null, messageMode: 'safe',
      appSecret: SECRET, pushToken: TOKEN, encodingAESKey: null, previousEncodingAESKey: null, active: true, isDefault: false, source: 'registry',
    };
    const summary = summarizeAccount(account);
    expect(summary).toMatchObject({ appSecret: 'set', pushToken: 'set', encodingAESKey: 'missing', capabilities: [] });
    expect(JSON.stringify(summary)).not.toContain(SECRET);
    expect(JSON.stringify(summary)).not.toContain(TOKEN);
  });
});
