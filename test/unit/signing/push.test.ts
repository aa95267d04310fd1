import fc from 'fast-check';
import { InputError } from '../../../shared/errors';
import { pushSignature, verifyPushSignature } from '../../../shared/signing/index';

// wechatpy tests/test_utils.py test_check_signature_should_ok / _should_fail.
const URL_CHECK = { token: 'test', timestamp: '1410685589', nonce: 'test' };
const URL_CHECK_SIGNATURE = 'f21891de399b4e33a1a93c9a7b8a8fffb5a443ff';

// wechatpy tests/test_crypto.py test_check_signature_should_ok (WeCom echostr; same algorithm).
const ECHO = {
  token: '123456',
  timestamp: '1411443780',
  nonce: '437374425',
  encrypt: '4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==',
};
const ECHO_SIGNATURE = 'dd6b9c95b495b3f7e2901bfbc76c664930ffdb96';

describe('pushSignature', () => {
  it.each([
    { case: 'the wechatpy URL check', input: URL_CHECK, expected: URL_CHECK_SIGNATURE },
    { case: 'the wechatpy echostr msg_signature', input: ECHO, expected: ECHO_SIGNATURE },
    // wechatpy test_wechat_card_signer: the same sorted-concat SHA1 over 789, 456, 123.
    { case: 'the wechatpy WeChatSigner values', input: { token: '789', timestamp: '456', nonce: '123' }, expected: 'f7c3bc1d808e04732adf679965ccc34ca7ae3441' },
  ])('matches $case', ({ input, expected }) => {
    expect(pushSignature(input)).toBe(expected);
  });

  it('takes a numeric timestamp as its decimal string', () => {
    expect(pushSignature({ ...URL_CHECK, timestamp: 1410685589 })).toBe(URL_CHECK_SIGNATURE);
  });

  it.each([
    { case: 'an empty token', patch: { token: '' } },
    { case: 'a token with a trailing newline', patch: { token: 'test\n' } },
    { case: 'an empty nonce', patch: { nonce: '' } },
    { case: 'an encrypt value given as a number', patch: { encrypt: 5 } },
    { case: 'the typo msgSignature', patch: { msgSignature: 'x' } },
  ])('rejects $case with an InputError', ({ patch }) => {
    expect(() => pushSignature({ ...URL_CHECK, ...patch } as unknown as Parameters<typeof pushSignature>[0])).toThrow(InputError);
  });
});

describe('verifyPushSignature', () => {
  it.each([
    { case: 'the URL check signature', input: { ...URL_CHECK, signature: URL_CHECK_SIGNATURE }, expected: true },
    { case: 'the echostr msg_signature', input: { ...ECHO, signature: ECHO_SIGNATURE }, expected: true },
    // wechatpy test_check_signature_should_fail: last character changed.
    { case: 'a signature with its last character changed', input: { ...URL_CHECK, signature: 'f21891de399b4e33a1a93c9a7b8a8fffb5a443fe' }, expected: false },
    // wechatpy test_crypto.py should_fail: nonce 437374424.
    { case: 'a changed nonce', input: { ...ECHO, nonce: '437374424', signature: ECHO_SIGNATURE }, expected: false },
    { case: 'a missing encrypt value', input: { ...URL_CHECK, signature: ECHO_SIGNATURE }, expected: false },
    { case: 'an uppercase signature', input: { ...URL_CHECK, signature: URL_CHECK_SIGNATURE.toUpperCase() }, expected: false },
    { case: 'a truncated signature', input: { ...URL_CHECK, signature: URL_CHECK_SIGNATURE.slice(0, 39) }, expected: false },
    { case: 'an empty signature', input: { ...URL_CHECK, signature: '' }, expected: false },
    { case: 'a missing signature', input: { ...URL_CHECK, signature: undefined }, expected: false },
    { case: 'a missing nonce', input: { ...URL_CHECK, nonce: undefined, signature: URL_CHECK_SIGNATURE }, expected: false },
    { case: 'a negative numeric timestamp', input: { ...URL_CHECK, timestamp: -1, signature: URL_CHECK_SIGNATURE }, expected: false },
    { case: 'an array timestamp from a repeated query parameter', input: { ...URL_CHECK, timestamp: ['1', '2'], signature: URL_CHECK_SIGNATURE }, expected: false },
  ])('answers $expected for $case', ({ input, expected }) => {
    expect(verifyPushSignature(input as unknown as Parameters<typeof verifyPushSignature>[0])).toBe(expected);
  });

  it('throws an InputError when the configured token itself is unusable', () => {
    expect(() => verifyPushSignature({ ...URL_CHECK, token: '', signature: URL_CHECK_SIGNATURE })).toThrow(InputError);
  });

  it('fails for any single changed character of any signed field', () => {
    const field = fc.stringMatching(/^[0-9A-Za-z+/=]{1,40}$/);
    fc.assert(
      fc.property(
        fc.record({ token: fc.stringMatching(/^[0-9A-Za-z]{1,32}$/), timestamp: fc.stringMatching(/^[0-9]{1,10}$/), nonce: field, encrypt: field }),
        fc.constantFrom('token', 'timestamp', 'nonce', 'encrypt'),
        fc.nat(),
        (input, key, at) => {
          const signature = pushSignature(input);
          const value = input[key as keyof typeof input];
          const index = at % value.length;
          const changed = value.slice(0, index) + (value[index] === 'A' ? 'B' : 'A') + value.slice(index + 1);
          expect(verifyPushSignature({ ...input, signature })).toBe(true);
          expect(verifyPushSignature({ ...input, [key]: changed, signature })).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });
});
