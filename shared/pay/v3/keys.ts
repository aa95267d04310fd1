/**
 * The APIv3 key material of one merchant (reference/pay-v3-transfer.md §4, §6 "Keys"): the merchant
 * API private key and its certificate serial (requests are signed with them), the APIv3 key
 * (notify resources are encrypted with it), and WeChat Pay's side — the 微信支付公钥 with its
 * `PUB_KEY_ID_…` id and/or platform certificates — that responses and notifies are verified with
 * and `user_name` is encrypted for. It comes from the environment or the database (never a file
 * path), is checked whenever it is stored or loaded, and only ever reaches logs masked.
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { EnvReader } from '../../config';
import { ConfigError } from '../../errors';
import { registerSecret } from '../../log';
import { COLLECTIONS, type DocumentStore, type StoredDoc } from '../../store/port';

/** The raw settings, as the environment or a `pay_v3_keys` document gives them (PEM text may carry literal `\n`). */
export interface PayV3KeyValues {
  /** apiclient_key.pem: the merchant API private key. */
  merchantKeyPem?: string | undefined;
  /** apiclient_cert.pem: gives the serial and proves the key belongs to it. Recommended. */
  merchantCertPem?: string | undefined;
  /** The merchant API certificate serial, when the certificate is not given. */
  merchantSerialNo?: string | undefined;
  /** The APIv3 key (32 characters, set in 商户平台 → API安全). */
  apiV3Key?: string | undefined;
  /** `PUB_KEY_ID_…`, the id of WeChat Pay's public key. */
  publicKeyId?: string | undefined;
  /** pub_key.pem: WeChat Pay's public key. */
  publicKeyPem?: string | undefined;
  /** One or more WeChat Pay platform certificates, PEM, concatenated. */
  platformCertPems?: string | undefined;
}

/** A `pay_v3_keys` document (`_id` = mch_id). */
export interface PayV3KeyDoc extends StoredDoc, PayV3KeyValues {}

/** A WeChat Pay key the merchant encrypts for and names in `Wechatpay-Serial`. */
export interface WechatPayKey {
  /** `PUB_KEY_ID_…` or a platform certificate serial. */
  readonly serial: string;
  readonly publicKey: KeyObject;
}

/** Checked key material, parsed once: what the APIv3 client and the notify parser take. */
export interface PayV3Keys {
  readonly mchId: string;
  /** Upper-case hex, as WeChat prints it. */
  readonly merchantSerialNo: string;
  readonly merchantPrivateKey: KeyObject;
  readonly apiV3Key: string;
  /** Every WeChat Pay key responses and notifies may be signed with, by `Wechatpay-Serial`. */
  readonly verifyingKeys: ReadonlyMap<string, KeyObject>;
  /** The key `user_name` is encrypted for (the public key when configured, else the newest platform certificate). */
  readonly encryptionKey: WechatPayKey;
  /** Where the material came from, for messages. */
  readonly source: string;
}

/** The environment variables {@link payV3KeyValuesFromEnv} reads. */
export const PAY_V3_KEY_ENV = {
  merchantKeyPem: 'PAY_V3_MCH_KEY_PEM',
  merchantCertPem: 'PAY_V3_MCH_CERT_PEM',
  merchantSerialNo: 'PAY_V3_MCH_SERIAL_NO',
  apiV3Key: 'PAY_V3_API_KEY',
  publicKeyId: 'PAY_V3_PUBLIC_KEY_ID',
  publicKeyPem: 'PAY_V3_PUBLIC_KEY_PEM',
  platformCertPems: 'PAY_V3_PLATFORM_CERTS_PEM',
} as const satisfies Record<keyof PayV3KeyValues, string>;

