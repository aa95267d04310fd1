/**
 * claimPage's own settings (the claim engine's — merchant, keys, appids — are shared/claims/config.ts).
 * Read once per instance; one ConfigError names every problem.
 */
import { REF_SIGNING_SECRET_PATTERN } from '../cards/reference';
import type { EnvReader } from '../config';
import { registerSecret } from '../log';
import { CLAIM_LINK_KEY_LABEL, deriveKey } from './links';

export interface ClaimPageSettings {
  /** Where the page is served, scheme and host (`https://h5.example.com`): links and OAuth's redirect_uri start with it. */
  origin: string;
  /** Hosts the JS-SDK may sign page URLs of: the origin's, and CLAIM_PAGE_HOSTS (the account's JS接口安全域名). */
  allowedHosts: ReadonlySet<string>;
  /** Where browsers are sent to authorize (open.weixin.qq.com; the local stack's sandbox). */
  oauthBaseUrl: string;
  /** The JS-SDK script the page loads (WeChat's res.wx.qq.com; the sandbox's stand-in locally). */
  jssdkUrl: string;
  /** Verification files WeChat fetches (MP_verify_*.txt, the mini-program's business-domain file): name → content. */
  verifyFiles: ReadonlyMap<string, string>;
  /** Signs claim links (and the web-view tokens' references): derived from REF_SIGNING_SECRET. */
  linkKey: Buffer;
  /** Derives each session's CSRF token. */
  csrfKey: Buffer;
}

export const CLAIM_PAGE_ORIGIN_SETTING = 'CLAIM_PAGE_ORIGIN';
const VERIFY_FILE_NAME = /^[A-Za-z0-9_.-]{1,64}\.txt$/;

/** The claim page's origin: https, or http on a loopback address (the local stack only). */
export function readClaimPageOrigin(reader: EnvReader): string {
  const value = reader.optionalString(CLAIM_PAGE_ORIGIN_SETTING);
  const hint = 'the claim page\'s https://host (no path), bound to the environment\'s HTTP access';
  if (value === undefined) return reader.string(CLAIM_PAGE_ORIGIN_SETTING, { hint });
  try {
    const url = new URL(value);
    const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost';
    if ((url.protocol === 'https:' || (loopback && url.protocol === 'http:')) && (url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === '') {
      return url.origin;
    }
  } catch {
    // reported below
  }
  reader.string(CLAIM_PAGE_ORIGIN_SETTING, { pattern: /^$/, hint });
  return '';
}

/** Reads the settings (REF_SIGNING_SECRET, CLAIM_PAGE_ORIGIN, CLAIM_PAGE_HOSTS, WX_OAUTH_BASE_URL, JSSDK_SCRIPT_URL, WX_VERIFY_FILES). */
export function readClaimPageSettings(reader: EnvReader): ClaimPageSettings {
  const secret = reader.string('REF_SIGNING_SECRET', { pattern: REF_SIGNING_SECRET_PATTERN, hint: '32-128 printable characters, the same for signCard, receivePush and claimPage' });
  const origin = readClaimPageOrigin(reader);
  const extraHosts = (reader.optionalString('CLAIM_PAGE_HOSTS') ?? '').split(',').map((host) => host.trim().toLowerCase()).filter((host) => host !== '');
  const oauthBaseUrl = reader.url('WX_OAUTH_BASE_URL', 'https://open.weixin.qq.com');
  const jssdkUrl = reader.url('JSSDK_SCRIPT_URL', 'https://res.wx.qq.com/open/js/jweixin-1.6.0.js');
  const verifyFiles = new Map<string, string>();
  for (const entry of (reader.optionalString('WX_VERIFY_FILES') ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const [name, content] = entry.split(':', 2) as [string, string | undefined];
    if (!VERIFY_FILE_NAME.test(name) || content === undefined || !/^[A-Za-z0-9]{1,128}$/.test(content)) {
      reader.string('WX_VERIFY_FILES', { pattern: /^$/, hint: 'name.txt:content pairs separated by commas, e.g. MP_verify_abc123.txt:abc123' });
    } else verifyFiles.set(name, content);
  }
  registerSecret(secret);
  const host = origin === '' ? '' : new URL(origin).host.toLowerCase();
  return {
    origin,
    allowedHosts: new Set([host, ...extraHosts].filter((value) => value !== '')),
    oauthBaseUrl,
    jssdkUrl,
    verifyFiles,
    linkKey: deriveKey(secret, CLAIM_LINK_KEY_LABEL),
    csrfKey: deriveKey(secret, 'claim-page-csrf/v1'),
  };
}
