/**
 * APIv3 key material: checked whenever it is stored or loaded, so a wrong key, a key of another
 * certificate, a serial that is not the certificate's, WeChat's key mixed up with the merchant's
 * or PEM files in the wrong places get a clear ConfigError naming each problem — and never the
 * secret itself.
 */
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { envReader } from '../../../shared/config';
import { ConfigError } from '../../../shared/errors';
import { createLogger } from '../../../shared/log';
import {
  certificateSerialNo, checkPayV3Keys, loadPayV3Keys, payV3KeyValuesFromEnv, payV3KeysFrom, storePayV3Keys, type PayV3KeyValues,
} from '../../../shared/pay/v3/keys';
import type { DocumentStore, StoredDoc } from '../../../shared/store/port';
import { v3Material, type V3Material } from '../paysandbox/v3-support';
import { API_V3_KEY, BASE_MS, MCH_ID, keyValues } from './support';

let material: V3Material;

beforeAll(async () => {
  material = await v3Material();
});

const check = (overrides: PayV3KeyValues, nowMs = BASE_MS) => checkPayV3Keys(keyValues(material, overrides), MCH_ID, 'env', nowMs);

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** A store of one collection in memory: what storePayV3Keys writes and loadPayV3Keys reads. */
function memoryStore(): DocumentStore & { docs: Map<string, StoredDoc & Record<string, unknown>> } {
  const docs = new Map<string, StoredDoc & Record<string, unknown>>();
  return {
    docs,
    get: async (collection: string, id: string) => (collection === 'pay_v3_keys' ? (docs.get(id) ?? null) : null),
    put: async (collection: string, doc: StoredDoc & Record<string, unknown>) => {
      if (collection === 'pay_v3_keys') docs.set(doc._id, doc);
    },
  } as unknown as DocumentStore & { docs: Map<string, StoredDoc & Record<string, unknown>> };
}

