import { AppError } from '../../../shared/errors';
import {
  bizRedPacketParams,
  buildCardExt,
  buildEncryptedReply,
  cardExtSignature,
  createNonce,
  decryptMessage,
  decryptPushMessage,
  encryptMessage,
  jsapiSignature,
  parsePayXml,
  payV2Sign,
  pushSignature,
  safeEqual,
  signedPayXml,
  toPayXml,
  verifyPayReplySign,
  verifyPushSignature,
} from '../../../shared/signing/index';

const API_KEY = '192006250b4c09247ec02edce69f6a2d';
const CARD_TICKET = 'ojZ8YtyVyr30HheH3CM73y7h4jJE';
const JSAPI_TICKET = 'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg';
const TOKEN = 'Tok3nS3cretValue';
const AES_KEY = 'kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR';
const SECRETS = [API_KEY, CARD_TICKET, JSAPI_TICKET, TOKEN, AES_KEY];
// The strings that get hashed; each contains a secret, listed whole for clarity.
const SIGNING_STRINGS = [
  `appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=${API_KEY}`,
  `jsapi_ticket=${JSAPI_TICKET}&noncestr=Wm3WZYTPz0wzccnW&timestamp=1414587457&url=http://mp.weixin.qq.com?params=value`,
  `1404896688jonyqinjonyqin_1434008071${CARD_TICKET}pjZ8Yt1XGILfi-FUsewpnnolGgZk`,
];

/** Every 12-character window of every secret: a partial leak is still a leak. */
const FORBIDDEN = [
  ...SIGNING_STRINGS,
  ...SECRETS.flatMap((secret) => Array.from({ length: secret.length - 11 }, (_, start) => secret.slice(start, start + 12))),
];

