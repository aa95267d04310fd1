import type { WechatHttp } from './http';

/** A created parametric QR code. */
export interface CreatedQrCode {
  ticket: string;
  /** Seconds; absent for permanent codes. */
  expire_seconds?: number;
  /** What the code encodes (`http://weixin.qq.com/q/…`). */
  url: string;
}

/** Temporary codes live at most 30 days (reference/official-accounts.md §1.1). */
export const MAX_TEMPORARY_QR_SECONDS = 2_592_000;

export type QrCodeRequest =
  | { permanent: true; sceneStr: string }
  | { permanent: false; sceneStr: string; expireSeconds: number };

/**
 * Creates a parametric QR code with a string scene (verified service accounts only; others get 48001).
 * Temporary codes always send `expire_seconds` (older docs default it to 30 s).
 * @see https://developers.weixin.qq.com/doc/service/api/qrcode/qrcodes/api_createqrcode.html
 */
export function createQrCode(http: WechatHttp, accessToken: string, request: QrCodeRequest): Promise<CreatedQrCode> {
  const scene = { scene: { scene_str: request.sceneStr } };
  const body = request.permanent
    ? { action_name: 'QR_LIMIT_STR_SCENE', action_info: scene }
    : { expire_seconds: request.expireSeconds, action_name: 'QR_STR_SCENE', action_info: scene };
  return http.postJson<CreatedQrCode>('/cgi-bin/qrcode/create', { access_token: accessToken }, body);
}

/**
 * Where the code's image is: showqrcode on mp.weixin.qq.com, the ticket URL-encoded (wechatpy `get_url`).
 * @see https://developers.weixin.qq.com/doc/service/api/qrcode/qrcodes/api_createqrcode.html (换取二维码)
 */
export function qrCodeImageUrl(ticket: string, baseUrl = 'https://mp.weixin.qq.com'): string {
  return `${baseUrl.replace(/\/+$/, '')}/cgi-bin/showqrcode?ticket=${encodeURIComponent(ticket)}`;
}
