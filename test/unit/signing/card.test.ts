import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { InputError } from '../../../shared/errors';
import { buildCardExt, cardExtSignature } from '../../../shared/signing/index';
import { sortedConcatSha1 } from '../../../shared/signing/hash';

const sha1 = (text: string) => createHash('sha1').update(text, 'utf8').digest('hex');

// Official example, JS-SDK 附录4 (old doc copy, code index id 21544941984).
const OFFICIAL = {
  code: 'jonyqin_1434008071',
  timestamp: 1404896688,
  cardId: 'pjZ8Yt1XGILfi-FUsewpnnolGgZk',
  nonceStr: 'jonyqin',
} as const;
const OFFICIAL_TICKET = 'ojZ8YtyVyr30HheH3CM73y7h4jJE';

describe('sortedConcatSha1 (the card signer primitive)', () => {
  it.each([
    // chanxuehong/wechat mp/jssdk/sign_test.go TestCardSign: values given out of order.
    { case: 'chanxuehong TestCardSign', values: ['ffff', 'eeee', 'bbbb', 'dddd', 'aaaa', 'cccc'], expected: '89a0e60888a9471f75dc5eb0ee86431ddbec1fd9' },
    // wechatpy tests/test_utils.py test_wechat_card_signer.
    { case: 'wechatpy test_wechat_card_signer', values: ['789', '456', '123'], expected: 'f7c3bc1d808e04732adf679965ccc34ca7ae3441' },
  ])('matches the $case vector', ({ values, expected }) => {
    expect(sortedConcatSha1(values)).toBe(expected);
  });

  it('orders by code point like Go and Python, not by UTF-16 unit', () => {
    // U+FF5E (one UTF-16 unit) sorts after U+1F600 (a surrogate pair) in UTF-16 order but before it by code point.
    expect(sortedConcatSha1(['\u{1F600}', '\uFF5E'])).toBe(sha1('\uFF5E\u{1F600}'));
  });
});

