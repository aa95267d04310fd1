import path from 'node:path';
import { planCampaign, regionMatches, withinRegion, regionAllowList } from '../../../shared/claims/campaign';
import { RefusalReason } from '../../../shared/claims/errors';
import { CLAIM_LINK_KEY_LABEL, deriveKey, linkIdOfToken, signClaimLink, verifyClaimLink } from '../../../shared/claimpage/links';
import { ipRegionLookup } from '../../../shared/claimpage/region';
import { refusalText, reasonsWithText } from '../../../shared/claimpage/texts';
import { WechatApiError } from '../../../shared/errors';
import { authorizeUrl, mustRestartAuthorization } from '../../../shared/wechat/oauth';

const key = deriveKey('a-server-secret-of-at-least-32-characters!', CLAIM_LINK_KEY_LABEL);
const facts = { campaignId: 'spring', appId: 'wx10ca1000000000a2', channel: 'account', openid: 'oFollower_000000000000000001', followAtMs: 1_767_225_600_000 };

describe('claim links', () => {
  it('verifies a link it signed, with the follow\'s facts and a stable id', () => {
    const token = signClaimLink(key, facts);
    const verified = verifyClaimLink(key, token, { nowMs: facts.followAtMs + 60_000 });
    expect(verified).toEqual({ link: { ...facts, linkId: linkIdOfToken(token) } });
    // The same follow always gives the same link: a push applied twice answers the same reply.
    expect(signClaimLink(key, facts)).toBe(token);
  });

  it.each([
    { case: 'a changed payload', token: (t: string) => `${Buffer.from(Buffer.from(t.split('.')[0]!, 'base64url').toString().replace('spring', 'spruce')).toString('base64url')}.${t.split('.')[1]}`, problem: 'signature' },
    { case: 'a changed MAC', token: (t: string) => `${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`, problem: 'signature' },
    { case: 'another key', token: () => signClaimLink(deriveKey('another-server-secret-of-32-characters!!', CLAIM_LINK_KEY_LABEL), facts), problem: 'signature' },
    { case: 'the key derived for another purpose', token: () => signClaimLink(deriveKey('a-server-secret-of-at-least-32-characters!', 'claim-page-csrf/v1'), facts), problem: 'signature' },
    { case: 'not a token', token: () => 'nonsense', problem: 'malformed' },
    { case: 'no value', token: () => undefined, problem: 'malformed' },
  ])('refuses $case', ({ token, problem }) => {
    expect(verifyClaimLink(key, token(signClaimLink(key, facts)) as string, { nowMs: facts.followAtMs })).toEqual({ problem });
  });

  it('expires ten minutes after the follow (or the campaign\'s lifetime)', () => {
    const token = signClaimLink(key, facts);
    expect(verifyClaimLink(key, token, { nowMs: facts.followAtMs + 10 * 60_000 - 1 })).toHaveProperty('link');
    expect(verifyClaimLink(key, token, { nowMs: facts.followAtMs + 10 * 60_000 })).toEqual({ problem: 'expired' });
    expect(verifyClaimLink(key, token, { nowMs: facts.followAtMs + 20 * 60_000, ttlMinutes: 30 })).toHaveProperty('link');
  });
});

describe('the OAuth authorize URL', () => {
  it('puts the parameters in WeChat\'s order, encodes redirect_uri once and ends with #wechat_redirect', () => {
    // The shape of seed 004's example (without its connect_redirect), and of co-wechat-oauth / silenceper.
    expect(authorizeUrl({ baseUrl: 'https://open.weixin.qq.com', appId: 'wxd38431e9c296e9c7', redirectUri: 'http://520.focusmedia.cn/wxapi/ke-fei/index?key=', scope: 'snsapi_base', state: '123' }))
      .toBe('https://open.weixin.qq.com/connect/oauth2/authorize?appid=wxd38431e9c296e9c7&redirect_uri=http%3A%2F%2F520.focusmedia.cn%2Fwxapi%2Fke-fei%2Findex%3Fkey%3D&response_type=code&scope=snsapi_base&state=123#wechat_redirect');
  });

  it.each(['', 'a-b', 'x'.repeat(129), 'state with spaces'])('refuses the state %j (letters and digits, at most 128)', (state) => {
    expect(() => authorizeUrl({ baseUrl: 'https://open.weixin.qq.com', appId: 'wx1', redirectUri: 'https://h5.example.com/claim/oauth', scope: 'snsapi_base', state })).toThrow(/state/);
  });

  it.each([
    { errcode: 40029, restart: true }, { errcode: 40163, restart: true }, { errcode: 40125, restart: false }, { errcode: -1, restart: false },
  ])('restarts the authorization on $errcode: $restart (never a retry with the same code)', ({ errcode, restart }) => {
    expect(mustRestartAuthorization(new WechatApiError('/sns/oauth2/access_token', errcode, 'x'))).toBe(restart);
  });
});

