import { InputError } from '../../../shared/errors';
import { readPushMessage } from '../../../shared/push/message';
import { parsePushXml, passiveReplyXml, PushXmlError, validatePassiveReply } from '../../../shared/push/xml';

// Event XML from reference/official-accounts.md §3 and wechat-api.md §9 (wechatpy tests/test_events.py shapes).
const SUBSCRIBE_QR = `<xml><ToUserName><![CDATA[gh_7c1e0a9b3d21]]></ToUserName><FromUserName><![CDATA[oQx3s5Lk2Rb9Fh0WnYt7Ue4Pa1Cd]]></FromUserName>
<CreateTime>1767225600</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>
<EventKey><![CDATA[qrscene_cmp42-store7]]></EventKey><Ticket><![CDATA[gQFe8DwAAAAAAAAAAS5odHRwOi8vd2VpeGluLnFxLmNvbS9xL2V4YW1wbGUAAgQ]]></Ticket></xml>`;
const SCAN = `<xml><ToUserName><![CDATA[gh_7c1e0a9b3d21]]></ToUserName><FromUserName><![CDATA[oQx3s5Lk2Rb9Fh0WnYt7Ue4Pa1Cd]]></FromUserName>
<CreateTime>1767229200</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event>
<EventKey><![CDATA[cmp42-store9]]></EventKey><Ticket><![CDATA[gQH17zwAAAAAAAAAAS5odHRwOi8vd2VpeGluLnFxLmNvbS9xL290aGVyAAIE]]></Ticket></xml>`;
const UNSUBSCRIBE = `<xml><ToUserName><![CDATA[gh_7c1e0a9b3d21]]></ToUserName><FromUserName><![CDATA[oQx3s5Lk2Rb9Fh0WnYt7Ue4Pa1Cd]]></FromUserName>
<CreateTime>1767315600</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event></xml>`;
const GET_CARD = `<xml><ToUserName><![CDATA[gh_52d0b6e1f9aa]]></ToUserName><FromUserName><![CDATA[oM2v8Kd0Ty6Gq1Zs4Xe9Rb3Lw7Hn]]></FromUserName>
<CreateTime>1767400000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_get_card]]></Event>
<CardId><![CDATA[pM2v8Kexample0CardId00000001]]></CardId><IsGiveByFriend>0</IsGiveByFriend>
<UserCardCode><![CDATA[880012345678]]></UserCardCode><FriendUserName><![CDATA[]]></FriendUserName><OuterId>0</OuterId>
<OldUserCardCode><![CDATA[]]></OldUserCardCode><OuterStr><![CDATA[cmp42]]></OuterStr><IsRestoreMemberCard>0</IsRestoreMemberCard>
<IsRecommendByFriend>0</IsRecommendByFriend><UnionId><![CDATA[oU7aexampleUnionId00000000001]]></UnionId></xml>`;
const CONSUME_CARD = `<xml><ToUserName><![CDATA[gh_52d0b6e1f9aa]]></ToUserName><FromUserName><![CDATA[oM2v8Kd0Ty6Gq1Zs4Xe9Rb3Lw7Hn]]></FromUserName>
<CreateTime>1767490000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_consume_card]]></Event>
<CardId><![CDATA[pM2v8Kexample0CardId00000001]]></CardId><UserCardCode><![CDATA[880012345678]]></UserCardCode>
<ConsumeSource><![CDATA[FROM_MOBILE_HELPER]]></ConsumeSource><LocationName><![CDATA[]]></LocationName>
<StaffOpenId><![CDATA[oM2v8Kstaff0000000000000001]]></StaffOpenId><VerifyCode><![CDATA[]]></VerifyCode>
<RemarkAmount><![CDATA[]]></RemarkAmount><OuterStr><![CDATA[cmp42]]></OuterStr></xml>`;
const TEXT = '<xml><ToUserName><![CDATA[gh_7c1e0a9b3d21]]></ToUserName><FromUserName><![CDATA[oA]]></FromUserName><CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[this is a test]]></Content><MsgId>1234567890123456</MsgId></xml>';
// A menu scancode event carries a nested container; it is recorded, not read.
const NESTED = '<xml><ToUserName><![CDATA[gh_7c1e0a9b3d21]]></ToUserName><FromUserName><![CDATA[oA]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[scancode_push]]></Event><EventKey><![CDATA[6]]></EventKey><ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType><ScanResult><![CDATA[1]]></ScanResult></ScanCodeInfo></xml>';

