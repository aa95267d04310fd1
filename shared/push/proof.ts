/**
 * The proof of caller of `/wx/push/<appid>`: WeChat's push signature (reference/official-accounts.md
 * §2.2–§2.8). Nothing is read from the database beyond the account's push settings (instance memory
 * while fresh), and nothing is written, before the signature, the timestamp window and (in safe and
 * compatible mode) the decryption have succeeded.
 */
import type { PushSettings } from '../accounts/model';
import { CryptoError, ForbiddenError, NotFoundError, UnauthorizedError } from '../errors';
import type { CallerProof } from '../http/handler';
import { bodyText, type HttpRequest } from '../http/request';
import { decryptPushMessage } from '../signing/message-crypto';
import { verifyPushSignature } from '../signing/push';
import { parsePushXml, type PushFields } from './xml';

/**
 * How far a push's `timestamp` may be from our clock. WeChat documents no window (§2.8); this one
 * covers its three retries (each after a 5-second timeout, UNVERIFIED whether they keep the first
 * timestamp, so the window assumes they do) and clock skew between WeChat and CloudBase. Replays
 * inside it are caught by the inbox's dedupe key; replays outside it are refused here.
 */
export const DEFAULT_PUSH_WINDOW_SECONDS = 300;

/** Where the proof finds an account's push settings. */
export interface PushProofDeps {
  accounts: { pushSettings(appId: string): Promise<PushSettings | null> };
  timestampWindowSeconds: number;
}

/** What a verified push request proved. */
export type ProvenPush =
  | { kind: 'url-check'; appId: string; echostr: string }
  | {
      kind: 'message';
      appId: string;
      settings: PushSettings;
      /** `aes` when the push came encrypted (safe or compatible mode): the reply must then be encrypted too. */
      transport: 'plain' | 'aes';
      /** The EncodingAESKey that opened it (current or previous): replies are encrypted with the same one. */
      encodingAESKey: string | null;
      fields: PushFields;
      nonce: string;
    };

const APPID_SUBPATH = /^\/(wx[0-9a-f]{16})$/;
const TIMESTAMP = /^\d{1,12}$/;
const NONCE = /^[0-9A-Za-z]{1,64}$/;
// WeChat sends a 64-bit integer; anything printable and short is echoed, nothing that could break the text body.
const ECHOSTR = /^[\x21-\x7e]{1,128}$/;

/** The push-signature proof: one route per account, `/wx/push/<appid>`. */
export const pushSignatureProof: CallerProof<PushProofDeps, ProvenPush> = {
  name: 'push-signature',
  async verify(request, { deps, nowMs }) {
    const appId = APPID_SUBPATH.exec(request.subpath)?.[1];
    if (appId === undefined) throw new NotFoundError('Push routes are /wx/push/<appid>');
    const settings = await deps.accounts.pushSettings(appId);
    // Unknown, removed and not yet configured accounts get the same answer: nothing to learn here.
    if (settings === null) throw new UnauthorizedError('This route does not accept pushes');
    const { timestamp, nonce } = signedQuery(request);

    if (request.method === 'GET') {
      if (!verifyPushSignature({ token: settings.token, timestamp, nonce, signature: request.query.signature ?? '' })) {
        throw new UnauthorizedError('The signature does not match');
      }
      checkWindow(timestamp, nowMs, deps.timestampWindowSeconds);
      const echostr = request.query.echostr ?? '';
      if (!ECHOSTR.test(echostr)) throw new UnauthorizedError('The URL check carries no echostr');
      return { proven: { kind: 'url-check', appId, echostr } };
    }

    const encrypted = request.query.encrypt_type === 'aes';
    if (!encrypted) {
      if (request.query.encrypt_type !== undefined && request.query.encrypt_type !== 'raw') throw new UnauthorizedError('Unknown encrypt_type');
      // WeChat encrypts every push of a safe or compatible account; a plain one is not from WeChat.
      if (settings.mode !== 'plain') throw new UnauthorizedError('This account receives encrypted pushes only');
      if (!verifyPushSignature({ token: settings.token, timestamp, nonce, signature: request.query.signature ?? '' })) {
        throw new UnauthorizedError('The signature does not match');
      }
      checkWindow(timestamp, nowMs, deps.timestampWindowSeconds);
      const fields = parsePushXml(bodyText(request));
      return { proven: { kind: 'message', appId, settings, transport: 'plain', encodingAESKey: null, fields, nonce } };
    }

    const msgSignature = request.query.msg_signature;
    if (msgSignature === undefined || msgSignature === '') throw new UnauthorizedError('An encrypted push carries msg_signature');
    const outer = parsePushXml(bodyText(request));
    const encrypt = outer.Encrypt;
    if (encrypt === undefined || encrypt === '') throw new UnauthorizedError('The encrypted push has no Encrypt element');
    const keys = [settings.encodingAESKey, settings.previousEncodingAESKey].filter((key): key is string => key !== null && key !== '');
    if (keys.length === 0) throw new UnauthorizedError('This account has no EncodingAESKey');
    let plain: string | undefined;
    let keyUsed: string | undefined;
    let failure: unknown;
    // During a key rotation WeChat may still encrypt with the previous key (reference §2.3). msg_signature does
    // not depend on the key, so a signature failure fails both tries alike; only decryption can differ.
    for (const key of keys) {
      try {
        plain = decryptPushMessage({ token: settings.token, encodingAESKey: key, appId, timestamp, nonce, msgSignature, encrypted: encrypt });
        keyUsed = key;
        break;
      } catch (error) {
        failure = error;
        if (!(error instanceof CryptoError)) break;
      }
    }
    if (plain === undefined || keyUsed === undefined) throw failure;
    checkWindow(timestamp, nowMs, deps.timestampWindowSeconds);
    const fields = parsePushXml(plain);
    // The outer ToUserName is WeChat's routing hint; the encrypted one is what was signed.
    if (outer.ToUserName !== undefined && fields.ToUserName !== undefined && outer.ToUserName !== fields.ToUserName) {
      throw new UnauthorizedError('The push names two different accounts');
    }
    return { proven: { kind: 'message', appId, settings, transport: 'aes', encodingAESKey: keyUsed, fields, nonce } };
  },
};

/** The account a message is addressed to must be the route's: an account's token cannot speak for another. */
export function checkAddressee(proven: Extract<ProvenPush, { kind: 'message' }>): void {
  const addressee = proven.fields.ToUserName;
  if (proven.settings.originalId !== null && addressee !== proven.settings.originalId) {
    throw new ForbiddenError('The push is addressed to another account');
  }
}

function signedQuery(request: HttpRequest): { timestamp: string; nonce: string } {
  const { timestamp, nonce } = request.query;
  if (timestamp === undefined || !TIMESTAMP.test(timestamp) || nonce === undefined || !NONCE.test(nonce)) {
    throw new UnauthorizedError('The push is not signed');
  }
  return { timestamp, nonce };
}

function checkWindow(timestamp: string, nowMs: number, windowSeconds: number): void {
  const skewSeconds = Math.abs(Math.floor(nowMs / 1000) - Number(timestamp));
  if (skewSeconds > windowSeconds) throw new UnauthorizedError('The push timestamp is outside the accepted window');
}
