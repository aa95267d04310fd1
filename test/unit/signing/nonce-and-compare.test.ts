import { InputError } from '../../../shared/errors';
import { createNonce, safeEqual, unixSeconds } from '../../../shared/signing/index';

describe('createNonce', () => {
  it.each([
    { case: 'the default', length: undefined, expected: 32 },
    { case: 'a 16-character nonce', length: 16, expected: 16 },
    { case: 'a 1-character nonce', length: 1, expected: 1 },
  ])('draws $case from [0-9A-Za-z]', ({ length, expected }) => {
    const nonce = createNonce(length);
    expect(nonce).toHaveLength(expected);
    expect(nonce).toMatch(/^[0-9A-Za-z]+$/);
  });

  it('does not repeat across a thousand draws', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => createNonce()));
    expect(seen.size).toBe(1000);
  });

  it.each([
    { case: 'zero', length: 0 },
    { case: '33, over the WeChat limit', length: 33 },
    { case: 'a fraction', length: 8.5 },
    { case: 'NaN', length: Number.NaN },
  ])('rejects a length of $case with an InputError', ({ length }) => {
    expect(() => createNonce(length)).toThrow(InputError);
  });
});

describe('unixSeconds', () => {
  it.each([
    { case: 'a whole second', nowMs: 1_414_561_699_000, expected: 1_414_561_699 },
    { case: 'the last millisecond of a second', nowMs: 1_414_561_699_999, expected: 1_414_561_699 },
    { case: 'the epoch', nowMs: 0, expected: 0 },
  ])('floors $case', ({ nowMs, expected }) => {
    expect(unixSeconds(nowMs)).toBe(expected);
  });

  it.each([
    { case: 'a negative clock', nowMs: -1 },
    { case: 'NaN', nowMs: Number.NaN },
    { case: 'Infinity', nowMs: Number.POSITIVE_INFINITY },
  ])('rejects $case with an InputError', ({ nowMs }) => {
    expect(() => unixSeconds(nowMs)).toThrow(InputError);
  });
});

describe('safeEqual', () => {
  it.each([
    { case: 'equal strings', a: 'f21891de', b: 'f21891de', expected: true },
    { case: 'equal empty strings', a: '', b: '', expected: true },
    { case: 'equal non-ASCII strings', a: '红包', b: '红包', expected: true },
    { case: 'a difference in the last character', a: 'f21891de', b: 'f21891df', expected: false },
    { case: 'different case', a: 'abcdef', b: 'ABCDEF', expected: false },
    { case: 'a shorter second string', a: 'f21891de', b: 'f21891d', expected: false },
    { case: 'a longer second string', a: 'f21891de', b: 'f21891de0', expected: false },
    { case: 'equal UTF-16 length but different UTF-8 length', a: 'ab', b: '红b', expected: false },
    { case: 'a missing value', a: 'f21891de', b: undefined, expected: false },
    { case: 'a number', a: '1', b: 1, expected: false },
  ])('answers $expected for $case without throwing', ({ a, b, expected }) => {
    expect(safeEqual(a, b as unknown as string)).toBe(expected);
  });
});
