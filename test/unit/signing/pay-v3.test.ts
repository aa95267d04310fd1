import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { CryptoError, InputError } from '../../../shared/errors';
import {
  decryptAeadAesGcm, decryptPayV3SensitiveField, encryptAeadAesGcm, encryptPayV3SensitiveField, payV3Authorization, payV3SigningString,
  rsaSha256Sign, verifyPayV3Signature,
} from '../../../shared/signing/index';
import {
  V1_MCH_ID, V1_PRIVATE_KEY_PEM, V1_SERIAL_NO, V1_SOURCE_SIGNATURE, V3_CANCEL_SIGNATURE, V3_CREATE_BODY, V3_CREATE_SIGNATURE, V3_NONCE,
  V3_QUERY_SIGNATURE, V3_TIMESTAMP, V5_API_V3_KEY, V5_BODY, V5_HEADERS, V5_PLAINTEXT,
} from './pay-v3-vectors';

const V1_KEY = createPrivateKey(V1_PRIVATE_KEY_PEM);
const V1_PUBLIC = createPublicKey(V1_KEY);
const V5_NOW_MS = 1624523846 * 1000;
const V5_KEYS: ReadonlyMap<string, KeyObject> = new Map([[V5_HEADERS.serial, V1_PUBLIC]]);
const TRANSFER_BILLS = '/v3/fund-app/mch-transfer/transfer-bills';

describe('rsaSha256Sign', () => {
  it('signs "source" with the V1 key exactly as wechatpay-go sha256withrsa_signer_test.go expects (V1)', () => {
    expect(rsaSha256Sign('source', V1_KEY)).toBe(V1_SOURCE_SIGNATURE);
  });

  it('accepts the key as PEM text as well as a KeyObject (V1)', () => {
    expect(rsaSha256Sign('source', V1_PRIVATE_KEY_PEM)).toBe(V1_SOURCE_SIGNATURE);
  });

  it('refuses a public key where the private key belongs', () => {
    expect(() => rsaSha256Sign('source', V1_PUBLIC)).toThrow(InputError);
  });
});

describe('payV3SigningString', () => {
  it.each([
    // V2 — wechatpay-go core/auth/credentials/wechat_pay_credential_test.go.
    { case: 'GET without a body (go credential test)', method: 'GET', url: '/v3/certificates', body: '', expected: 'GET\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\n\n' },
    { case: 'POST whose body ends in a newline keeps both (go "gen success with body")', method: 'POST', url: '/v3/certificates', body: 'Hello World!\n', expected: 'POST\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\nHello World!\n\n' },
  ])('builds the five lines for $case (V2)', ({ method, url, body, expected }) => {
    expect(payV3SigningString({ method, url, timestamp: 1624523846, nonce: 'A1B2C3D4E5F6G7', body })).toBe(expected);
  });

  it('keeps the query string of the URL line as sent (V2, wechatpay-java WechatPay2CredentialTest)', () => {
    const signingString = payV3SigningString({
      method: 'GET', url: '/v3/pay/transactions/id/1217752501201407033233368018?mchid=1230000109', timestamp: 1652750623,
      nonce: 'eBYqCOxa0QudMnPvVilkTzOg3gHh5Z3u', body: '',
    });

    expect(signingString).toBe('GET\n/v3/pay/transactions/id/1217752501201407033233368018?mchid=1230000109\n1652750623\neBYqCOxa0QudMnPvVilkTzOg3gHh5Z3u\n\n');
  });

  it.each([
    { case: 'a lower-case method', input: { method: 'post' }, field: 'method' },
    { case: 'a full URL instead of the path', input: { url: 'https://api.mch.weixin.qq.com/v3/x' }, field: 'url' },
    { case: 'a URL with a newline', input: { url: '/v3/x\n/v3/y' }, field: 'url' },
    { case: 'a fractional timestamp', input: { timestamp: 1.5 }, field: 'timestamp' },
    { case: 'a nonce longer than 32 characters', input: { nonce: 'x'.repeat(33) }, field: 'nonce' },
    { case: 'a body that is not a string', input: { body: { a: 1 } }, field: 'body' },
  ])('refuses $case with an InputError naming the field', ({ input, field }) => {
    const base = { method: 'GET', url: '/v3/x', timestamp: 1, nonce: 'n', body: '' };
    expect(() => payV3SigningString({ ...base, ...input } as never)).toThrow(expect.objectContaining({ name: 'InputError', field }));
  });
});

