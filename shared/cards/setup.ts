import { envReader, readAccountConfig } from '../config';
import { createTicketReader, createTokenReader } from '../credentials/services';
import { listNames } from '../echo';
import { ConfigError, InputError } from '../errors';
import { registerSecret } from '../log';
import { cloudPlatform } from '../platform';
import type { Caller } from '../runtime';
import { createWechatHttp } from '../wechat/http';
import { REF_SIGNING_SECRET_PATTERN } from './reference';
import { CardService, MAX_CARDS_PER_CALL, type CardUser, type SignRequestItem } from './service';

/** One CardService per instance, from the function's environment and the CloudBase platform. */
export function cardServiceFromEnvironment(): CardService {
  const env = envReader(process.env);
  const config = readAccountConfig(env);
  const rateCalls = env.int('CARD_RATE_LIMIT_PER_MINUTE', { fallback: 20, min: 1, max: 10_000 });
  // signCard's: without it, cards carry the operator's tag only and ownership rests on unionid links.
  const referenceKey = env.optionalString('REF_SIGNING_SECRET');
  env.done();
  if (referenceKey !== undefined && !REF_SIGNING_SECRET_PATTERN.test(referenceKey)) throw new ConfigError(['REF_SIGNING_SECRET is malformed (32-128 printable characters)']);
  if (referenceKey !== undefined) registerSecret(referenceKey);
  const platform = cloudPlatform();
  const invoke = <T>(name: string, data: Record<string, unknown>) => platform.callFunction<T>(name, data);
  return new CardService({
    store: platform.store,
    http: createWechatHttp({ baseUrl: config.apiBaseUrl }),
    officialAppId: config.appId,
    tokens: createTokenReader(config, { store: platform.store, invoke }),
    cardTicket: createTicketReader(config, 'wx_card', { store: platform.store, invoke }),
    rateLimit: { calls: rateCalls, windowMs: 60_000 },
    ...(referenceKey === undefined ? {} : { referenceKey }),
  });
}

/** The mini-program user behind a call (identity from the platform, never from data). */
export function cardUser(caller: Caller): CardUser {
  if (caller.type !== 'miniprogram') throw new InputError('A mini-program user is required');
  return { openid: caller.openid, appid: caller.appid, ...(caller.unionid ? { unionid: caller.unionid } : {}) };
}

function text(value: unknown, field: string, pattern: RegExp, hint: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw new InputError(`${field} must be ${hint}`, field);
  return value;
}

const CARD_ID = /^p[0-9A-Za-z_-]{27}$/;

export function parseCardId(value: unknown, field = 'cardId'): string {
  return text(value, field, CARD_ID, 'a card id (p + 27 characters)');
}

/** signCard's `cards`: 1–10 items of `{ cardId, code?, outerStr? }`. */
export function parseSignItems(value: unknown): SignRequestItem[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_CARDS_PER_CALL) {
    throw new InputError(`cards must be a list of 1 to ${MAX_CARDS_PER_CALL} cards`, 'cards');
  }
  return value.map((item, index) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new InputError(`cards[${index}] must be an object`, 'cards');
    const record = item as Record<string, unknown>;
    const unknown = Object.keys(record).filter((key) => !['cardId', 'code', 'outerStr'].includes(key));
    if (unknown.length > 0) throw new InputError(`cards[${index}] has unknown field(s): ${listNames(unknown)}`, 'cards');
    return {
      cardId: parseCardId(record.cardId, `cards[${index}].cardId`),
      ...(record.code === undefined ? {} : { code: text(record.code, `cards[${index}].code`, /^[0-9A-Za-z]{1,20}$/, '1–20 letters or digits') }),
      ...(record.outerStr === undefined
        ? {}
        : { outerStr: text(record.outerStr, `cards[${index}].outerStr`, /^[0-9A-Za-z_-]{1,32}$/, '1–32 letters, digits, _ or -') }),
    };
  });
}

export function parseEncryptCode(value: unknown): string {
  return text(value, 'encryptCode', /^[0-9A-Za-z+/=_%-]{8,512}$/, 'the encrypted code from wx.addCard or the card page');
}

export function parseCode(value: unknown): string {
  return text(value, 'code', /^[0-9A-Za-z]{1,32}$/, 'the card code (1–32 letters or digits)');
}