describe('cardExtSignature', () => {
  it('reproduces the official example value only with the trailing space the doc ticket carries', () => {
    // Trap: the doc prints api_ticket=`ojZ8YtyVyr30HheH3CM73y7h4jJE ` (trailing space) and its
    // value 6b81fbf6… is the SHA1 of the string WITH that space. An older doc version printed an
    // unsorted string and an uppercase value (4F76593A…); both are wrong and ignored here.
    expect(sha1('1404896688jonyqinjonyqin_1434008071ojZ8YtyVyr30HheH3CM73y7h4jJE pjZ8Yt1XGILfi-FUsewpnnolGgZk')).toBe(
      '6b81fbf6af16e856334153b39737556063c82689',
    );
    // A real ticket never contains whitespace, so the spaced one is refused rather than signed.
    expect(() => cardExtSignature({ ...OFFICIAL, apiTicket: `${OFFICIAL_TICKET} ` })).toThrow(InputError);
  });

  it('gives the clean-ticket value of the official example, as the Java peer WxCardSignTest printed', () => {
    // WxCardSignTest (code index id 10039271321) notes "实际的 … 2b4d29b5…" for the same inputs.
    expect(cardExtSignature({ ...OFFICIAL, apiTicket: OFFICIAL_TICKET })).toBe('2b4d29b5f60fa4be37522ddfd9583c329446d3e3');
  });

  it('takes the timestamp as number or string with the same result', () => {
    const asNumber = cardExtSignature({ ...OFFICIAL, apiTicket: OFFICIAL_TICKET });
    expect(cardExtSignature({ ...OFFICIAL, apiTicket: OFFICIAL_TICKET, timestamp: '1404896688' })).toBe(asNumber);
  });

  it.each([
    { case: 'an absent code', extra: {} },
    { case: 'an empty code', extra: { code: '' } },
    { case: 'an empty openid', extra: { openid: '' } },
  ])('leaves out $case', ({ extra }) => {
    const base = { apiTicket: OFFICIAL_TICKET, cardId: OFFICIAL.cardId, timestamp: OFFICIAL.timestamp, nonceStr: OFFICIAL.nonceStr };
    expect(cardExtSignature({ ...base, ...extra })).toBe(sha1(['1404896688', 'jonyqin', OFFICIAL_TICKET, OFFICIAL.cardId].sort().join('')));
  });

  it('signs the openid when the card is bound to one', () => {
    const signed = cardExtSignature({ ...OFFICIAL, apiTicket: OFFICIAL_TICKET, openid: 'oX154jmkDxRytCwhdkq_STKcLp5s' });
    expect(signed).toBe(sortedConcatSha1([...Object.values(OFFICIAL).map(String), OFFICIAL_TICKET, 'oX154jmkDxRytCwhdkq_STKcLp5s']));
  });

  it.each([
    { case: 'an empty ticket', patch: { apiTicket: '' } },
    { case: 'a ticket with a newline', patch: { apiTicket: `${OFFICIAL_TICKET}\n` } },
    { case: 'a numeric ticket', patch: { apiTicket: 12345 } },
    { case: 'a missing card id', patch: { cardId: undefined } },
    { case: 'a card id given as a number', patch: { cardId: 42 } },
    { case: 'a nonce of 33 characters', patch: { nonceStr: 'a'.repeat(33) } },
    { case: 'a nonce with a space', patch: { nonceStr: 'a b' } },
    { case: 'an empty nonce', patch: { nonceStr: '' } },
    { case: 'a fractional timestamp', patch: { timestamp: 1404896688.5 } },
    { case: 'a negative timestamp', patch: { timestamp: -1 } },
    { case: 'a timestamp with letters', patch: { timestamp: '14048966a8' } },
    { case: 'a code given as a number', patch: { code: 123 } },
    { case: 'a null openid', patch: { openid: null } },
    { case: 'the typo openId', patch: { openId: 'o1' } },
  ])('rejects $case with an InputError', ({ patch }) => {
    const input = { ...OFFICIAL, apiTicket: OFFICIAL_TICKET, ...patch } as unknown as Parameters<typeof cardExtSignature>[0];
    expect(() => cardExtSignature(input)).toThrow(InputError);
  });

  it('accepts a nonce of exactly 32 characters', () => {
    expect(cardExtSignature({ ...OFFICIAL, apiTicket: OFFICIAL_TICKET, nonceStr: 'A'.repeat(32) })).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('buildCardExt', () => {
  it('writes the documented fields in order, timestamp as a JSON number and the unsigned fields unsigned (signature unchanged)', () => {
    const json = buildCardExt({
      ...OFFICIAL,
      apiTicket: OFFICIAL_TICKET,
      outerStr: 'channel_7',
      fixedBeginTimestamp: 1404896688,
    });
    expect(json).toBe(
      '{"code":"jonyqin_1434008071","timestamp":1404896688,"nonce_str":"jonyqin",' +
        '"fixed_begintimestamp":1404896688,"outer_str":"channel_7","signature":"2b4d29b5f60fa4be37522ddfd9583c329446d3e3"}',
    );
  });

  it('omits code for a non-custom-code card and leaves empty values out', () => {
    const json = buildCardExt({ apiTicket: OFFICIAL_TICKET, cardId: OFFICIAL.cardId, timestamp: 1404896688, nonceStr: 'jonyqin', code: '', openid: '', outerStr: '' });
    expect(JSON.parse(json)).toEqual({
      timestamp: 1404896688,
      nonce_str: 'jonyqin',
      signature: sha1(['1404896688', 'jonyqin', OFFICIAL_TICKET, OFFICIAL.cardId].sort().join('')),
    });
  });

  it('writes a timestamp given as a string as the same JSON number', () => {
    const fromString = buildCardExt({ ...OFFICIAL, apiTicket: OFFICIAL_TICKET, timestamp: '1404896688' });
    expect(fromString).toBe(buildCardExt({ ...OFFICIAL, apiTicket: OFFICIAL_TICKET }));
    expect(fromString).toContain('"timestamp":1404896688,');
  });

  it('never puts the ticket or the card id in the JSON', () => {
    const json = buildCardExt({ ...OFFICIAL, apiTicket: OFFICIAL_TICKET });
    expect(json).not.toContain(OFFICIAL_TICKET);
    expect(json).not.toContain(OFFICIAL.cardId);
  });

  it.each([
    { case: 'a fractional fixedBeginTimestamp', patch: { fixedBeginTimestamp: 1.5 } },
    { case: 'an outerStr given as a number', patch: { outerStr: 7 } },
    { case: 'the typo outer_str', patch: { outer_str: 'x' } },
  ])('rejects $case with an InputError', ({ patch }) => {
    const input = { ...OFFICIAL, apiTicket: OFFICIAL_TICKET, ...patch } as unknown as Parameters<typeof buildCardExt>[0];
    expect(() => buildCardExt(input)).toThrow(InputError);
  });

  it('keeps the JSON and its signature in agreement for any combination of optional fields', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
    fc.assert(
      fc.property(
        fc.record(
          {
            apiTicket: token,
            cardId: token,
            timestamp: fc.integer({ min: 0, max: 4_102_444_800 }),
            nonceStr: fc.stringMatching(/^[0-9A-Za-z]{1,32}$/),
            code: fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 20 })),
            openid: fc.oneof(fc.constant(''), token),
            outerStr: fc.string({ unit: 'binary', maxLength: 20 }),
            fixedBeginTimestamp: fc.integer({ min: 0, max: 4_102_444_800 }),
          },
          { requiredKeys: ['apiTicket', 'cardId', 'timestamp', 'nonceStr'] },
        ),
        (input) => {
          const ext = JSON.parse(buildCardExt(input)) as Record<string, unknown>;
          // Recompute from what the JSON says, independently of the implementation.
          // A JSON number is signed as its decimal digits.
          const signedValues = [input.apiTicket, input.cardId, ext.code, ext.openid, String(ext.timestamp), ext.nonce_str];
          const recomputed = sha1(
            signedValues
              .filter((value): value is string => typeof value === 'string' && value !== '')
              .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
              .join(''),
          );
          expect(ext.signature).toBe(recomputed);
          expect(ext.signature).toBe(cardExtSignature({ apiTicket: input.apiTicket, cardId: input.cardId, timestamp: input.timestamp, nonceStr: input.nonceStr, code: input.code, openid: input.openid }));
          expect(ext.timestamp).toBe(input.timestamp);
          expect('code' in ext).toBe(Boolean(input.code));
          expect('openid' in ext).toBe(Boolean(input.openid));
          expect('outer_str' in ext).toBe(Boolean(input.outerStr));
          expect(ext.fixed_begintimestamp).toBe(input.fixedBeginTimestamp);
        },
      ),
      { numRuns: 200 },
    );
  });
});
