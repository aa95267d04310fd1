/**
 * `POST /cgi-bin/media/uploadimg?access_token=` (reference/wechat-api.md §3): a multipart form
 * whose file field is `buffer` (the card doc's curl) or `media` (what wechatpy sends); at most
 * 1 MB, JPG or PNG. The answer is `{url}` alone, as WeChat's; only URLs issued here are accepted
 * as a card's logo_url.
 */
import { randomBytes } from 'node:crypto';
import { requireAccessToken } from '../access';
import { parseMultipart } from '../multipart';
import { sandboxNowMs } from '../state';
import { WechatErrcode, wechatError } from '../wechat-errors';
import type { ApiRoute } from './router';

// "图片大小不超过1M", read as a binary megabyte.
const UPLOAD_IMAGE_LIMIT_BYTES = 1024 * 1024;

const FILE_FIELDS = ['buffer', 'media'];
const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The media API, for the route table. */
export const uploadImageRoute: ApiRoute = {
  path: '/cgi-bin/media/uploadimg',
  handle(state, request) {
    const access = requireAccessToken(state, request.url);
    if (!access.ok) return access.error;
    if (request.method !== 'POST') return wechatError(WechatErrcode.REQUIRE_POST);
    const parts = parseMultipart(request.body, request.headers['content-type']);
    const file = parts?.find((part) => FILE_FIELDS.includes(part.name) && part.filename !== undefined);
    if (file === undefined || file.data.length === 0) return wechatError(WechatErrcode.MEDIA_DATA_MISSING);
    if (file.data.length > UPLOAD_IMAGE_LIMIT_BYTES) return wechatError(WechatErrcode.INVALID_IMAGE_SIZE);
    // The type is judged by content, not by the file name or the part's Content-Type, which a client chooses freely.
    if (!startsWith(file.data, JPEG_MAGIC) && !startsWith(file.data, PNG_MAGIC)) return wechatError(WechatErrcode.INVALID_FILE_TYPE);
    const url = `http://mmbiz.qpic.cn/mmbiz/${randomBytes(48).toString('base64url')}/0`;
    state.images.set(url, { url, appid: access.appid, sizeBytes: file.data.length, uploadedAtMs: sandboxNowMs(state) });
    return { url };
  },
};

function startsWith(data: Buffer, magic: Buffer): boolean {
  return data.length >= magic.length && data.subarray(0, magic.length).equals(magic);
}
