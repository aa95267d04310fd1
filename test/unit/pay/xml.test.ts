import fc from 'fast-check';
import { InputError, PayXmlError } from '../../../shared/errors';
import {
  MAX_PAY_XML_CHARS,
  parsePayXml,
  parsePayXmlWithLists,
  payV2Sign,
  signedPayXml,
  toPayXml,
  verifyPayReplySign,
  type PayV2Params,
} from '../../../shared/signing/index';

const KEY = '192006250b4c09247ec02edce69f6a2d';

// A sendminiprogramhb success reply in WeChat's layout (fields per PAY-minihb; the package is
// the documented example, CDATA-wrapped as WeChat sends strings).
const MINI_HB_REPLY = `<xml>
<return_code><![CDATA[SUCCESS]]></return_code>
<return_msg><![CDATA[发放成功]]></return_msg>
<result_code><![CDATA[SUCCESS]]></result_code>
<err_code><![CDATA[SUCCESS]]></err_code>
<err_code_des><![CDATA[发放成功]]></err_code_des>
<mch_billno><![CDATA[2334580734271081478888000026]]></mch_billno>
<mch_id><![CDATA[10000100]]></mch_id>
<wxappid><![CDATA[wx2421b1c4370ec43b]]></wxappid>
<re_openid><![CDATA[oeDV3t7xy1IkfYFzgOsCZvdRzx3U]]></re_openid>
<total_amount>100</total_amount>
<send_listid><![CDATA[1000041701201609263000000204000]]></send_listid>
<package><![CDATA[sendid=242e8abd163d300019b2cae74ba8e8c06e3f0e51ab84d16b3c80decd22a5b672&ver=8&sign=4110d649a5aef52dd6b95654ddf91ca7d5411ac159ace4e1a766b7d3967a1c3dfe1d256811445a4abda2d9cfa4a9b377a829258bd00d90313c6c346f2349fe5d&mchid=11475856&appid=wxd27ebc41b85ce36d]]></package>
</xml>`;

// gethbinfo reply with two hbinfo records, from a peer test (code index id 9760003664).
const GETHBINFO_REPLY = `<xml>
<return_code><![CDATA[SUCCESS]]></return_code>
<return_msg><![CDATA[OK]]></return_msg>
<result_code><![CDATA[SUCCESS]]></result_code>
<err_code><![CDATA[SUCCESS]]></err_code>
<err_code_des><![CDATA[OK]]></err_code_des>
<mch_billno><![CDATA[18102701225620334]]></mch_billno>
<mch_id><![CDATA[1511021581]]></mch_id>
<detail_id><![CDATA[1000041701201810273000008722414]]></detail_id>
<status><![CDATA[RECEIVED]]></status>
<send_type><![CDATA[API]]></send_type>
<hb_type><![CDATA[NORMAL]]></hb_type>
<total_num>1</total_num>
<total_amount>100</total_amount>
<send_time><![CDATA[2018-10-27 01:24:11]]></send_time>
<hblist>
<hbinfo>
<openid><![CDATA[o_94s1OTMFP0JwWMnbCWhuKa9wPI]]></openid>
<amount>100</amount>
<rcv_time><![CDATA[2018-10-27 01:24:52]]></rcv_time>
</hbinfo>
<hbinfo>
<openid><![CDATA[o_94s1OTMFP0JwWMnbCWhuKa9wPI]]></openid>
<amount>100</amount>
<rcv_time><![CDATA[2018-10-27 01:24:52]]></rcv_time>
</hbinfo>
</hblist>
</xml>`;

// gochat mch/mch_test.go TestVerifyWXMLResult: a signed unifiedorder reply.
const GOCHAT_SIGNED_REPLY = {
  return_code: 'SUCCESS',
  return_msg: 'OK',
  appid: 'wx2421b1c4370ec43b',
  mch_id: '10000100',
  nonce_str: 'IITRi8Iabbblz1Jc',
  sign: 'E515C9BE3D3129764915407267CA0243',
  result_code: 'SUCCESS',
  prepay_id: 'wx201411101639507cbf6ffd8b0779950874',
  trade_type: 'APP',
};

