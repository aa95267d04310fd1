import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { CryptoError, InputError, SignatureError } from '../../../shared/errors';
import {
  buildEncryptedReply,
  decryptMessage,
  decryptPushMessage,
  encryptMessage,
  MAX_PUSH_MESSAGE_BYTES,
  pushSignature,
  verifyPushSignature,
} from '../../../shared/signing/index';

// Official WXBizMsgCrypt sample values, via WxJava WxCryptUtilTest
// (chanjarster/weixin-java-tools weixin-java-common/src/test/…/crypto/WxCryptUtilTest.java).
const WXJAVA = {
  encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  appId: 'wxb11529c136998cb6',
  random: 'aaaabbbbccccdddd',
};
const WXJAVA_MSG_1 = '我是中文abcd123';
const WXJAVA_CIPHER_1 = 'jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==';
const WXJAVA_MSG_2 =
  '<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName>' +
  '<CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId>' +
  '<Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>';
const WXJAVA_CIPHER_2 =
  'jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb';

// wechatpy tests/test_crypto.py (WeCom: same algorithm, the corp id in the app id's place).
const WECHATPY = {
  token: '123456',
  encodingAESKey: 'kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR',
  appId: 'wx49f0ab532d5d035a',
};
const WECHATPY_PUSH_ENCRYPT =
  'RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=';

// EasyWeChat tests/Kernel/EncryptorTest.php (token pamtest, the official sample key and app id).
const EASYWECHAT = {
  token: 'pamtest',
  encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  appId: 'wxb11529c136998cb6',
  timestamp: '1458300676',
  nonce: '260774613',
  msgSignature: '4f3ad57b6989f09f4eb392acce4f9e93942ed890',
  encrypted:
    'rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh+++yz+CQzBIuikA==',
};

/** Encrypts an arbitrary plaintext under a key the way WXBizMsgCrypt does, to forge malformed inner layouts. */
function rawEncrypt(encodingAESKey: string, plain: Buffer): string {
  const key = Buffer.from(`${encodingAESKey}=`, 'base64');
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
}

/** random(16) ‖ uint32be(length) ‖ body, PKCS#7-padded to 32 bytes. */
function layout(lengthField: number, body: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(lengthField);
  const unpadded = Buffer.concat([Buffer.alloc(16, 0x61), length, body]);
  const pad = 32 - (unpadded.length % 32);
  return Buffer.concat([unpadded, Buffer.alloc(pad, pad)]);
}