const FIELD_NAMES: Readonly<Record<keyof PayV3KeyValues, string>> = {
  merchantKeyPem: 'the merchant private key (merchantKeyPem / PAY_V3_MCH_KEY_PEM, apiclient_key.pem)',
  merchantCertPem: 'the merchant certificate (merchantCertPem / PAY_V3_MCH_CERT_PEM, apiclient_cert.pem)',
  merchantSerialNo: 'the merchant certificate serial (merchantSerialNo / PAY_V3_MCH_SERIAL_NO)',
  apiV3Key: 'the APIv3 key (apiV3Key / PAY_V3_API_KEY)',
  publicKeyId: 'the WeChat Pay public key id (publicKeyId / PAY_V3_PUBLIC_KEY_ID)',
  publicKeyPem: 'the WeChat Pay public key (publicKeyPem / PAY_V3_PUBLIC_KEY_PEM, pub_key.pem)',
  platformCertPems: 'the platform certificates (platformCertPems / PAY_V3_PLATFORM_CERTS_PEM)',
};
const VALUE_KEYS = Object.keys(FIELD_NAMES) as Array<keyof PayV3KeyValues>;

// WeChat's merchant serials are 40 hex digits; shorter ones appear in SDK tests (F5765756002FDD77).
const SERIAL_PATTERN = /^[0-9A-Fa-f]{8,40}$/;
// reference §4.4: `PUB_KEY_ID_` + digits (the IM sample has 28).
const PUBLIC_KEY_ID_PATTERN = /^PUB_KEY_ID_[0-9A-Za-z]{8,64}$/;
const API_V3_KEY_PATTERN = /^[\x21-\x7e]{32}$/;
const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const BASE64_ONLY = /^[A-Za-z0-9+/\s]+={0,2}\s*$/;
const MIN_RSA_BITS = 2048;

type PemKind = 'certificate' | 'private' | 'encrypted' | 'public' | 'p12' | 'unknown';

/** The values from the environment (see {@link PAY_V3_KEY_ENV}); pass them to {@link payV3KeysFrom}. */
export function payV3KeyValuesFromEnv(reader: EnvReader): PayV3KeyValues {
  return Object.fromEntries(VALUE_KEYS.map((key) => [key, reader.optionalString(PAY_V3_KEY_ENV[key])])) as PayV3KeyValues;
}

/**
 * The checked keys described by `values`, or undefined when none is given (then the database
 * is asked). Anything wrong — a missing piece, a PEM in the wrong place, a key of another
 * certificate, a serial that is not the certificate's, WeChat's key mixed up with the
 * merchant's — is one ConfigError naming every problem, never echoing a secret.
 */
export function payV3KeysFrom(values: PayV3KeyValues, mchId: string, source: string, nowMs: number): PayV3Keys | undefined {
  if (VALUE_KEYS.every((key) => !present(values[key]))) return undefined;
  return checkPayV3Keys(values, mchId, source, nowMs);
}

/** Reads `pay_v3_keys/<mchId>` and checks it; a missing document or a broken one is a ConfigError. */
export async function loadPayV3Keys(store: DocumentStore, mchId: string, nowMs: number): Promise<PayV3Keys> {
  const source = `database ${COLLECTIONS.payV3Keys}/${mchId}`;
  const doc = await store.get<PayV3KeyDoc>(COLLECTIONS.payV3Keys, mchId);
  if (doc === null) {
    throw new ConfigError([`no APIv3 keys: set the ${Object.values(PAY_V3_KEY_ENV).join(', ')} variables, or store them in ${source}`]);
  }
  return checkPayV3Keys(pickValues(doc), mchId, source, nowMs);
}

/** Checks `values` and, only when they pass, writes them to `pay_v3_keys/<mchId>`: a broken key is never stored. */
export async function storePayV3Keys(store: DocumentStore, mchId: string, values: PayV3KeyValues, nowMs: number): Promise<PayV3Keys> {
  const keys = checkPayV3Keys(values, mchId, 'the given APIv3 keys', nowMs);
  const doc: Record<string, string> = {};
  for (const key of VALUE_KEYS) {
    const value = values[key];
    if (present(value)) doc[key] = normalizePem(value);
  }
  await store.put(COLLECTIONS.payV3Keys, { _id: mchId, ...doc });
  return keys;
}