const PAY = { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', device_info: '1000', body: 'test', nonce_str: 'ibuaiVcKdpRxkhJA' };
const CARD = { apiTicket: CARD_TICKET, cardId: 'pjZ8Yt1XGILfi-FUsewpnnolGgZk', timestamp: 1404896688, nonceStr: 'jonyqin', code: 'jonyqin_1434008071' };
const JSAPI = { jsapiTicket: JSAPI_TICKET, nonceStr: 'Wm3WZYTPz0wzccnW', timestamp: 1414587457, url: 'http://mp.weixin.qq.com?params=value' };
const CRYPTO = { encodingAESKey: AES_KEY, appId: 'wx49f0ab532d5d035a' };
const PUSH = { token: TOKEN, timestamp: '1411525903', nonce: '461056294' };

type Call = { case: string; run: () => unknown };

function succeeding(): Call[] {
  const encrypted = encryptMessage({ ...CRYPTO, xml: '<xml/>' });
  return [
    { case: 'cardExtSignature', run: () => cardExtSignature(CARD) },
    { case: 'buildCardExt', run: () => buildCardExt({ ...CARD, outerStr: 'x' }) },
    { case: 'jsapiSignature', run: () => jsapiSignature(JSAPI) },
    { case: 'payV2Sign MD5', run: () => payV2Sign(PAY, API_KEY) },
    { case: 'payV2Sign HMAC', run: () => payV2Sign(PAY, API_KEY, 'HMAC-SHA256') },
    { case: 'signedPayXml', run: () => signedPayXml(PAY, API_KEY) },
    { case: 'toPayXml', run: () => toPayXml(PAY) },
    { case: 'verifyPayReplySign', run: () => verifyPayReplySign({ ...PAY, sign: 'X' }, API_KEY) },
    { case: 'bizRedPacketParams', run: () => bizRedPacketParams({ appId: 'wx2421b1c4370ec43b', package: 'sendid=1&ver=8', apiKey: API_KEY }) },
    { case: 'pushSignature', run: () => pushSignature(PUSH) },
    { case: 'verifyPushSignature', run: () => verifyPushSignature({ ...PUSH, signature: 'x' }) },
    { case: 'encryptMessage', run: () => encryptMessage({ ...CRYPTO, xml: '<xml/>' }) },
    { case: 'decryptMessage', run: () => decryptMessage({ ...CRYPTO, encrypted }) },
    { case: 'buildEncryptedReply', run: () => buildEncryptedReply({ ...CRYPTO, ...PUSH, xml: '<xml/>' }) },
    { case: 'createNonce', run: () => createNonce() },
    { case: 'safeEqual', run: () => safeEqual(API_KEY, `${API_KEY}0`) },
  ];
}

function failing(): Call[] {
  const encrypted = encryptMessage({ ...CRYPTO, xml: '<xml/>' });
  const tampered = Buffer.from(encrypted, 'base64');
  tampered[tampered.length - 17]! ^= 0x01;
  return [
    { case: 'cardExtSignature with a spaced ticket', run: () => cardExtSignature({ ...CARD, apiTicket: `${CARD_TICKET} ` }) },
    { case: 'cardExtSignature with a long nonce', run: () => cardExtSignature({ ...CARD, nonceStr: 'x'.repeat(40) }) },
    { case: 'buildCardExt with a typo', run: () => buildCardExt({ ...CARD, openId: 'o' } as unknown as Parameters<typeof buildCardExt>[0]) },
    { case: 'jsapiSignature with an empty url', run: () => jsapiSignature({ ...JSAPI, url: '#x' }) },
    { case: 'jsapiSignature with a ticket plus newline', run: () => jsapiSignature({ ...JSAPI, jsapiTicket: `${JSAPI_TICKET}\n` }) },
    { case: 'payV2Sign with a sign_type mismatch', run: () => payV2Sign({ ...PAY, sign_type: 'HMAC-SHA256' }, API_KEY) },
    { case: 'payV2Sign with a key plus space', run: () => payV2Sign(PAY, `${API_KEY} `) },
    { case: 'payV2Sign with a nested value', run: () => payV2Sign({ ...PAY, detail: {} } as never, API_KEY) },
    { case: 'signedPayXml with a sign present', run: () => signedPayXml({ ...PAY, sign: API_KEY }, API_KEY) },
    { case: 'bizRedPacketParams with an encoded package', run: () => bizRedPacketParams({ appId: 'wx', package: 'sendid%3D1', apiKey: API_KEY }) },
    { case: 'pushSignature with a token plus space', run: () => pushSignature({ ...PUSH, token: `${TOKEN} ` }) },
    { case: 'encryptMessage with a 42-character key', run: () => encryptMessage({ ...CRYPTO, encodingAESKey: AES_KEY.slice(0, 42), xml: 'x' }) },
    { case: 'encryptMessage with a 44-character key', run: () => encryptMessage({ ...CRYPTO, encodingAESKey: `${AES_KEY}=`, xml: 'x' }) },
    { case: 'decryptMessage for another app id', run: () => decryptMessage({ ...CRYPTO, appId: 'wx_other', encrypted }) },
    { case: 'decryptMessage with tampered padding', run: () => decryptMessage({ ...CRYPTO, encrypted: tampered.toString('base64') }) },
    { case: 'decryptMessage with bad base64', run: () => decryptMessage({ ...CRYPTO, encrypted: '@@@@' }) },
    { case: 'decryptPushMessage with a wrong signature', run: () => decryptPushMessage({ ...CRYPTO, ...PUSH, msgSignature: 'x', encrypted }) },
    { case: 'buildEncryptedReply with a bad nonce', run: () => buildEncryptedReply({ ...CRYPTO, ...PUSH, nonce: ']]>', xml: 'x' }) },
    { case: 'parsePayXml with an entity', run: () => parsePayXml(`<!DOCTYPE x [<!ENTITY k "${API_KEY}">]><xml><a>&k;</a></xml>`) },
  ];
}

describe('signing output', () => {
  let output: string[];

  beforeEach(() => {
    output = [];
    const record = (...args: unknown[]) => {
      output.push(args.map(String).join(' '));
    };
    for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
      jest.spyOn(console, method).mockImplementation(record);
    }
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      record(chunk);
      return true;
    });
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
      record(chunk);
      return true;
    });
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('writes nothing at all to the console, stdout or stderr while signing successfully', () => {
    for (const call of succeeding()) call.run();
    expect(output).toEqual([]);
  });

  it('throws typed errors whose message, stack, cause and fields carry no key, ticket, token or signing string', () => {
    const calls = failing();
    const errors = calls.map((call) => ({ case: call.case, error: errorOf(call.run) }));
    // Every call must have failed with one of our typed errors, or the check below proves nothing.
    expect(errors.filter(({ error }) => !(error instanceof AppError)).map((entry) => entry.case)).toEqual([]);

    const texts = errors.flatMap(({ error }) => {
      const appError = error as AppError & { field?: unknown };
      return [appError.message, appError.stack ?? '', String(appError.cause ?? ''), (appError.cause as Error | undefined)?.stack ?? '', JSON.stringify(appError)];
    });
    const leaks = FORBIDDEN.filter((secret) => [...texts, ...output].some((text) => text.includes(secret)));
    expect(leaks).toEqual([]);
    expect(output).toEqual([]);
  });
});

/** The error `run` throws, or undefined when it returns. */
function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}