describe('checkPayV3Keys', () => {
  it('parses the certificate pair, the APIv3 key and WeChat\'s public key', () => {
    const keys = check({});

    expect(keys).toMatchObject({ mchId: MCH_ID, merchantSerialNo: material.merchantSerial.toUpperCase(), apiV3Key: API_V3_KEY, source: 'env' });
    expect([...keys.verifyingKeys.keys()]).toEqual([material.wechat.publicKeyId]);
    expect(keys.encryptionKey.serial).toBe(material.wechat.publicKeyId);
  });

  it('accepts PEM with escaped newlines, as cloudbaserc.json renders environment values', () => {
    const escaped = (pem: string): string => pem.replaceAll('\n', '\\n');
    expect(() => check({ merchantKeyPem: escaped(material.certs.main.merchantKeyPem), publicKeyPem: escaped(material.wechat.publicKeyPem) })).not.toThrow();
  });

  it('takes both WeChat keys during a migration, and prefers the public key for user_name', () => {
    const keys = check({ platformCertPems: material.wechat.platformCertPem });

    expect([...keys.verifyingKeys.keys()].sort()).toEqual([material.platformSerial, material.wechat.publicKeyId].sort());
    expect(keys.encryptionKey.serial).toBe(material.wechat.publicKeyId);
  });

  it('accepts a serial without the certificate, when it looks like one', () => {
    expect(check({ merchantCertPem: undefined, merchantSerialNo: material.merchantSerial.toLowerCase() }).merchantSerialNo).toBe(material.merchantSerial.toUpperCase());
  });

  it.each([
    { case: 'nothing of WeChat\'s', change: (): PayV3KeyValues => ({ publicKeyId: undefined, publicKeyPem: undefined }), problem: /no WeChat Pay key to verify responses and notifies/ },
    { case: 'no APIv3 key', change: (): PayV3KeyValues => ({ apiV3Key: undefined }), problem: /the APIv3 key .* is missing/ },
    { case: 'an APIv3 key of 31 characters', change: (): PayV3KeyValues => ({ apiV3Key: API_V3_KEY.slice(1) }), problem: /must be 32 characters without spaces \(got 31\)/ },
    { case: 'the certificate given as the private key', change: (m: V3Material): PayV3KeyValues => ({ merchantKeyPem: m.certs.main.merchantCertPem }), problem: /merchant private key .* holds a certificate, not the private key/ },
    { case: 'the p12 given as the private key', change: (m: V3Material): PayV3KeyValues => ({ merchantKeyPem: m.certs.main.merchantP12Base64 }), problem: /looks like base64 \(a p12\?\), not PEM/ },
    { case: 'the private key given as the certificate', change: (m: V3Material): PayV3KeyValues => ({ merchantCertPem: m.certs.main.merchantKeyPem }), problem: /merchant certificate .* holds a private key/ },
    { case: 'the key of another certificate', change: (m: V3Material): PayV3KeyValues => ({ merchantKeyPem: m.certs.other.merchantKeyPem }), problem: /does not belong to the merchant certificate/ },
    { case: 'a serial that is not the certificate\'s', change: (): PayV3KeyValues => ({ merchantSerialNo: 'ABCDEF0123456789' }), problem: /is not the serial of the merchant certificate .*, which is / },
    { case: 'the public key id given as the merchant serial', change: (m: V3Material): PayV3KeyValues => ({ merchantCertPem: undefined, merchantSerialNo: m.wechat.publicKeyId }), problem: /is a WeChat Pay public key id/ },
    { case: 'the certificate of another merchant', change: (m: V3Material): PayV3KeyValues => ({ merchantKeyPem: m.certs.other.merchantKeyPem, merchantCertPem: m.certs.other.merchantCertPem }), problem: /belongs to merchant 1900000110, not 1900000109/ },
    { case: 'neither the certificate nor a serial', change: (): PayV3KeyValues => ({ merchantCertPem: undefined }), problem: /give the merchant certificate .* or the merchant certificate serial/ },
    { case: 'a public key id without its key', change: (): PayV3KeyValues => ({ publicKeyPem: undefined }), problem: /go together: give both or neither/ },
    { case: 'a platform serial given as the public key id', change: (m: V3Material): PayV3KeyValues => ({ publicKeyId: m.platformSerial }), problem: /looks like a certificate serial/ },
    { case: 'the platform certificate given as the public key', change: (m: V3Material): PayV3KeyValues => ({ publicKeyPem: m.wechat.platformCertPem }), problem: /holds a certificate: a platform certificate goes in/ },
    { case: 'WeChat\'s private key given as its public key', change: (m: V3Material): PayV3KeyValues => ({ publicKeyPem: m.wechat.privateKeyPem }), problem: /holds a private key, not WeChat Pay's public key/ },
    { case: 'the merchant\'s own public key given as WeChat\'s', change: (m: V3Material): PayV3KeyValues => ({ publicKeyPem: publicOf(m.certs.main.merchantKeyPem) }), problem: /is the public half of your own merchant key/ },
    { case: 'the merchant certificate given as a platform certificate', change: (m: V3Material): PayV3KeyValues => ({ platformCertPems: m.certs.main.merchantCertPem }), problem: /#1 is your merchant API certificate/ },
    { case: 'a public key given as the platform certificates', change: (m: V3Material): PayV3KeyValues => ({ platformCertPems: m.wechat.publicKeyPem }), problem: /holds a public key, not PEM certificates/ },
    { case: 'an encrypted private key', change: (): PayV3KeyValues => ({ merchantKeyPem: encryptedKey() }), problem: /is an encrypted private key/ },
    { case: 'a 1024-bit key', change: (): PayV3KeyValues => ({ merchantCertPem: undefined, merchantSerialNo: 'ABCDEF0123456789', merchantKeyPem: rsaKey(1024) }), problem: /RSA key of at least 2048 bits/ },
  ])('refuses $case', ({ change, problem }) => {
    const problems = problemsOf(() => check(change(material)));
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(problem)]));
    expect(problems.every((text) => text.startsWith('env: '))).toBe(true);
  });

  it('refuses an expired platform certificate and an expired merchant certificate', () => {
    const afterBoth = Math.max(...[material.certs.main.merchantCertPem, material.wechat.platformCertPem].map((pem) => Date.parse(new X509Certificate(pem).validTo))) + 1;
    const problems = problemsOf(() => check({ platformCertPems: material.wechat.platformCertPem }, afterBoth));

    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/merchant certificate .* expired on/), expect.stringMatching(/platform certificates .* #1 .* expired on/)]));
  });

  it('names every problem at once', () => {
    expect(problemsOf(() => check({ apiV3Key: 'short', publicKeyPem: undefined, merchantSerialNo: 'ZZ' }))).toHaveLength(3);
  });

  it('never puts a key in a problem, and masks it in any log line', () => {
    const lines: string[] = [];
    const log = createLogger({}, { write: (line) => lines.push(line) });
    const keyBody = material.certs.main.merchantKeyPem;
    const problems = problemsOf(() => check({ merchantCertPem: material.certs.other.merchantCertPem, apiV3Key: `${API_V3_KEY.slice(0, 31)} ` }));
    log.error('keys refused', { detail: `${problems.join(' ')} ${keyBody} ${API_V3_KEY}` });

    expect(problems.join('\n')).not.toContain(API_V3_KEY);
    expect(problems.join('\n')).not.toMatch(/PRIVATE KEY-----/);
    expect(lines.join('\n')).not.toContain(keyBody.split('\n')[1]!);
    expect(lines.join('\n')).not.toContain(API_V3_KEY);
  });
});