describe('encryptMessage', () => {
  it.each([
    { case: 'WxJava testAesEncrypt', xml: WXJAVA_MSG_1, expected: WXJAVA_CIPHER_1 },
    { case: 'WxJava testAesEncrypt2', xml: WXJAVA_MSG_2, expected: WXJAVA_CIPHER_2 },
  ])('matches the $case vector', ({ xml, expected }) => {
    expect(encryptMessage({ ...WXJAVA, xml })).toBe(expected);
  });

  it('treats keys differing only in the dropped low bits of the 43rd character as the same key', () => {
    // Trap: newer WxJava copies of the test use …ABCDEFE, the official sample …ABCDEFG. 43 base64
    // characters carry 258 bits; the last character's two low bits are dropped, so E (000100)
    // and G (000110) decode to the same 32-byte key and the same vector.
    expect(encryptMessage({ ...WXJAVA, encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFE', xml: WXJAVA_MSG_1 })).toBe(WXJAVA_CIPHER_1);
  });

  it('draws a fresh random prefix when none is pinned', () => {
    const first = encryptMessage({ encodingAESKey: WXJAVA.encodingAESKey, appId: WXJAVA.appId, xml: 'x' });
    const second = encryptMessage({ encodingAESKey: WXJAVA.encodingAESKey, appId: WXJAVA.appId, xml: 'x' });
    expect(first).not.toBe(second);
  });

  it.each([
    { case: 'a 42-character key', patch: { encodingAESKey: WXJAVA.encodingAESKey.slice(0, 42) } },
    { case: 'a 44-character key', patch: { encodingAESKey: `${WXJAVA.encodingAESKey}=` } },
    { case: 'a key with a base64 symbol', patch: { encodingAESKey: `${WXJAVA.encodingAESKey.slice(0, 42)}+` } },
    { case: 'an empty app id', patch: { appId: '' } },
    { case: 'a message given as a Buffer', patch: { xml: Buffer.from('x') } },
    { case: 'a message with a lone surrogate', patch: { xml: 'a\uD800b' } },
    { case: 'a message over the size bound', patch: { xml: 'x'.repeat(MAX_PUSH_MESSAGE_BYTES + 1) } },
    { case: 'a random prefix of 15 bytes', patch: { random: 'aaaabbbbccccddd' } },
    { case: 'a random prefix of 17 bytes', patch: { random: new Uint8Array(17) } },
    { case: 'the typo appid', patch: { appid: 'wx' } },
  ])('rejects $case with an InputError', ({ patch }) => {
    const input = { ...WXJAVA, xml: WXJAVA_MSG_1, ...patch } as unknown as Parameters<typeof encryptMessage>[0];
    expect(() => encryptMessage(input)).toThrow(InputError);
  });
});

describe('decryptMessage', () => {
  it.each([
    { case: 'WxJava vector 1', encrypted: WXJAVA_CIPHER_1, expected: WXJAVA_MSG_1 },
    { case: 'WxJava vector 2', encrypted: WXJAVA_CIPHER_2, expected: WXJAVA_MSG_2 },
  ])('opens the $case', ({ encrypted, expected }) => {
    expect(decryptMessage({ encodingAESKey: WXJAVA.encodingAESKey, appId: WXJAVA.appId, encrypted })).toBe(expected);
  });

  it('rejects a message addressed to another app id (EasyWeChat testDecryptWithErrorAppId)', () => {
    expect(() => decryptMessage({ encodingAESKey: EASYWECHAT.encodingAESKey, appId: 'invalid appid', encrypted: EASYWECHAT.encrypted })).toThrow(CryptoError);
  });

  it.each([
    { case: 'an empty value', encrypted: '' },
    { case: 'bad base64 characters', encrypted: `${WXJAVA_CIPHER_1.slice(0, -4)}*A==` },
    { case: 'base64 with embedded whitespace', encrypted: `${WXJAVA_CIPHER_1.slice(0, 8)} ${WXJAVA_CIPHER_1.slice(8)}` },
    { case: 'a ciphertext truncated by one block', encrypted: Buffer.from(WXJAVA_CIPHER_1, 'base64').subarray(0, 48).toString('base64') },
    { case: 'a ciphertext cut to its first 32-byte block', encrypted: Buffer.from(WXJAVA_CIPHER_1, 'base64').subarray(0, 32).toString('base64') },
    { case: 'a ciphertext truncated mid-block', encrypted: Buffer.from(WXJAVA_CIPHER_1, 'base64').subarray(0, 63).toString('base64') },
    { case: 'a value over the size bound', encrypted: 'A'.repeat(2 * MAX_PUSH_MESSAGE_BYTES) },
    { case: 'a non-string value', encrypted: 42 },
  ])('rejects $case with a CryptoError', ({ encrypted }) => {
    const input = { encodingAESKey: WXJAVA.encodingAESKey, appId: WXJAVA.appId, encrypted } as unknown as Parameters<typeof decryptMessage>[0];
    expect(() => decryptMessage(input)).toThrow(CryptoError);
  });

  it.each([
    // Flipping a bit of the second-to-last cipher block flips the same bit of the last plain
    // block: here the pad byte 0x05 becomes 0x04 while the bytes before it stay 0x05.
    { case: 'a pad byte changed from 5 to 4', tamper: (bytes: Buffer) => { bytes[bytes.length - 17]! ^= 0x01; } },
    { case: 'a pad byte turned into 0', tamper: (bytes: Buffer) => { bytes[bytes.length - 17]! ^= 0x05; } },
    { case: 'a pad byte turned into 33', tamper: (bytes: Buffer) => { bytes[bytes.length - 17]! ^= 0x05 ^ 0x21; } },
  ])('rejects padding tampering: $case', ({ tamper }) => {
    // 16 + 4 + 3 + 4 = 27 bytes of content, so the padding is five bytes of 0x05.
    const encrypted = encryptMessage({ encodingAESKey: WXJAVA.encodingAESKey, appId: 'wx_a', xml: 'abc', random: WXJAVA.random });
    const bytes = Buffer.from(encrypted, 'base64');
    tamper(bytes);
    expect(() => decryptMessage({ encodingAESKey: WXJAVA.encodingAESKey, appId: 'wx_a', encrypted: bytes.toString('base64') })).toThrow(CryptoError);
  });

  it.each([
    { case: 'a length field larger than the data', plain: layout(1000, Buffer.from('abcwx_a')) },
    { case: 'a length field of 2^32-1', plain: layout(0xffffffff, Buffer.from('abcwx_a')) },
    { case: 'content shorter than the random prefix and length', plain: Buffer.concat([Buffer.alloc(10, 0x61), Buffer.alloc(22, 22)]) },
    { case: 'a message that is not UTF-8', plain: layout(2, Buffer.concat([Buffer.from([0xc3, 0x28]), Buffer.from('wx_a')])) },
    { case: 'a trailing app id of another app', plain: layout(3, Buffer.from('abcwx_b')) },
  ])('rejects an inner layout with $case', ({ plain }) => {
    const encrypted = rawEncrypt(WXJAVA.encodingAESKey, plain);
    expect(() => decryptMessage({ encodingAESKey: WXJAVA.encodingAESKey, appId: 'wx_a', encrypted })).toThrow(CryptoError);
  });

  it('accepts the same hand-made layout when it is well formed, so the cases above fail for their flaw', () => {
    const encrypted = rawEncrypt(WXJAVA.encodingAESKey, layout(3, Buffer.from('abcwx_a')));
    expect(decryptMessage({ encodingAESKey: WXJAVA.encodingAESKey, appId: 'wx_a', encrypted })).toBe('abc');
  });

  it('rejects a wrong key length with an InputError', () => {
    expect(() => decryptMessage({ encodingAESKey: 'short', appId: WXJAVA.appId, encrypted: WXJAVA_CIPHER_1 })).toThrow(InputError);
  });

  it('round-trips any UTF-8 message and app id under any key, in whole 32-byte blocks', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9]{43}$/),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
        fc.string({ unit: 'grapheme', maxLength: 300 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (encodingAESKey, appId, xml, random) => {
          const encrypted = encryptMessage({ encodingAESKey, appId, xml, random });
          expect(Buffer.from(encrypted, 'base64').length % 32).toBe(0);
          expect(decryptMessage({ encodingAESKey, appId, encrypted })).toBe(xml);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('round-trips any code point sequence, astral planes and controls included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), (xml, appId) => {
        const encrypted = encryptMessage({ encodingAESKey: WECHATPY.encodingAESKey, appId, xml });
        expect(decryptMessage({ encodingAESKey: WECHATPY.encodingAESKey, appId, encrypted })).toBe(xml);
      }),
      { numRuns: 200 },
    );
  });
});

describe('decryptPushMessage', () => {
  it('verifies and opens the wechatpy test_decrypt_message push', () => {
    const xml = decryptPushMessage({ ...WECHATPY, timestamp: '1411525903', nonce: '461056294', msgSignature: '74d92dfeb87ba7c714f89d98870ae5eb62dff26d', encrypted: WECHATPY_PUSH_ENCRYPT });
    expect(xml).toContain('<Content><![CDATA[test]]></Content>');
    expect(xml).toContain('<FromUserName><![CDATA[messense]]></FromUserName>');
  });

  it('verifies and opens the EasyWeChat testDecrypt push', () => {
    const xml = decryptPushMessage(EASYWECHAT);
    expect(xml).toContain('<ToUserName><![CDATA[asdasdasd]]></ToUserName>');
    expect(xml).toContain('<FromUserName><![CDATA[asdasdasdsadasd]]></FromUserName>');
    expect(xml).toContain('<CreateTime>1234567898</CreateTime>');
    expect(xml).toContain('<Content><![CDATA[hello]]></Content>');
  });

  it('opens the wechatpy echostr (URL verification in safe mode)', () => {
    // wechatpy test_check_signature_should_ok does not assert the echostr; this value is what it decrypts to.
    const echo = decryptPushMessage({
      ...WECHATPY,
      timestamp: '1411443780',
      nonce: '437374425',
      msgSignature: 'dd6b9c95b495b3f7e2901bfbc76c664930ffdb96',
      encrypted: '4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==',
    });
    expect(echo).toBe('5927782489442352469');
  });

  it.each([
    { case: 'an invalid signature (EasyWeChat testDecryptWithErrorSignature)', patch: { msgSignature: 'invalid-signature' } },
    { case: 'a changed timestamp', patch: { timestamp: '1458300677' } },
    { case: 'a missing signature', patch: { msgSignature: undefined } },
  ])('rejects $case with a SignatureError before decrypting', ({ patch }) => {
    const input = { ...EASYWECHAT, ...patch } as unknown as Parameters<typeof decryptPushMessage>[0];
    expect(() => decryptPushMessage(input)).toThrow(SignatureError);
  });

  it('rejects a push without an Encrypt value even when its signature is the plain URL signature', () => {
    const plain = pushSignature({ token: EASYWECHAT.token, timestamp: EASYWECHAT.timestamp, nonce: EASYWECHAT.nonce });
    const input = { ...EASYWECHAT, msgSignature: plain, encrypted: undefined } as unknown as Parameters<typeof decryptPushMessage>[0];
    expect(() => decryptPushMessage(input)).toThrow(CryptoError);
  });

  it('rejects a correctly signed push for another app id with a CryptoError', () => {
    expect(() => decryptPushMessage({ ...EASYWECHAT, appId: 'wx0000000000000000' })).toThrow(CryptoError);
  });
});

describe('buildEncryptedReply', () => {
  it('matches the wechatpy test_encrypt_message envelope byte for byte', () => {
    const reply =
      '<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n' +
      '<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n' +
      '<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>';
    const expected =
      '<xml>\n<Encrypt><![CDATA[9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3]]></Encrypt>\n' +
      '<MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature>\n' +
      '<TimeStamp>1411525903</TimeStamp>\n<Nonce><![CDATA[461056294]]></Nonce>\n</xml>';
    expect(buildEncryptedReply({ ...WECHATPY, xml: reply, random: '1234567890123456', timestamp: '1411525903', nonce: '461056294' })).toBe(expected);
  });

  it('writes a msg_signature that verifies over the Encrypt value it carries', () => {
    const envelope = buildEncryptedReply({ ...WECHATPY, xml: '<xml/>', timestamp: 1411525903, nonce: 'abc123' });
    const encrypt = /<Encrypt><!\[CDATA\[(.+?)\]\]><\/Encrypt>/.exec(envelope)?.[1];
    const signature = /<MsgSignature><!\[CDATA\[(.+?)\]\]><\/MsgSignature>/.exec(envelope)?.[1];
    expect(encrypt).toBeDefined();
    expect(signature).toBe(pushSignature({ token: WECHATPY.token, timestamp: '1411525903', nonce: 'abc123', encrypt }));
  });

  it.each([
    { case: 'a nonce that could close the CDATA section', patch: { nonce: 'a]]>b' } },
    { case: 'a nonce of 33 characters', patch: { nonce: '1'.repeat(33) } },
    { case: 'a millisecond timestamp with a fraction', patch: { timestamp: 1.5 } },
    { case: 'an empty token', patch: { token: '' } },
  ])('rejects $case with an InputError', ({ patch }) => {
    const input = { ...WECHATPY, xml: '<xml/>', timestamp: '1411525903', nonce: '461056294', ...patch } as unknown as Parameters<typeof buildEncryptedReply>[0];
    expect(() => buildEncryptedReply(input)).toThrow(InputError);
  });

  it('makes any single changed character of the Encrypt value fail verification', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), fc.nat(), (xml, at) => {
        const encrypt = encryptMessage({ encodingAESKey: WECHATPY.encodingAESKey, appId: WECHATPY.appId, xml });
        const signature = pushSignature({ token: WECHATPY.token, timestamp: '1411525903', nonce: '461056294', encrypt });
        const index = at % encrypt.length;
        const changed = encrypt.slice(0, index) + (encrypt[index] === 'A' ? 'B' : 'A') + encrypt.slice(index + 1);
        expect(verifyPushSignature({ token: WECHATPY.token, timestamp: '1411525903', nonce: '461056294', encrypt: changed, signature })).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