describe('payV3Authorization', () => {
  const sign = (method: string, url: string, body: string): string =>
    payV3Authorization({ method, url, body, timestamp: V3_TIMESTAMP, nonce: V3_NONCE, mchId: V1_MCH_ID, serialNo: V1_SERIAL_NO, privateKey: V1_KEY });
  const signatureOf = (header: string): string | undefined => /signature="([^"]+)"/.exec(header)?.[1];

  it.each([
    { case: 'the create call with the 447-byte body', method: 'POST', url: TRANSFER_BILLS, body: V3_CREATE_BODY, signature: V3_CREATE_SIGNATURE },
    { case: 'the query by out_bill_no', method: 'GET', url: `${TRANSFER_BILLS}/out-bill-no/plfk2020042013`, body: '', signature: V3_QUERY_SIGNATURE },
    { case: 'the cancel, a POST without a body (klover2 omits its empty line and breaks this)', method: 'POST', url: `${TRANSFER_BILLS}/out-bill-no/plfk2020042013/cancel`, body: '', signature: V3_CANCEL_SIGNATURE },
  ])('signs $case as reference §5 V3 computes it', ({ method, url, body, signature }) => {
    expect(signatureOf(sign(method, url, body))).toBe(signature);
  });

  it('lays the header out as wechatpay-go credential test does (V2)', () => {
    expect(sign('GET', `${TRANSFER_BILLS}/out-bill-no/plfk2020042013`, '')).toBe(
      `WECHATPAY2-SHA256-RSA2048 mchid="1234567890",nonce_str="A1B2C3D4E5F6G7",timestamp="1624523846",serial_no="F5765756002FDD77",signature="${V3_QUERY_SIGNATURE}"`,
    );
  });

  it('signs the UTF-8 bytes: the body of V3 is 447 bytes, not 413 characters', () => {
    expect(Buffer.byteLength(V3_CREATE_BODY, 'utf8')).toBe(447);
    expect(V3_CREATE_BODY.length).toBeLessThan(447);
  });

  it.each([
    { case: 'a serial', input: { serialNo: 'A",signature="x' }, field: 'serialNo' },
    { case: 'a nonce', input: { nonce: 'n",mchid="1' }, field: 'nonce' },
  ])('refuses $case that would break the quoted header', ({ input, field }) => {
    const base = { method: 'GET', url: '/v3/x', body: '', timestamp: 1, nonce: 'n', mchId: V1_MCH_ID, serialNo: V1_SERIAL_NO, privateKey: V1_KEY };
    expect(() => payV3Authorization({ ...base, ...input })).toThrow(expect.objectContaining({ field }));
  });
});