describe('from the environment or the database', () => {
  it('reads the PAY_V3_* variables, and gives undefined when none is set (then the database is asked)', () => {
    const env = {
      PAY_V3_MCH_KEY_PEM: material.certs.main.merchantKeyPem,
      PAY_V3_MCH_CERT_PEM: material.certs.main.merchantCertPem,
      PAY_V3_API_KEY: API_V3_KEY,
      PAY_V3_PUBLIC_KEY_ID: material.wechat.publicKeyId,
      PAY_V3_PUBLIC_KEY_PEM: material.wechat.publicKeyPem,
    };
    const values = payV3KeyValuesFromEnv(envReader(env));

    expect(payV3KeysFrom(values, MCH_ID, 'PAY_V3_*', BASE_MS)?.merchantSerialNo).toBe(certificateSerialNo(material.certs.main.merchantCertPem));
    expect(payV3KeysFrom(payV3KeyValuesFromEnv(envReader({ PAY_V3_API_KEY: '' })), MCH_ID, 'PAY_V3_*', BASE_MS)).toBeUndefined();
  });

  it('stores checked keys in pay_v3_keys and loads them back checked', async () => {
    const store = memoryStore();
    await storePayV3Keys(store, MCH_ID, keyValues(material), BASE_MS);
    const loaded = await loadPayV3Keys(store, MCH_ID, BASE_MS);

    expect(store.docs.get(MCH_ID)).toMatchObject({ _id: MCH_ID, apiV3Key: API_V3_KEY, publicKeyId: material.wechat.publicKeyId });
    expect(loaded).toMatchObject({ merchantSerialNo: material.merchantSerial.toUpperCase(), source: `database pay_v3_keys/${MCH_ID}` });
  });

  it('never stores keys that do not pass the checks', async () => {
    const store = memoryStore();
    await expect(storePayV3Keys(store, MCH_ID, keyValues(material, { merchantKeyPem: material.certs.other.merchantKeyPem }), BASE_MS)).rejects.toThrow(ConfigError);
    expect(store.docs.size).toBe(0);
  });

  it('refuses a missing document, and a document edited into a broken state, when loading', async () => {
    const store = memoryStore();
    await expect(loadPayV3Keys(store, MCH_ID, BASE_MS)).rejects.toThrow(/no APIv3 keys: set the PAY_V3_MCH_KEY_PEM/);
    store.docs.set(MCH_ID, { _id: MCH_ID, ...keyValues(material), apiV3Key: 'x' } as StoredDoc & Record<string, unknown>);
    await expect(loadPayV3Keys(store, MCH_ID, BASE_MS)).rejects.toThrow(/database pay_v3_keys\/1900000109: the APIv3 key/);
  });
});

function publicOf(privateKeyPem: string): string {
  return createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
}

function rsaKey(bits: number): string {
  return generateKeyPairSync('rsa', { modulusLength: bits }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function encryptedKey(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }).toString();
}
