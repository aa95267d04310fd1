import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { checkLogo, templateFlags, validateCardTemplate } from '../../shared/cards/template';

const DIR = path.join(__dirname, '..', '..', 'scripts', 'card-templates');
const load = (name: string) => JSON.parse(readFileSync(path.join(DIR, name), 'utf8'));

function coupon(patch: (base: Record<string, any>, body: Record<string, any>) => void) {
  const template = load('general-coupon.json');
  template.card.general_coupon.base_info.logo_url = 'http://mmbiz.qpic.cn/mmbiz/x/0';
  patch(template.card.general_coupon.base_info, template.card.general_coupon);
  return template;
}

describe('validateCardTemplate', () => {
  it.each(readdirSync(DIR).filter((f) => f.endsWith('.json')))('accepts the shipped template %s', (file) => {
    expect(validateCardTemplate(load(file), { requireLogo: false })).toEqual([]);
  });

  it.each([
    { case: 'a 10-character title', patch: (b: any) => (b.title = '一二三四五六七八九十'), problem: /title is 10 characters; WeChat allows at most 9/ },
    { case: 'a 13-character brand name', patch: (b: any) => (b.brand_name = 'abcdefghijklm'), problem: /brand_name is 13 characters/ },
    { case: 'a missing notice', patch: (b: any) => delete b.notice, problem: /notice is required/ },
    { case: 'an unknown colour', patch: (b: any) => (b.color = 'red'), problem: /color must be a colour name/ },
    { case: 'zero stock', patch: (b: any) => (b.sku.quantity = 0), problem: /sku.quantity must be an integer from 1/ },
    { case: 'an unknown code type', patch: (b: any) => (b.code_type = 'CODE_TYPE_SMOKE'), problem: /code_type must be one of/ },
    { case: 'a reversed time range', patch: (b: any) => (b.date_info = { type: 'DATE_TYPE_FIX_TIME_RANGE', begin_timestamp: 20, end_timestamp: 10 }), problem: /begin_timestamp < end_timestamp/ },
    { case: 'a permanent coupon', patch: (b: any) => (b.date_info = { type: 'DATE_TYPE_PERMANENT' }), problem: /member cards only/ },
    { case: 'a string flag', patch: (b: any) => (b.bind_openid = 'yes'), problem: /bind_openid must be true or false/ },
    { case: 'no default_detail', patch: (_b: any, body: any) => delete body.default_detail, problem: /general_coupon.default_detail is required/ },
    { case: 'no logo', patch: (b: any) => delete b.logo_url, problem: /logo_url must be the URL uploadimg returned/ },
  ])('names $case', ({ patch, problem }) => {
    const problems = validateCardTemplate(coupon(patch));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(problem);
  });

  it('lists every problem at once', () => {
    const problems = validateCardTemplate(coupon((b) => {
      b.title = '一二三四五六七八九十';
      b.color = 'red';
      delete b.notice;
    }));
    expect(problems).toHaveLength(3);
  });

  it.each([
    { case: 'not an object', template: 'card', problem: /must be \{ "card"/ },
    { case: 'an unknown type', template: { card: { card_type: 'LOTTERY' } }, problem: /card_type must be one of/ },
    { case: 'a body under the wrong key', template: { card: { card_type: 'CASH', general_coupon: {} } }, problem: /card.cash is missing/ },
  ])('refuses $case', ({ template, problem }) => {
    expect(validateCardTemplate(template)[0]).toMatch(problem);
  });

  it('checks type-specific rules', () => {
    const cash = load('cash.json');
    cash.card.cash.reduce_cost = 9000;
    expect(validateCardTemplate(cash, { requireLogo: false })).toEqual(['card.cash.reduce_cost cannot exceed least_cost']);
    const discount = load('discount.json');
    discount.card.discount.discount = 100;
    expect(validateCardTemplate(discount, { requireLogo: false })).toEqual(['card.discount.discount must be 1–99 (percent off)']);
  });

  it('reads the registration flags', () => {
    expect(templateFlags(load('meeting-ticket.json'))).toEqual({ customCode: true, bindOpenid: true, title: '年度开发者大会' });
  });
});

describe('checkLogo', () => {
  it('accepts PNG and JPG by their first bytes', () => {
    expect(checkLogo(readFileSync(path.join(DIR, 'logo.png')))).toEqual({ contentType: 'image/png' });
    expect(checkLogo(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0]))).toEqual({ contentType: 'image/jpeg' });
  });
  it('refuses other files and files over 1 MB', () => {
    expect(() => checkLogo(Buffer.from('GIF89a'))).toThrow(/JPG or PNG/);
    expect(() => checkLogo(new Uint8Array(1024 * 1024 + 1).fill(0x89))).toThrow(/at most 1 MB/);
  });
});