describe('verifyPayV3Signature', () => {
  const message = { ...V5_HEADERS, body: V5_BODY };

  it('verifies the wechatpay-go notify with the V1 public key at its mocked clock (V5)', () => {
    expect(verifyPayV3Signature(message, { publicKeys: V5_KEYS, nowMs: V5_NOW_MS })).toEqual({ ok: true, serial: 'D7CE59D1F522D701' });
  });

  it('verifies the raw body bytes as well as the string (V5)', () => {
    expect(verifyPayV3Signature({ ...message, body: Buffer.from(V5_BODY, 'utf8') }, { publicKeys: V5_KEYS, nowMs: V5_NOW_MS }).ok).toBe(true);
  });

  it.each([
    { case: '299 s late', offsetMs: 299_000, ok: true },
    { case: '299 s early', offsetMs: -299_000, ok: true },
    { case: 'exactly 300 s late', offsetMs: 300_000, ok: false },
    { case: 'exactly 300 s early', offsetMs: -300_000, ok: false },
    { case: 'a day late (a replayed notify)', offsetMs: 86_400_000, ok: false },
  ])('accepts the clock $case only within |now − timestamp| < 300 s: $ok (V5)', ({ offsetMs, ok }) => {
    const result = verifyPayV3Signature(message, { publicKeys: V5_KEYS, nowMs: V5_NOW_MS + offsetMs });
    expect(result).toEqual(ok ? { ok: true, serial: V5_HEADERS.serial } : { ok: false, reason: 'stale_timestamp' });
  });

  it.each([
    { case: 'a re-serialised body (pretty-printed JSON)', change: { body: JSON.stringify(JSON.parse(V5_BODY), null, 2) }, reason: 'bad_signature' },
    { case: 'one byte of the body changed', change: { body: V5_BODY.replace('签约成功', '签约失败') }, reason: 'bad_signature' },
    { case: 'another nonce', change: { nonce: 'EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBx' }, reason: 'bad_signature' },
    { case: 'a signature that is not base64', change: { signature: 'not base64!' }, reason: 'bad_signature' },
    { case: 'a WECHATPAY/SIGNTEST/ probe', change: { signature: 'WECHATPAY/SIGNTEST/c2lnbmF0dXJl' }, reason: 'probe' },
    { case: 'a serial nobody configured', change: { serial: 'PUB_KEY_ID_0114232134912410000000000000' }, reason: 'unknown_serial' },
    { case: 'a serial that names an Object.prototype member', change: { serial: '__proto__' }, reason: 'unknown_serial' },
    { case: 'no Wechatpay-Signature header', change: { signature: undefined }, reason: 'missing_header' },
    { case: 'no Wechatpay-Timestamp header', change: { timestamp: undefined }, reason: 'missing_header' },
    { case: 'a timestamp that is not digits', change: { timestamp: '1624523846.0' }, reason: 'stale_timestamp' },
  ])('refuses $case: $reason (V5 altered)', ({ change, reason }) => {
    expect(verifyPayV3Signature({ ...message, ...change }, { publicKeys: V5_KEYS, nowMs: V5_NOW_MS })).toEqual({ ok: false, reason });
  });

  it('refuses the V5 notify under another key registered for its serial', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(verifyPayV3Signature(message, { publicKeys: new Map([[V5_HEADERS.serial, other]]), nowMs: V5_NOW_MS })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('verifies an empty body (a 204 answer) as `timestamp\\nnonce\\n\\n`', () => {
    const signature = rsaSha256Sign('1624523846\nnonce0001\n\n', V1_KEY);
    const result = verifyPayV3Signature({ timestamp: '1624523846', nonce: 'nonce0001', signature, serial: V5_HEADERS.serial, body: '' }, { publicKeys: V5_KEYS, nowMs: V5_NOW_MS });
    expect(result.ok).toBe(true);
  });
});

describe('AEAD_AES_256_GCM', () => {
  it('decrypts the wechatpay-java AeadAesCipherTest vector (V4)', () => {
    expect(decryptAeadAesGcm({ key: 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb', nonce: 'uluk4a9R25RW', associatedData: 'associatedData', ciphertext: 'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=' }))
      .toBe('message');
  });

  it.each([
    { case: 'hello + AAD world', plaintext: 'hello', associatedData: 'world', ciphertext: 'APoZlYpivU3HjbAiB4CvW1rAFr8J' },
    { case: 'empty plaintext and AAD', plaintext: '', associatedData: '', ciphertext: 'GvpmmdtYwexXIPhySs9Tlg==' },
  ])('round-trips the wechatpay-axios-plugin tests/lib/aes.test.js vector ($case), 16-byte IV (V4)', ({ plaintext, associatedData, ciphertext }) => {
    const params = { key: '0123456789abcdef0123456789abcdef', nonce: '0123456789abcdef', associatedData };
    expect(encryptAeadAesGcm({ ...params, plaintext })).toBe(ciphertext);
    expect(decryptAeadAesGcm({ ...params, ciphertext })).toBe(plaintext);
  });

  it('decrypts the V5 notify resource with the 16-byte test key as AES-128-GCM (V5)', () => {
    const { resource } = JSON.parse(V5_BODY) as { resource: { ciphertext: string; nonce: string; associated_data: string } };
    expect(decryptAeadAesGcm({ key: V5_API_V3_KEY, nonce: resource.nonce, associatedData: resource.associated_data, ciphertext: resource.ciphertext })).toBe(V5_PLAINTEXT);
  });

  it.each([
    { case: 'the wrong APIv3 key', change: { key: 'b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb' } },
    { case: 'other associated data', change: { associatedData: 'certificate' } },
    { case: 'another nonce', change: { nonce: 'uluk4a9R25RX' } },
    { case: 'a tampered ciphertext', change: { ciphertext: 'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwA=' } },
    { case: 'a ciphertext shorter than its tag', change: { ciphertext: 'AAAA' } },
    { case: 'a ciphertext that is not base64', change: { ciphertext: '%%%' } },
  ])('refuses $case with a CryptoError (V4 altered)', ({ change }) => {
    const input = { key: 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb', nonce: 'uluk4a9R25RW', associatedData: 'associatedData', ciphertext: 'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=', ...change };
    expect(() => decryptAeadAesGcm(input)).toThrow(CryptoError);
  });

  it('refuses a key of another length, naming the length and not the key', () => {
    expect(() => decryptAeadAesGcm({ key: 'short-key', nonce: 'n', associatedData: '', ciphertext: 'GvpmmdtYwexXIPhySs9Tlg==' }))
      .toThrow('the APIv3 key must be 32 bytes (got 9)');
  });
});

describe('sensitive fields (RSA-OAEP SHA-1)', () => {
  it('round-trips a UTF-8 name through the V1 key pair into a 256-byte ciphertext (V6)', () => {
    const ciphertext = encryptPayV3SensitiveField('张三', V1_PUBLIC);

    expect(Buffer.from(ciphertext, 'base64')).toHaveLength(256);
    expect(decryptPayV3SensitiveField(ciphertext, V1_KEY)).toBe('张三');
  });

  it('is randomised: the same name never gives the same ciphertext twice (V6)', () => {
    expect(encryptPayV3SensitiveField('张三', V1_PUBLIC)).not.toBe(encryptPayV3SensitiveField('张三', V1_PUBLIC));
  });

  it('encrypts for a public key given as PEM text', () => {
    const pem = V1_PUBLIC.export({ type: 'spki', format: 'pem' }).toString();
    expect(decryptPayV3SensitiveField(encryptPayV3SensitiveField('李四', pem), V1_KEY)).toBe('李四');
  });

  it.each([
    { case: 'a private key given as the public key', key: (): string | KeyObject => V1_PRIVATE_KEY_PEM },
    { case: 'a private KeyObject given as the public key', key: (): string | KeyObject => V1_KEY },
  ])('refuses $case instead of quietly deriving its public half', ({ key }) => {
    expect(() => encryptPayV3SensitiveField('张三', key())).toThrow(InputError);
  });

  it('refuses a name longer than OAEP can carry under a 2048-bit key (214 bytes)', () => {
    expect(() => encryptPayV3SensitiveField('名'.repeat(72), V1_PUBLIC)).toThrow(/214 UTF-8 bytes/);
  });

  it('refuses to decrypt with a key that did not encrypt', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(() => decryptPayV3SensitiveField(encryptPayV3SensitiveField('张三', V1_PUBLIC), other)).toThrow(CryptoError);
  });
});