/** The serial of a certificate in the upper-case hex WeChat prints (`openssl x509 -noout -serial`). */
export function certificateSerialNo(certPem: string): string {
  return new X509Certificate(normalizePem(certPem)).serialNumber.toUpperCase();
}

/** The checks behind {@link payV3KeysFrom}; every problem is collected before one ConfigError is thrown. */
export function checkPayV3Keys(values: PayV3KeyValues, mchId: string, source: string, nowMs: number): PayV3Keys {
  const problems: string[] = [];
  const problem = (text: string): void => {
    problems.push(`${source}: ${text}`);
  };
  const text = Object.fromEntries(VALUE_KEYS.map((key) => [key, present(values[key]) ? normalizePem(values[key]!) : undefined])) as PayV3KeyValues;
  registerSecret(values.merchantKeyPem);
  registerSecret(text.merchantKeyPem);
  registerSecret(values.apiV3Key);

  const merchantKey = readMerchantKey(text.merchantKeyPem, problem);
  const merchantPublic = merchantKey === undefined ? undefined : createPublicKey(merchantKey);
  const merchantSerialNo = readMerchantSerial(text, mchId, merchantPublic, nowMs, problem);

  const apiV3Key = text.apiV3Key;
  if (apiV3Key === undefined) problem(`${FIELD_NAMES.apiV3Key} is missing`);
  else if (!API_V3_KEY_PATTERN.test(apiV3Key)) problem(`${FIELD_NAMES.apiV3Key} must be 32 characters without spaces (got ${apiV3Key.length})`);

  const verifyingKeys = new Map<string, KeyObject>();
  const publicKey = readPublicKey(text, merchantPublic, problem);
  if (publicKey !== undefined) verifyingKeys.set(publicKey.serial, publicKey.publicKey);
  const platform = readPlatformCertificates(text.platformCertPems, merchantSerialNo, merchantPublic, nowMs, problem);
  for (const certificate of platform) verifyingKeys.set(certificate.serial, certificate.publicKey);
  if (publicKey === undefined && platform.length === 0 && problems.length === 0) {
    problem(`no WeChat Pay key to verify responses and notifies with: give ${FIELD_NAMES.publicKeyId} and ${FIELD_NAMES.publicKeyPem}, or ${FIELD_NAMES.platformCertPems}`);
  }
  if (merchantSerialNo !== undefined && [...verifyingKeys.keys()].some((serial) => serial.toUpperCase() === merchantSerialNo)) {
    problem(`${FIELD_NAMES.merchantSerialNo} is also given as a WeChat Pay key: the merchant serial names your certificate, Wechatpay-Serial names WeChat's key`);
  }
  const encryptionKey = publicKey ?? [...platform].sort((a, b) => b.validToMs - a.validToMs)[0];
  if (problems.length > 0 || merchantKey === undefined || merchantSerialNo === undefined || apiV3Key === undefined || encryptionKey === undefined) {
    throw new ConfigError(problems.length > 0 ? problems : [`${source}: the APIv3 keys are incomplete`]);
  }
  return {
    mchId,
    merchantSerialNo,
    merchantPrivateKey: merchantKey,
    apiV3Key,
    verifyingKeys,
    encryptionKey: { serial: encryptionKey.serial, publicKey: encryptionKey.publicKey },
    source,
  };
}

function readMerchantKey(pem: string | undefined, problem: (text: string) => void): KeyObject | undefined {
  const name = FIELD_NAMES.merchantKeyPem;
  if (pem === undefined) {
    problem(`${name} is missing`);
    return undefined;
  }
  const kind = pemKind(pem);
  if (kind !== 'private') {
    problem(`${name} ${misplacedKind(kind, 'the private key')}`);
    return undefined;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    problem(`${name} is not a readable PEM private key`);
    return undefined;
  }
  if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
    problem(`${name} must be an RSA key of at least ${MIN_RSA_BITS} bits, as WeChat Pay issues them`);
    return undefined;
  }
  return key;
}