describe('toPayXml', () => {
  it('writes the wechatpy dict_to_xml layout', () => {
    // wechatpy tests (dict_to_xml), with the sign from tests/test_pay.py test_calculate_signature.
    expect(signedPayXml({ test1: 'test1', test2: 'test2' }, KEY)).toBe(
      '<xml>\n<test1><![CDATA[test1]]></test1>\n<test2><![CDATA[test2]]></test2>\n<sign><![CDATA[1E3A8D73B5A4AEE787C0F68B5DAB8520]]></sign>\n</xml>',
    );
  });

  it('writes whole numbers bare, strings in CDATA and leaves undefined fields out', () => {
    expect(toPayXml({ total_amount: 200, wishing: '恭喜发财 & <好运>', scene_id: undefined })).toBe(
      '<xml>\n<total_amount>200</total_amount>\n<wishing><![CDATA[恭喜发财 & <好运>]]></wishing>\n</xml>',
    );
  });

  it('splits a value containing ]]> across two CDATA sections so it survives the round trip', () => {
    const xml = toPayXml({ remark: 'a]]>b' });
    expect(xml).toBe('<xml>\n<remark><![CDATA[a]]]]><![CDATA[>b]]></remark>\n</xml>');
    expect(parsePayXml(xml)).toEqual({ remark: 'a]]>b' });
  });

  it.each([
    { case: 'a nested object', fields: { detail: { goods: 'x' } } },
    { case: 'an array', fields: { detail: ['x'] } },
    { case: 'a boolean', fields: { profit_sharing: true } },
    { case: 'null', fields: { attach: null } },
    { case: 'a fractional amount', fields: { total_amount: 1.5 } },
    { case: 'Infinity', fields: { total_amount: Number.POSITIVE_INFINITY } },
    { case: 'an element name with a space', fields: { 'a b': 'x' } },
    { case: 'an element name that injects markup', fields: { 'a><b': 'x' } },
    { case: 'the name __proto__', fields: JSON.parse('{"__proto__":"x"}') as PayV2Params },
    { case: 'a control character XML cannot carry', fields: { remark: 'a\u0001b' } },
    { case: 'fields that are not an object', fields: 'appid=wx' },
  ])('rejects $case with an InputError', ({ fields }) => {
    expect(() => toPayXml(fields as unknown as PayV2Params)).toThrow(InputError);
  });
});

describe('signedPayXml', () => {
  it('signs exactly the fields it serialises', () => {
    const params = { wxappid: 'wx2421b1c4370ec43b', total_amount: 100, remark: '' };
    const parsed = parsePayXml(signedPayXml(params, KEY, 'HMAC-SHA256'));
    expect(parsed.sign).toBe(payV2Sign(params, KEY, 'HMAC-SHA256'));
    expect(verifyPayReplySign(parsed, KEY, 'HMAC-SHA256')).toBe('valid');
  });

  it('refuses params that already carry a sign', () => {
    expect(() => signedPayXml({ appid: 'wx', sign: 'X' }, KEY)).toThrow(InputError);
  });
});

