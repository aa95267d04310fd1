import { ConfigError } from './errors';

/**
 * Typed reading of environment variables. Every getter records its problem instead of throwing,
 * so `done()` can report every missing or malformed variable in one {@link ConfigError}.
 * An empty string counts as unset: `cloudbaserc.json` renders an unset `{{env.X}}` as "".
 */
export interface EnvReader {
  string(name: string, options?: { pattern?: RegExp; hint?: string }): string;
  optionalString(name: string): string | undefined;
  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T;
  int(name: string, options: { fallback: number; min: number; max: number }): number;
  url(name: string, fallback: string): string;
  /** Throws one ConfigError naming every problem found so far. */
  done(): void;
}

export function envReader(env: Readonly<Record<string, string | undefined>>): EnvReader {
  const problems: string[] = [];
  const raw = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  return {
    string(name, options = {}) {
      const value = raw(name);
      if (value === undefined) {
        problems.push(`${name} is missing${options.hint ? ` (${options.hint})` : ''}`);
        return '';
      }
      if (options.pattern && !options.pattern.test(value)) {
        // The value itself is not echoed: it may be a secret.
        problems.push(`${name} is malformed${options.hint ? ` (${options.hint})` : ''}`);
      }
      return value;
    },
    optionalString(name) {
      return raw(name);
    },
    oneOf(name, values, fallback) {
      const value = raw(name);
      if (value === undefined) return fallback;
      if (!(values as readonly string[]).includes(value)) {
        problems.push(`${name} must be one of ${values.join(', ')} (got "${value}")`);
        return fallback;
      }
      return value as (typeof values)[number];
    },
    int(name, { fallback, min, max }) {
      const value = raw(name);
      if (value === undefined) return fallback;
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
        problems.push(`${name} must be an integer from ${min} to ${max} (got "${value}")`);
        return fallback;
      }
      return parsed;
    },
    url(name, fallback) {
      const value = raw(name) ?? fallback;
      try {
        const parsed = new URL(value);
        if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('protocol');
        return value.replace(/\/+$/, '');
      } catch {
        problems.push(`${name} must be an http(s) URL (got "${value}")`);
        return fallback;
      }
    },
    done() {
      if (problems.length > 0) throw new ConfigError(problems);
    },
  };
}

/** Official-account app ids: "wx" and 16 hex digits. */
export const APPID_PATTERN = /^wx[0-9a-f]{16}$/;

/** How the access_token is obtained. `stable` does not invalidate tokens other systems hold. */
export type TokenMode = 'stable' | 'classic';

/** Settings every credential user needs: which official account, and where WeChat is. */
export interface WechatAccountConfig {
  appId: string;
  apiBaseUrl: string;
}

/** getToken's settings: the only function that holds the AppSecret. */
export interface TokenFetcherConfig extends WechatAccountConfig {
  appSecret: string;
  tokenMode: TokenMode;
}

export function readAccountConfig(reader: EnvReader): WechatAccountConfig {
  return {
    appId: reader.string('WX_OA_APPID', { pattern: APPID_PATTERN, hint: 'the official account AppID, wx + 16 hex digits' }),
    apiBaseUrl: reader.url('WX_API_BASE_URL', 'https://api.weixin.qq.com'),
  };
}

/**
 * getToken's mini-program, when it has one: WX_MP_APPSECRET set (with WX_MP_APPID). Its token is
 * for the mini-program's own APIs (campaigns' risk checks, wxa/getuserriskrank); null without the secret.
 */
export function readMiniProgramTokenConfig(reader: EnvReader): { appId: string; appSecret: string } | null {
  if (reader.optionalString('WX_MP_APPSECRET') === undefined) return null;
  return {
    appId: reader.string('WX_MP_APPID', { pattern: APPID_PATTERN, hint: 'the mini-program AppID, wx + 16 hex digits (WX_MP_APPSECRET is its secret)' }),
    appSecret: reader.string('WX_MP_APPSECRET', { pattern: /^[0-9a-zA-Z]{16,64}$/, hint: 'the mini-program AppSecret' }),
  };
}

export function readTokenFetcherConfig(reader: EnvReader): TokenFetcherConfig {
  return {
    ...readAccountConfig(reader),
    appSecret: reader.string('WX_OA_APPSECRET', { pattern: /^[0-9a-zA-Z]{16,64}$/, hint: 'the official account AppSecret' }),
    tokenMode: reader.oneOf('WX_TOKEN_MODE', ['stable', 'classic'] as const, 'stable'),
  };
}
