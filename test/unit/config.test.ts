import { ConfigError } from '../../shared/errors';
import { envReader, readTokenFetcherConfig } from '../../shared/config';

describe('envReader / readTokenFetcherConfig', () => {
  it('reads a complete configuration with defaults for the optional settings', () => {
    const reader = envReader({ WX_OA_APPID: 'wx10ca1000000000a1', WX_OA_APPSECRET: 'abcdef0123456789abcdef0123456789' });
    const config = readTokenFetcherConfig(reader);
    reader.done();
    expect(config).toEqual({
      appId: 'wx10ca1000000000a1',
      appSecret: 'abcdef0123456789abcdef0123456789',
      apiBaseUrl: 'https://api.weixin.qq.com',
      tokenMode: 'stable',
    });
  });

  it('names every missing or malformed variable in one error, without echoing a secret', () => {
    const reader = envReader({ WX_OA_APPID: 'not-an-appid', WX_OA_APPSECRET: 'short!', WX_TOKEN_MODE: 'sometimes', WX_API_BASE_URL: 'ftp://x' });
    readTokenFetcherConfig(reader);
    let caught: unknown;
    try {
      reader.done();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/WX_OA_APPID is malformed/);
    expect(problems.join('\n')).toMatch(/WX_OA_APPSECRET is malformed/);
    expect(problems.join('\n')).toMatch(/WX_TOKEN_MODE must be one of stable, classic/);
    expect(problems.join('\n')).toMatch(/WX_API_BASE_URL must be an http\(s\) URL/);
    expect((caught as ConfigError).message).not.toContain('short!');
  });

  it('treats empty strings (an unset {{env.X}} in cloudbaserc.json) as missing', () => {
    const reader = envReader({ WX_OA_APPID: '', WX_OA_APPSECRET: '  ' });
    readTokenFetcherConfig(reader);
    expect(() => reader.done()).toThrow(/WX_OA_APPID is missing[\s\S]*WX_OA_APPSECRET is missing/);
  });
});
