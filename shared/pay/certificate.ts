/**
 * The merchant API certificate for mutual TLS with WeChat Pay (reference/wechat-api.md §6:
 * `apiclient_cert.p12`, passphrase = mch_id, or the PEM pair). It comes from the environment
 * or the database — never a file path — and becomes one keep-alive `https.Agent` per warm
 * instance. Mistakes (wrong passphrase, PEM given as p12 and the reverse, a key of another
 * certificate) are found when the agent is built, with a ConfigError naming the setting.
 */
import https from 'node:https';
import tls from 'node:tls';
import { ConfigError } from '../errors';
import { registerSecret } from '../log';
import type { DocumentStore, StoredDoc } from '../store/port';
import { COLLECTIONS } from '../store/port';

/** A merchant certificate and where it came from (for error messages, never the material). */
export type MerchantCertificate =
  | { kind: 'p12'; p12Base64: string; passphrase: string; source: string }
  | { kind: 'pem'; certPem: string; keyPem: string; source: string };

/** A certificate stored in `pay_merchant_certs` (`_id` = mch_id), one of the two shapes. */
export interface MerchantCertDoc extends StoredDoc {
  p12Base64?: string;
  /** Defaults to the mch_id, as WeChat issues the p12. */
  passphrase?: string;
  certPem?: string;
  keyPem?: string;
}

/** Options of {@link createMerchantAgent}. */
export interface MerchantAgentOptions {
  /** Extra CA to trust for the Pay server (a local sandbox); unset in production (system CAs). */
  caPem?: string;
  /** Sockets kept per host; WeChat allows 30 sends/s by default, a few sockets carry that. */
  maxSockets?: number;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const PEM_CERT = /-----BEGIN CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/;
const WRONG_PASSPHRASE = /mac verify|bad decrypt|invalid password|wrong password/i;

/**
 * An https.Agent presenting the merchant certificate. Builds a TLS context first, so a broken
 * certificate fails here with a clear message instead of as an opaque handshake error per call.
 */
export function createMerchantAgent(certificate: MerchantCertificate, options: MerchantAgentOptions = {}): https.Agent {
  const identity = tlsIdentity(certificate);
  const ca = options.caPem === undefined ? undefined : normalizePem(options.caPem);
  try {
    tls.createSecureContext({ ...identity, ...(ca === undefined ? {} : { ca }) });
  } catch (error) {
    throw explain(certificate, error);
  }
  return new https.Agent({ ...identity, ...(ca === undefined ? {} : { ca }), keepAlive: true, maxSockets: options.maxSockets ?? 8 });
}

/** Reads a certificate from `pay_merchant_certs/<mchId>`; a missing or half-filled document is a ConfigError. */
export async function loadMerchantCertificate(store: DocumentStore, mchId: string): Promise<MerchantCertificate> {
  const source = `database ${COLLECTIONS.payMerchantCerts}/${mchId}`;
  const doc = await store.get<MerchantCertDoc>(COLLECTIONS.payMerchantCerts, mchId);
  if (doc === null) {
    throw new ConfigError([
      `no merchant certificate: set PAY_MCH_P12_BASE64 (or PAY_MCH_CERT_PEM and PAY_MCH_KEY_PEM), or store it in ${source}`,
    ]);
  }
  const certificate = certificateFrom({ p12Base64: doc.p12Base64, passphrase: doc.passphrase, certPem: doc.certPem, keyPem: doc.keyPem }, mchId, source);
  if (certificate === undefined) throw new ConfigError([`${source}: holds neither p12Base64 nor certPem and keyPem`]);
  return certificate;
}

/**
 * The certificate described by settings: the p12 or the PEM pair, exactly one of them.
 * Returns undefined when none is given (then the database is asked).
 */
export function certificateFrom(
  values: { p12Base64?: string | undefined; passphrase?: string | undefined; certPem?: string | undefined; keyPem?: string | undefined },
  mchId: string,
  source: string,
): MerchantCertificate | undefined {
  const hasP12 = Boolean(values.p12Base64);
  const hasPem = Boolean(values.certPem) || Boolean(values.keyPem);
  if (!hasP12 && !hasPem) return undefined;
  if (hasP12 && hasPem) throw new ConfigError([`${source}: give either the p12 or the PEM pair, not both`]);
  for (const secret of [values.p12Base64, values.passphrase, values.keyPem]) registerSecret(secret);
  if (hasP12) return { kind: 'p12', p12Base64: values.p12Base64!, passphrase: values.passphrase ?? mchId, source };
  if (!values.certPem || !values.keyPem) throw new ConfigError([`${source}: the PEM pair needs both the certificate and the private key`]);
  return { kind: 'pem', certPem: values.certPem, keyPem: values.keyPem, source };
}

function tlsIdentity(certificate: MerchantCertificate): { pfx: Buffer; passphrase: string } | { cert: string; key: string } {
  if (certificate.kind === 'p12') {
    const text = certificate.p12Base64.replace(/\s+/g, '');
    if (PEM_CERT.test(certificate.p12Base64) || PEM_KEY.test(certificate.p12Base64)) {
      throw new ConfigError([`${certificate.source}: holds PEM text, not a base64 p12 — give the PEM pair as the certificate and key instead`]);
    }
    if (!BASE64.test(text)) throw new ConfigError([`${certificate.source}: the p12 must be base64 (base64 -w0 apiclient_cert.p12)`]);
    return { pfx: Buffer.from(text, 'base64'), passphrase: certificate.passphrase };
  }
  const cert = normalizePem(certificate.certPem);
  const key = normalizePem(certificate.keyPem);
  const problems: string[] = [];
  if (!PEM_CERT.test(cert)) {
    problems.push(BASE64.test(cert.replace(/\s+/g, ''))
      ? `${certificate.source}: the certificate looks like a base64 p12, not PEM — give it as the p12 instead`
      : `${certificate.source}: the certificate is not PEM (-----BEGIN CERTIFICATE-----, apiclient_cert.pem)`);
  }
  if (!PEM_KEY.test(key)) problems.push(`${certificate.source}: the private key is not a PEM private key (apiclient_key.pem)`);
  if (problems.length > 0) throw new ConfigError(problems);
  return { cert, key };
}

/** PEM from an environment variable may carry literal `\n` (cloudbaserc.json renders values into JSON strings). */
function normalizePem(value: string): string {
  return value.includes('\\n') ? value.replaceAll('\\n', '\n') : value;
}

function explain(certificate: MerchantCertificate, error: unknown): ConfigError {
  const detail = error instanceof Error ? error.message : String(error);
  if (certificate.kind === 'p12') {
    if (WRONG_PASSPHRASE.test(detail)) {
      return new ConfigError([`${certificate.source}: wrong p12 passphrase (WeChat's apiclient_cert.p12 uses the mch_id; set PAY_MCH_P12_PASSPHRASE otherwise)`]);
    }
    return new ConfigError([`${certificate.source}: not a readable PKCS#12 certificate (${detail})`]);
  }
  if (/key values mismatch/i.test(detail)) {
    return new ConfigError([`${certificate.source}: the private key does not belong to the certificate`]);
  }
  return new ConfigError([`${certificate.source}: the PEM certificate or key cannot be used (${detail})`]);
}