describe('readPushMessage', () => {
  it.each([
    { case: 'a follow through a parametric QR code', xml: SUBSCRIBE_QR, event: { kind: 'subscribe', scene: 'cmp42-store7', ticket: expect.stringMatching(/^gQFe/) } },
    { case: 'a follower scanning a code', xml: SCAN, event: { kind: 'scan', scene: 'cmp42-store9', ticket: expect.any(String) } },
    { case: 'an unfollow', xml: UNSUBSCRIBE, event: { kind: 'unsubscribe' } },
    { case: 'user_get_card with its UnionId and OuterStr', xml: GET_CARD, event: { kind: 'user_get_card', cardId: 'pM2v8Kexample0CardId00000001', code: '880012345678', unionId: 'oU7aexampleUnionId00000000001', outerStr: 'cmp42', friendOpenid: null, oldCode: null } },
    { case: 'user_consume_card', xml: CONSUME_CARD, event: { kind: 'user_consume_card', cardId: 'pM2v8Kexample0CardId00000001', code: '880012345678', consumeSource: 'FROM_MOBILE_HELPER', outerStr: 'cmp42' } },
    { case: 'a text message', xml: TEXT, event: { kind: 'message', msgType: 'text' } },
    { case: 'an event it does not handle, nested fields and all', xml: NESTED, event: { kind: 'other', event: 'scancode_push' } },
  ])('reads $case', ({ xml, event }) => {
    expect(readPushMessage(parsePushXml(xml)).event).toEqual(event);
  });

  it('reads a follow without a scene as the account\'s own', () => {
    const xml = UNSUBSCRIBE.replace('unsubscribe', 'subscribe').replace('</xml>', '<EventKey><![CDATA[]]></EventKey></xml>');
    expect(readPushMessage(parsePushXml(xml)).event).toEqual({ kind: 'subscribe', scene: null, ticket: null });
  });

  it('keys messages by MsgId and events by FromUserName + CreateTime + Event + EventKey + card code', () => {
    const key = (xml: string) => readPushMessage(parsePushXml(xml)).dedupeKey;
    expect(key(TEXT)).toBe(key(TEXT.replace('this is a test', 'other text')));
    expect(key(SCAN)).not.toBe(key(SCAN.replace('cmp42-store9', 'cmp42-store8')));
    expect(key(GET_CARD)).not.toBe(key(GET_CARD.replace('880012345678', '880012345679')));
    expect(key(UNSUBSCRIBE)).not.toBe(key(UNSUBSCRIBE.replace('1767315600', '1767315601')));
    expect(key(UNSUBSCRIBE)).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it.each([
    { case: 'no FromUserName', xml: '<xml><ToUserName><![CDATA[gh_7c1e0a9b3d21]]></ToUserName><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>' },
    { case: 'a ToUserName that is not an 原始ID', xml: UNSUBSCRIBE.replace('gh_7c1e0a9b3d21', 'someone') },
    { case: 'a CreateTime that is not seconds', xml: UNSUBSCRIBE.replace('1767315600', 'soon') },
    { case: 'a card code with markup', xml: GET_CARD.replace('880012345678', '88<x>') },
  ])('refuses $case with a typed error', ({ xml }) => {
    expect(() => readPushMessage(parsePushXml(xml))).toThrow(InputError);
  });
});

describe('parsePushXml', () => {
  it.each([
    { case: 'an empty body', xml: '' },
    { case: 'a DOCTYPE', xml: '<!DOCTYPE xml><xml></xml>' },
    { case: 'an internal entity', xml: '<!DOCTYPE x [<!ENTITY a "b">]><xml><A>&a;</A></xml>' },
    { case: 'an HTML entity', xml: '<xml><A>&nbsp;</A></xml>' },
    { case: 'a second root', xml: '<xml></xml><xml></xml>' },
    { case: 'text after the root', xml: '<xml></xml>junk' },
    { case: 'another root', xml: '<root><A>1</A></root>' },
    { case: 'attributes on the root', xml: '<xml a="1"><A>1</A></xml>' },
    { case: 'a repeated field', xml: '<xml><A>1</A><A>2</A></xml>' },
    { case: 'a processing instruction', xml: '<xml><?php evil(); ?><A>1</A></xml>' },
    { case: 'unclosed markup', xml: '<xml><A>1</xml>' },
    { case: 'a body over 64 KiB', xml: `<xml><A>${'a'.repeat(70_000)}</A></xml>` },
  ])('refuses $case', ({ xml }) => {
    expect(() => parsePushXml(xml)).toThrow(PushXmlError);
  });

  it('reads CDATA, the five XML entities and character references, and a leading declaration', () => {
    expect(parsePushXml('<?xml version="1.0" encoding="UTF-8"?><xml><A><![CDATA[<b>&]]></A><B>&lt;&amp;&#20320;&#x597D;</B></xml>')).toEqual({ A: '<b>&', B: '<&你好' });
  });

  it('refuses a field named __proto__ (no element name WeChat writes starts with _)', () => {
    expect(() => parsePushXml('<xml><__proto__>1</__proto__></xml>')).toThrow(PushXmlError);
  });
});

describe('passive replies', () => {
  it('swaps the user and the account, and keeps ]]> inside CDATA', () => {
    const xml = passiveReplyXml({ type: 'text', content: 'a]]>b' }, { userOpenid: 'oUser', accountOriginalId: 'gh_7c1e0a9b3d21', createTimeSeconds: 1700000000 });
    expect(xml).toBe('<xml><ToUserName><![CDATA[oUser]]></ToUserName><FromUserName><![CDATA[gh_7c1e0a9b3d21]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[a]]]]><![CDATA[>b]]></Content></xml>');
    expect(parsePushXml(xml).Content).toBe('a]]>b');
  });

  it('writes one news article (WeChat refuses more since 2018: 45008)', () => {
    const xml = passiveReplyXml({ type: 'news', title: 'T', description: 'D', picUrl: 'https://p', url: 'https://u' }, { userOpenid: 'o', accountOriginalId: 'gh_7c1e0a9b3d21', createTimeSeconds: 1 });
    expect(xml).toContain('<ArticleCount>1</ArticleCount><Articles><item><Title><![CDATA[T]]></Title><Description><![CDATA[D]]></Description><PicUrl><![CDATA[https://p]]></PicUrl><Url><![CDATA[https://u]]></Url></item></Articles>');
  });

  it.each([
    { case: 'an unknown type', reply: { type: 'image' } },
    { case: 'an empty text', reply: { type: 'text', content: ' ' } },
    { case: 'text over 2048 bytes', reply: { type: 'text', content: '你'.repeat(700) } },
    { case: 'a control character', reply: { type: 'text', content: 'a\u0001' } },
    { case: 'a news link that is not http(s)', reply: { type: 'news', title: 'T', url: 'javascript:alert(1)' } },
    { case: 'an unknown field', reply: { type: 'text', content: 'x', extra: 1 } },
  ])('refuses $case an operator configures', ({ reply }) => {
    expect(() => validatePassiveReply(reply)).toThrow(InputError);
  });
});