function readMerchantSerial(
  text: PayV3KeyValues,
  mchId: string,
  merchantPublic: KeyObject | undefined,
  nowMs: number,
  problem: (text: string) => void,
): string | undefined {
  const given = text.merchantSerialNo;
  if (given !== undefined && /^PUB_KEY_ID_/.test(given)) {
    problem(`${FIELD_NAMES.merchantSerialNo} is a WeChat Pay public key id (PUB_KEY_ID_…), not the serial of your merchant API certificate`);
    return undefined;
  }
  if (given !== undefined && !SERIAL_PATTERN.test(given)) {
    problem(`${FIELD_NAMES.merchantSerialNo} must be the hex serial of the merchant API certificate (商户API证书序列号)`);
    return undefined;
  }
  const certPem = text.merchantCertPem;
  if (certPem === undefined) {
    if (given === undefined) problem(`give ${FIELD_NAMES.merchantCertPem} (recommended: it proves the key belongs to it) or ${FIELD_NAMES.merchantSerialNo}`);
    return given?.toUpperCase();
  }
  const certificate = readCertificate(certPem, FIELD_NAMES.merchantCertPem, problem);
  if (certificate === undefined) return undefined;
  const serial = certificate.serialNumber.toUpperCase();
  if (merchantPublic !== undefined && !sameKey(certificate.publicKey, merchantPublic)) {
    problem(`${FIELD_NAMES.merchantKeyPem} does not belong to ${FIELD_NAMES.merchantCertPem} (compare \`openssl x509 -noout -modulus\` with \`openssl rsa -noout -modulus\`)`);
  }
  if (given !== undefined && given.toUpperCase() !== serial) {
    problem(`${FIELD_NAMES.merchantSerialNo} is not the serial of ${FIELD_NAMES.merchantCertPem}, which is ${serial}`);
  }
  const commonName = /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1];
  if (commonName !== undefined && /^[0-9]+$/.test(commonName) && commonName !== mchId) {
    problem(`${FIELD_NAMES.merchantCertPem} belongs to merchant ${commonName}, not ${mchId}`);
  }
  if (Date.parse(certificate.validTo) <= nowMs) problem(`${FIELD_NAMES.merchantCertPem} expired on ${certificate.validTo}: renew it in 商户平台 → API安全`);
  return serial;
}

function readPublicKey(text: PayV3KeyValues, merchantPublic: KeyObject | undefined, problem: (text: string) => void): (WechatPayKey & { validToMs: number }) | undefined {
  const { publicKeyId: id, publicKeyPem: pem } = text;
  if (id === undefined && pem === undefined) return undefined;
  if (id === undefined || pem === undefined) {
    problem(`${FIELD_NAMES.publicKeyId} and ${FIELD_NAMES.publicKeyPem} go together: give both or neither`);
    return undefined;
  }
  let ok = true;
  if (!PUBLIC_KEY_ID_PATTERN.test(id)) {
    problem(SERIAL_PATTERN.test(id)
      ? `${FIELD_NAMES.publicKeyId} looks like a certificate serial: a platform certificate goes in ${FIELD_NAMES.platformCertPems}, the public key id starts with PUB_KEY_ID_`
      : `${FIELD_NAMES.publicKeyId} must start with PUB_KEY_ID_ (商户平台 → API安全 → 微信支付公钥)`);
    ok = false;
  }
  const kind = pemKind(pem);
  if (kind !== 'public') {
    problem(kind === 'certificate'
      ? `${FIELD_NAMES.publicKeyPem} holds a certificate: a platform certificate goes in ${FIELD_NAMES.platformCertPems}`
      : `${FIELD_NAMES.publicKeyPem} ${misplacedKind(kind, "WeChat Pay's public key")}`);
    return undefined;
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(pem);
  } catch {
    problem(`${FIELD_NAMES.publicKeyPem} is not a readable PEM public key`);
    return undefined;
  }
  if (merchantPublic !== undefined && sameKey(publicKey, merchantPublic)) {
    problem(`${FIELD_NAMES.publicKeyPem} is the public half of your own merchant key, not WeChat Pay's public key`);
    return undefined;
  }
  return ok ? { serial: id, publicKey, validToMs: Number.POSITIVE_INFINITY } : undefined;
}