describe('regions', () => {
  const lookup = ipRegionLookup(path.join(path.dirname(require.resolve('ip2region/package.json')), 'data'));

  it.each([
    { ip: '120.24.78.68', region: { country: '中国', province: '广东省', city: '深圳市' } },
    { ip: '202.106.0.20', region: { country: '中国', province: '北京', city: '北京市' } },
    { ip: '240e:47d:c20:1627:30a3:ba0d:a5e6:ec19', region: { country: '中国', province: '广东省', city: '广州市' } },
    { ip: '8.8.8.8', region: { country: '美国', province: '', city: '' } },
    { ip: '127.0.0.1', region: null },
    { ip: 'not an ip', region: null },
  ])('finds $ip in the ip2region data', ({ ip, region }) => {
    expect(lookup(ip)).toEqual(region);
  });

  it.each([
    { path: '中国', inside: true }, { path: '中国/广东省', inside: true }, { path: '中国/广东省/深圳市', inside: true },
    { path: '中国/广东省/广州市', inside: false }, { path: '中国/北京', inside: false },
  ])('holds 深圳 inside $path: $inside', ({ path: regionPath, inside }) => {
    expect(regionMatches(regionPath, { country: '中国', province: '广东省', city: '深圳市' })).toBe(inside);
  });

  it('lets the CIDR list override the library, and decides by it alone without regions', () => {
    const office = regionAllowList(['203.0.113.0/24']);
    const beijing = { country: '中国', province: '北京', city: '北京市' };
    expect(withinRegion({ regions: ['中国/广东省'] }, office, { clientIp: '203.0.113.7', region: beijing })).toBe(true);
    expect(withinRegion({ regions: ['中国/广东省'] }, office, { clientIp: '198.51.100.1', region: beijing })).toBe(false);
    expect(withinRegion({ regions: ['中国/广东省'] }, null, { clientIp: '198.51.100.1', region: null })).toBe(false);
    expect(withinRegion({ regions: [] }, office, { clientIp: '203.0.113.7' })).toBe(true);
    expect(withinRegion({}, null, {})).toBe(true);
  });
});

describe('follow campaigns', () => {
  const base = {
    id: 'spring', eligibility: 'follow', payout: 'cash', sendName: 's', wishing: 'w', actName: 'a', remark: 'r', startsAt: 1, endsAt: 9_999_999_999_999, budgetFen: 1000, amount: { fixedFen: 100 },
  };

  it('names every problem of a follow campaign at once', () => {
    expect(() => planCampaign({ ...base, payout: 'miniprogram', follow: { channels: [{ appId: 'nope' }], linkTtlMinutes: 0, followerProof: 'trust', linkReply: 'no link', extra: 1 }, regions: ['中国//x'] }, { nowMs: 2 }))
      .toThrow(/pays "cash" or "transfer"[\s\S]*unknown field follow.extra[\s\S]*needs appId[\s\S]*linkTtlMinutes[\s\S]*followerProof[\s\S]*\{link\}[\s\S]*regions entry/);
  });

  it('stores what a follow campaign needs, with the defaults', () => {
    const { campaign } = planCampaign({ ...base, follow: { channels: [{ appId: 'wx10ca1000000000a2', channel: 'account' }] }, regions: ['中国/广东省'] }, { nowMs: 2 });
    expect(campaign).toMatchObject({ eligibility: 'follow', regions: ['中国/广东省'], ipCallsPerMinute: 30, follow: { linkTtlMinutes: 10, followerProof: 'proven', channels: [{ appId: 'wx10ca1000000000a2', channel: 'account' }] } });
    expect(campaign.follow?.linkReply).toContain('{link}');
  });
});

describe('the page\'s sentences', () => {
  it('has one in Chinese for every refusal reason', () => {
    for (const reason of Object.values(RefusalReason)) expect(reasonsWithText()).toContain(reason);
    expect(refusalText(RefusalReason.FORWARDED)).toMatch(/[\u4e00-\u9fa5]/);
  });
});
