import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { InputError } from '../../../shared/errors';
import { BIZ_RED_PACKET_PAY_SIGN_CASE, bizRedPacketParams } from '../../../shared/signing/index';

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

// gochat mch/mch_test.go TestMinipRedpackJSAPI at b81309aa (commented out there with
// "涉及时间戳，签名会变化（已通过固定时间戳验证）"; the package is the sendminiprogramhb example).
const RAW_PACKAGE =
  'sendid=242e8abd163d300019b2cae74ba8e8c06e3f0e51ab84d16b3c80decd22a5b672&ver=8' +
  '&sign=4110d649a5aef52dd6b95654ddf91ca7d5411ac159ace4e1a766b7d3967a1c3dfe1d256811445a4abda2d9cfa4a9b377a829258bd00d90313c6c346f2349fe5d' +
  '&mchid=11475856&appid=wxd27ebc41b85ce36d';
const GOCHAT = {
  appId: 'wx2421b1c4370ec43b',
  package: RAW_PACKAGE,
  apiKey: '192006250b4c09247ec02edce69f6a2d',
  timeStamp: 1414561699,
  nonceStr: 'e61463f8efa94090b1f366cccfbbb444',
};
const ENCODED_PACKAGE =
  'sendid%3D242e8abd163d300019b2cae74ba8e8c06e3f0e51ab84d16b3c80decd22a5b672%26ver%3D8' +
  '%26sign%3D4110d649a5aef52dd6b95654ddf91ca7d5411ac159ace4e1a766b7d3967a1c3dfe1d256811445a4abda2d9cfa4a9b377a829258bd00d90313c6c346f2349fe5d' +
  '%26mchid%3D11475856%26appid%3Dwxd27ebc41b85ce36d';

/** Go's url.QueryEscape, as gochat uses it: only [A-Za-z0-9-_.~] stay, space becomes '+'. */
function goQueryEscape(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      if (/[A-Za-z0-9\-_.~]/.test(char)) return char;
      if (char === ' ') return '+';
      return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

describe('bizRedPacketParams', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('matches gochat TestMinipRedpackJSAPI exactly', () => {
    expect(bizRedPacketParams(GOCHAT)).toEqual({
      timeStamp: '1414561699',
      nonceStr: 'e61463f8efa94090b1f366cccfbbb444',
      package: ENCODED_PACKAGE,
      signType: 'MD5',
      paySign: '0cecd02326e26c27fbc77f6062ef8654',
    });
  });

  it('does not sign signType, unlike wx.requestPayment', () => {
    // With signType=MD5 in the signing string the same inputs give 0bba704c…, the wrong value.
    const withSignType = md5(`appId=${GOCHAT.appId}&nonceStr=${GOCHAT.nonceStr}&package=${ENCODED_PACKAGE}&signType=MD5&timeStamp=1414561699&key=${GOCHAT.apiKey}`);
    expect(withSignType).toBe('0bba704cd4445b138b0b5b85f405bcf3');
    expect(bizRedPacketParams(GOCHAT).paySign).not.toBe(withSignType);
  });

  it('uses lowercase hex by default, a choice that is UNVERIFIED against WeChat and switchable', () => {
    expect(BIZ_RED_PACKET_PAY_SIGN_CASE).toBe('lower');
    expect(bizRedPacketParams({ ...GOCHAT, paySignCase: 'upper' }).paySign).toBe('0CECD02326E26C27FBC77F6062EF8654');
  });

  it('draws the timestamp from the clock and a 32-character crypto nonce when none is given', () => {
    jest.useFakeTimers({ now: 1_414_561_699_999 });
    const { timeStamp: _t, nonceStr: _n, ...noClockNoNonce } = GOCHAT;
    const params = bizRedPacketParams(noClockNoNonce);
    expect(params.timeStamp).toBe('1414561699');
    expect(params.nonceStr).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(params.paySign).toBe(md5(`appId=${GOCHAT.appId}&nonceStr=${params.nonceStr}&package=${ENCODED_PACKAGE}&timeStamp=1414561699&key=${GOCHAT.apiKey}`));
  });

  it('encodes a package exactly as Go url.QueryEscape does for every character a package carries', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9A-Za-z=&\-_.~+/]{1,64}$/), (rawPackage) => {
        expect(bizRedPacketParams({ ...GOCHAT, package: rawPackage }).package).toBe(goQueryEscape(rawPackage));
      }),
      { numRuns: 200 },
    );
  });

  it("leaves !'()* unescaped where Go would escape them (encodeURIComponent semantics)", () => {
    // Documented difference; no WeChat package contains these characters.
    expect(bizRedPacketParams({ ...GOCHAT, package: "a=!'()*" }).package).toBe("a%3D!'()*");
    expect(goQueryEscape("a=!'()*")).toBe('a%3D%21%27%28%29%2A');
  });

  it.each([
    { case: 'an already encoded package', patch: { package: ENCODED_PACKAGE } },
    { case: 'a package with a space', patch: { package: 'sendid=1 2' } },
    { case: 'an empty package', patch: { package: '' } },
    { case: 'an empty app id', patch: { appId: '' } },
    { case: 'an empty API key', patch: { apiKey: '' } },
    { case: 'a nonce of 33 characters', patch: { nonceStr: 'x'.repeat(33) } },
    { case: 'a timestamp in milliseconds with a fraction', patch: { timeStamp: 1414561699.5 } },
    { case: 'an unknown paySignCase', patch: { paySignCase: 'mixed' } },
    { case: 'the typo appid', patch: { appid: 'wx' } },
  ])('rejects $case with an InputError', ({ patch }) => {
    const input = { ...GOCHAT, ...patch } as unknown as Parameters<typeof bizRedPacketParams>[0];
    expect(() => bizRedPacketParams(input)).toThrow(InputError);
  });
});