function readPlatformCertificates(
  pems: string | undefined,
  merchantSerialNo: string | undefined,
  merchantPublic: KeyObject | undefined,
  nowMs: number,
  problem: (text: string) => void,
): Array<WechatPayKey & { validToMs: number }> {
  if (pems === undefined) return [];
  const blocks = pems.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) {
    problem(`${FIELD_NAMES.platformCertPems} ${misplacedKind(pemKind(pems), 'PEM certificates (-----BEGIN CERTIFICATE-----)')}`);
    return [];
  }
  const found: Array<WechatPayKey & { validToMs: number }> = [];
  blocks.forEach((block, index) => {
    const name = `${FIELD_NAMES.platformCertPems} #${index + 1}`;
    const certificate = readCertificate(block, name, problem);
    if (certificate === undefined) return;
    const serial = certificate.serialNumber.toUpperCase();
    if (serial === merchantSerialNo || (merchantPublic !== undefined && sameKey(certificate.publicKey, merchantPublic))) {
      problem(`${name} is your merchant API certificate, not a WeChat Pay platform certificate`);
      return;
    }
    const validToMs = Date.parse(certificate.validTo);
    if (validToMs <= nowMs) {
      problem(`${name} (serial ${serial}) expired on ${certificate.validTo}: remove it (WeChat no longer signs with it)`);
      return;
    }
    found.push({ serial, publicKey: certificate.publicKey, validToMs });
  });
  return found;
}

function readCertificate(pem: string, name: string, problem: (text: string) => void): X509Certificate | undefined {
  const kind = pemKind(pem);
  if (kind !== 'certificate') {
    problem(`${name} ${misplacedKind(kind, 'a PEM certificate')}`);
    return undefined;
  }
  try {
    return new X509Certificate(pem);
  } catch {
    problem(`${name} is not a readable PEM certificate`);
    return undefined;
  }
}

/** What a PEM (or not-PEM) text holds, from its armour: enough to name a mix-up. */
function pemKind(text: string): PemKind {
  if (/-----BEGIN CERTIFICATE-----/.test(text)) return 'certificate';
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) return 'encrypted';
  if (/-----BEGIN (?:RSA )?PRIVATE KEY-----/.test(text)) return 'private';
  if (/-----BEGIN (?:RSA )?PUBLIC KEY-----/.test(text)) return 'public';
  if (BASE64_ONLY.test(text)) return 'p12';
  return 'unknown';
}

function misplacedKind(kind: PemKind, expected: string): string {
  switch (kind) {
    case 'certificate':
      return `holds a certificate, not ${expected}`;
    case 'private':
      return `holds a private key, not ${expected} (a private key never belongs here)`;
    case 'encrypted':
      return `is an encrypted private key: give the unencrypted apiclient_key.pem WeChat Pay issues`;
    case 'public':
      return `holds a public key, not ${expected}`;
    case 'p12':
      return `looks like base64 (a p12?), not PEM: APIv3 needs ${expected} as PEM text`;
    default:
      return `is not PEM: expected ${expected}`;
  }
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: 'spki', format: 'der' }).equals(b.export({ type: 'spki', format: 'der' }));
}

function pickValues(doc: PayV3KeyDoc): PayV3KeyValues {
  return Object.fromEntries(VALUE_KEYS.map((key) => [key, typeof doc[key] === 'string' ? doc[key] : undefined])) as PayV3KeyValues;
}

function present(value: string | undefined): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

/** PEM from an environment variable may carry literal `\n` (cloudbaserc.json renders values into JSON strings). */
function normalizePem(value: string): string {
  const text = value.includes('\\n') ? value.replaceAll('\\n', '\n') : value;
  return text.trim();
}
