/**
 * Parametric QR codes (reference/official-accounts.md §1.1), the sandbox side of
 * `shared/wechat/qrcode.ts`: `POST /cgi-bin/qrcode/create` (verified service accounts only: the
 * router answers 48001 to the others) and `GET /cgi-bin/showqrcode?ticket=` (mp.weixin.qq.com in
 * production; no access_token), which answers a real PNG of the code's URL. A user follows through a
 * code with `POST /__sandbox/users/follow {"ticket"|"scene"}` (users.ts).
 */
import { randomBytes } from 'node:crypto';
import QRCode from 'qrcode';
import { requireAccessToken } from '../access';
import { parseJsonBody } from '../http';
import { sandboxNowMs, type QrCodeRecord } from '../state';
import { WechatErrcode, wechatError } from '../wechat-errors';
import type { ApiRoute } from './router';

/** Temporary codes: at most 30 days; without expire_seconds, the old docs' 30 s. */
const MAX_EXPIRE_SECONDS = 2_592_000;
const DEFAULT_EXPIRE_SECONDS = 30;
/** "永久二维码…目前为最多10万个". */
const PERMANENT_LIMIT = 100_000;
const ACTIONS = ['QR_SCENE', 'QR_STR_SCENE', 'QR_LIMIT_SCENE', 'QR_LIMIT_STR_SCENE'] as const;

export const createQrCodeRoute: ApiRoute = {
  path: '/cgi-bin/qrcode/create',
  requires: () => 'qrcode',
  handle(state, request) {
    const access = requireAccessToken(state, request.url);
    if (!access.ok) return access.error;
    if (request.method !== 'POST') return wechatError(WechatErrcode.REQUIRE_POST);
    const body = parseJsonBody(request.body) as Record<string, unknown> | undefined;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return wechatError(WechatErrcode.DATA_FORMAT_ERROR);
    const action = body.action_name;
    if (!ACTIONS.includes(action as (typeof ACTIONS)[number])) return wechatError(WechatErrcode.INVALID_ARGS, 'invalid action_name');
    const permanent = String(action).startsWith('QR_LIMIT');
    const wantsString = String(action).endsWith('STR_SCENE');
    const scene = ((body.action_info as { scene?: Record<string, unknown> } | undefined)?.scene) ?? {};
    let sceneValue: string;
    if (wantsString) {
      const text = scene.scene_str;
      if (typeof text !== 'string' || text.length < 1 || text.length > 64) return wechatError(WechatErrcode.INVALID_ACTION_INFO);
      sceneValue = text;
    } else {
      const id = scene.scene_id;
      const max = permanent ? 100_000 : 4_294_967_295;
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > max) return wechatError(WechatErrcode.INVALID_ACTION_INFO);
      sceneValue = String(id);
    }
    let expireSeconds: number | null = null;
    if (!permanent) {
      const given = body.expire_seconds;
      if (given !== undefined && (typeof given !== 'number' || !Number.isInteger(given) || given < 1)) return wechatError(WechatErrcode.INVALID_ARGS, 'invalid expire_seconds');
      expireSeconds = Math.min((given as number | undefined) ?? DEFAULT_EXPIRE_SECONDS, MAX_EXPIRE_SECONDS);
    }
    if (permanent) {
      const existing = [...state.qrCodes.values()].find((code) => code.appid === access.appid && code.permanent && code.scene === sceneValue);
      // A permanent code of a scene is one code: asking again answers it again.
      if (existing !== undefined) return { errcode: 0, errmsg: 'ok', ticket: existing.ticket, url: existing.url };
      const count = [...state.qrCodes.values()].filter((code) => code.appid === access.appid && code.permanent).length;
      if (count >= PERMANENT_LIMIT) return wechatError(WechatErrcode.INVALID_ARGS, 'permanent qrcode limit reached');
    }
    const nowMs = sandboxNowMs(state);
    const record: QrCodeRecord = {
      // Real tickets are base64 (gQFe8DwAAAAAAAAAAS5o…): standard alphabet, so a client must URL-encode it for showqrcode.
      ticket: `gQ${randomBytes(45).toString('base64')}`,
      appid: access.appid,
      scene: sceneValue,
      permanent,
      url: `http://weixin.qq.com/q/${randomBytes(16).toString('base64url')}`,
      createdAtMs: nowMs,
      expiresAtMs: expireSeconds === null ? null : nowMs + expireSeconds * 1000,
    };
    state.qrCodes.set(record.ticket, record);
    return { errcode: 0, errmsg: 'ok', ticket: record.ticket, ...(expireSeconds === null ? {} : { expire_seconds: expireSeconds }), url: record.url };
  },
};

export const showQrCodeRoute: ApiRoute = {
  path: '/cgi-bin/showqrcode',
  handle: () => ({}),
  async handleRaw(state, request) {
    const ticket = request.url.searchParams.get('ticket');
    const code = ticket === null ? undefined : state.qrCodes.get(ticket);
    if (code === undefined || (code.expiresAtMs !== null && code.expiresAtMs <= sandboxNowMs(state))) {
      return { status: 404, contentType: 'text/plain; charset=utf-8', body: Buffer.from('invalid or expired ticket') };
    }
    // 430 px like WeChat's images.
    return { status: 200, contentType: 'image/jpg', body: await QRCode.toBuffer(code.url, { type: 'png', width: 430, margin: 2, errorCorrectionLevel: 'M' }) };
  },
};

export const qrCodeRoutes: readonly ApiRoute[] = [createQrCodeRoute, showQrCodeRoute];
