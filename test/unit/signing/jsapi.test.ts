import { InputError } from '../../../shared/errors';
import { jsapiSignature } from '../../../shared/signing/index';

// Official vector, JS-SDK 附录1 (bookstack.cn/read/wechat-js-sdk/ch16.md; netpc.com.cn/2559.html).
const OFFICIAL = {
  jsapiTicket: 'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg',
  nonceStr: 'Wm3WZYTPz0wzccnW',
  timestamp: 1414587457,
  url: 'http://mp.weixin.qq.com?params=value',
};

describe('jsapiSignature', () => {
  it.each([
    { case: 'the official example', url: OFFICIAL.url },
    // chanxuehong/wechat mp/jssdk/sign_test.go TestWXConfigSign appends #xxxx and expects the same value.
    { case: 'the official URL with a #fragment (chanxuehong TestWXConfigSign)', url: `${OFFICIAL.url}#xxxx` },
  ])('gives the documented signature for $case', ({ url }) => {
    expect(jsapiSignature({ ...OFFICIAL, url })).toBe('0f9de62fce790f9a083d5c99e95740ceb90c27ed');
  });

  it('differs for the copies of the example that print url=http://mp.weixin.qq.com', () => {
    // Trap: several copies of the doc shorten the URL but keep the value 0f9de62f…; that value
    // belongs to the ?params=value URL only.
    expect(jsapiSignature({ ...OFFICIAL, url: 'http://mp.weixin.qq.com' })).toBe('f4d90daf4b3bca3078ab155816175ba34c443a7b');
  });

  it('signs the URL without escaping it', () => {
    const raw = jsapiSignature({ ...OFFICIAL, url: 'https://example.com/claim?name=红包&x=a b' });
    const escaped = jsapiSignature({ ...OFFICIAL, url: encodeURI('https://example.com/claim?name=红包&x=a b') });
    expect(raw).not.toBe(escaped);
  });

  it.each([
    { case: 'an empty ticket', patch: { jsapiTicket: '' } },
    { case: 'a ticket with a trailing space', patch: { jsapiTicket: `${OFFICIAL.jsapiTicket} ` } },
    { case: 'an empty url', patch: { url: '' } },
    { case: 'a url that is only a fragment', patch: { url: '#top' } },
    { case: 'a url given as an object', patch: { url: new URL(OFFICIAL.url) } },
    { case: 'a nonce longer than 32 characters', patch: { nonceStr: 'n'.repeat(33) } },
    { case: 'a timestamp in milliseconds as a string with a dot', patch: { timestamp: '1414587457.000' } },
  ])('rejects $case with an InputError', ({ patch }) => {
    const input = { ...OFFICIAL, ...patch } as unknown as Parameters<typeof jsapiSignature>[0];
    expect(() => jsapiSignature(input)).toThrow(InputError);
  });
});