describe('parsePayXml', () => {
  it('reads a sendminiprogramhb reply as a flat object of strings', () => {
    expect(parsePayXml(MINI_HB_REPLY)).toEqual({
      return_code: 'SUCCESS',
      return_msg: '发放成功',
      result_code: 'SUCCESS',
      err_code: 'SUCCESS',
      err_code_des: '发放成功',
      mch_billno: '2334580734271081478888000026',
      mch_id: '10000100',
      wxappid: 'wx2421b1c4370ec43b',
      re_openid: 'oeDV3t7xy1IkfYFzgOsCZvdRzx3U',
      total_amount: '100',
      send_listid: '1000041701201609263000000204000',
      package:
        'sendid=242e8abd163d300019b2cae74ba8e8c06e3f0e51ab84d16b3c80decd22a5b672&ver=8&sign=4110d649a5aef52dd6b95654ddf91ca7d5411ac159ace4e1a766b7d3967a1c3dfe1d256811445a4abda2d9cfa4a9b377a829258bd00d90313c6c346f2349fe5d&mchid=11475856&appid=wxd27ebc41b85ce36d',
    });
  });

  it.each([
    { case: 'an XML declaration and a byte order mark', xml: '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<xml><a>1</a></xml>\n', expected: { a: '1' } },
    { case: 'comments', xml: '<!-- r --><xml><a>1<!-- c --></a></xml>', expected: { a: '1' } },
    { case: 'escaped characters', xml: '<xml><a>&amp;&lt;&#x7EA2;</a></xml>', expected: { a: '&<红' } },
    { case: 'empty elements', xml: '<xml><a></a><b/><c><![CDATA[]]></c></xml>', expected: { a: '', b: '', c: '' } },
    { case: 'surrounding whitespace inside a value', xml: '<xml><a> x </a></xml>', expected: { a: ' x ' } },
    { case: 'an empty root', xml: '<xml></xml>', expected: {} },
    { case: 'a self-closed root', xml: '<xml/>', expected: {} },
  ])('accepts $case', ({ xml, expected }) => {
    expect(parsePayXml(xml)).toEqual(expected);
  });

  it.each([
    { case: 'an empty string', xml: '' },
    { case: 'only whitespace', xml: ' \n\t' },
    { case: 'plain text', xml: 'SYSTEMERROR' },
    { case: 'an HTML error page', xml: '<html><body>502 Bad Gateway</body></html>' },
    { case: 'an unclosed root', xml: '<xml><a>1</a>' },
    { case: 'a truncated element', xml: '<xml><a>1</xml>' },
    { case: 'another root', xml: '<foo><a>1</a></foo>' },
    { case: 'content after the root', xml: '<xml><a>1</a></xml>junk' },
    { case: 'a second root', xml: '<xml><a>1</a></xml><xml><a>2</a></xml>' },
    { case: 'a stray closing tag', xml: '<xml><a>1</a></xml></xml>' },
    { case: 'a DOCTYPE', xml: '<!DOCTYPE xml><xml><a>1</a></xml>' },
    { case: 'an internal ENTITY (billion laughs)', xml: '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><xml><a>&lol2;</a></xml>' },
    { case: 'an external ENTITY', xml: '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>' },
    { case: 'an HTML entity XML does not define', xml: '<xml><a>&nbsp;</a></xml>' },
    { case: 'a bare ampersand outside CDATA (as in gochat mock replies)', xml: '<xml><package>sendid=1&ver=8</package></xml>' },
    { case: 'a nested element', xml: '<xml><a><b>1</b></a></xml>' },
    { case: 'a repeated element', xml: '<xml><sign>A</sign><sign>B</sign></xml>' },
    { case: 'an attribute on a field', xml: '<xml><a x="1">v</a></xml>' },
    { case: 'an attribute on the root', xml: '<xml x="1"><a>v</a></xml>' },
    { case: 'stray text in the root', xml: '<xml>junk<a>1</a></xml>' },
    { case: 'text as the whole root', xml: '<xml><![CDATA[x]]></xml>' },
    { case: 'an element named constructor', xml: '<xml><constructor>x</constructor></xml>' },
    { case: 'an element named __proto__', xml: '<xml><__proto__>x</__proto__></xml>' },
    { case: 'an element name with a dash', xml: '<xml><a-b>x</a-b></xml>' },
    { case: 'a document over the size bound', xml: `<xml><a>${'x'.repeat(MAX_PAY_XML_CHARS)}</a></xml>` },
    { case: 'a non-string input', xml: Buffer.from('<xml/>') },
  ])('rejects $case with a PayXmlError', ({ xml }) => {
    expect(() => parsePayXml(xml as unknown as string)).toThrow(PayXmlError);
  });

  it('does not let an element named __proto__ reach any prototype', () => {
    expect(() => parsePayXml('<xml><__proto__><polluted>1</polluted></__proto__></xml>')).toThrow(PayXmlError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reads back whatever toPayXml writes', () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/).filter((candidate) => !(candidate in Object.prototype));
    const text = fc.string({ unit: 'binary', maxLength: 40 }).filter((value) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\r]/.test(value));
    fc.assert(
      fc.property(fc.dictionary(name, fc.oneof(text, fc.integer({ min: 0, max: 2_000_000_000 }))), (fields) => {
        const expected = Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, String(value)]));
        expect(parsePayXml(toPayXml(fields))).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe('parsePayXmlWithLists', () => {
  it('reads gethbinfo with its hblist records', () => {
    const { fields, lists } = parsePayXmlWithLists(GETHBINFO_REPLY, { hblist: 'hbinfo' });
    expect(fields).toMatchObject({ status: 'RECEIVED', mch_billno: '18102701225620334', total_amount: '100' });
    expect(fields).not.toHaveProperty('hblist');
    expect(lists).toEqual({
      hblist: [
        { openid: 'o_94s1OTMFP0JwWMnbCWhuKa9wPI', amount: '100', rcv_time: '2018-10-27 01:24:52' },
        { openid: 'o_94s1OTMFP0JwWMnbCWhuKa9wPI', amount: '100', rcv_time: '2018-10-27 01:24:52' },
      ],
    });
  });

  it('reads an empty list container as an empty list', () => {
    expect(parsePayXmlWithLists('<xml><status>SENT</status><hblist></hblist></xml>', { hblist: 'hbinfo' })).toEqual({
      fields: { status: 'SENT' },
      lists: { hblist: [] },
    });
  });

  it.each([
    { case: 'the hblist when no list is declared', xml: GETHBINFO_REPLY, lists: {} },
    { case: 'an unexpected item element', xml: '<xml><hblist><other><a>1</a></other></hblist></xml>', lists: { hblist: 'hbinfo' } },
    { case: 'an item nested one level deeper', xml: '<xml><hblist><hbinfo><x><y>1</y></x></hbinfo></hblist></xml>', lists: { hblist: 'hbinfo' } },
    { case: 'text instead of items', xml: '<xml><hblist>oops</hblist></xml>', lists: { hblist: 'hbinfo' } },
    { case: 'a repeated container', xml: '<xml><hblist></hblist><hblist></hblist></xml>', lists: { hblist: 'hbinfo' } },
  ] as Array<{ case: string; xml: string; lists: Record<string, string> }>)('rejects $case with a PayXmlError', ({ xml, lists }) => {
    expect(() => parsePayXmlWithLists(xml, lists)).toThrow(PayXmlError);
  });
});

describe('verifyPayReplySign', () => {
  it.each([
    { case: 'the gochat TestVerifyWXMLResult reply', reply: GOCHAT_SIGNED_REPLY, signType: undefined, expected: 'valid' },
    { case: 'the same reply with a changed prepay_id', reply: { ...GOCHAT_SIGNED_REPLY, prepay_id: 'wx201411101639507cbf6ffd8b0779950875' }, signType: undefined, expected: 'invalid' },
    { case: 'the same reply with a lowercase sign', reply: { ...GOCHAT_SIGNED_REPLY, sign: GOCHAT_SIGNED_REPLY.sign.toLowerCase() }, signType: undefined, expected: 'invalid' },
    { case: 'the same reply with an added field', reply: { ...GOCHAT_SIGNED_REPLY, code_url: 'weixin://wxpay/x' }, signType: undefined, expected: 'invalid' },
    { case: 'an MD5 reply checked as HMAC-SHA256', reply: GOCHAT_SIGNED_REPLY, signType: 'HMAC-SHA256', expected: 'invalid' },
    { case: 'a reply declaring a sign_type other than expected', reply: { ...GOCHAT_SIGNED_REPLY, sign_type: 'MD5' }, signType: 'HMAC-SHA256', expected: 'invalid' },
    { case: 'a reply declaring an unknown sign_type', reply: { ...GOCHAT_SIGNED_REPLY, sign_type: 'SHA1' }, signType: undefined, expected: 'invalid' },
    { case: 'a red-packet reply, which carries no sign', reply: parsePayXml(MINI_HB_REPLY), signType: undefined, expected: 'unsigned' },
    { case: 'a reply with an empty sign', reply: { ...GOCHAT_SIGNED_REPLY, sign: '' }, signType: undefined, expected: 'unsigned' },
  ] as const)('answers $expected for $case', ({ reply, signType, expected }) => {
    expect(verifyPayReplySign(reply, KEY, signType)).toBe(expected);
  });

  it('follows the sign_type a reply declares', () => {
    const unsigned = { return_code: 'SUCCESS', nonce_str: 'abc', sign_type: 'HMAC-SHA256' };
    const reply = { ...unsigned, sign: payV2Sign(unsigned, KEY, 'HMAC-SHA256') };
    expect(verifyPayReplySign(reply, KEY)).toBe('valid');
  });

  it('reports invalid when any single character of any signed field changes', () => {
    const value = fc.stringMatching(/^[0-9A-Za-z]{1,20}$/);
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[a-z][a-z_]{0,11}$/).filter((n) => n !== 'sign' && n !== 'sign_type' && !(n in Object.prototype)), value, { minKeys: 1 }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom<'MD5' | 'HMAC-SHA256'>('MD5', 'HMAC-SHA256'),
        (fields, pick, at, signType) => {
          const reply = { ...fields, sign: payV2Sign(fields, KEY, signType) };
          const names = Object.keys(fields);
          const name = names[pick % names.length]!;
          const original = fields[name]!;
          const index = at % original.length;
          const changed = original.slice(0, index) + (original[index] === 'A' ? 'B' : 'A') + original.slice(index + 1);
          expect(verifyPayReplySign(reply, KEY, signType)).toBe('valid');
          expect(verifyPayReplySign({ ...reply, [name]: changed }, KEY, signType)).toBe('invalid');
        },
      ),
      { numRuns: 200 },
    );
  });
});
