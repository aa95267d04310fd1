import { ipAllowed, planCampaign, regionAllowList } from '../../../shared/claims/campaign';

const NOW_MS = Date.parse('2026-02-01T00:00:00+08:00');
const BASE = {
  id: 'spring-2026',
  kind: 'cash',
  sendName: '某某商城',
  wishing: '新年快乐',
  actName: '新春红包',
  remark: '关注公众号领取',
  startsAt: '2026-02-01T00:00:00+08:00',
  endsAt: '2026-02-08T00:00:00+08:00',
  budgetFen: 100_000,
  amount: { fixedFen: 1_000 },
};

describe('planCampaign', () => {
  it('turns a fixed-amount definition into a campaign with budget / amount packets and no slots', () => {
    const plan = planCampaign(BASE, { nowMs: NOW_MS });
    expect(plan).toEqual({
      campaign: {
        _id: 'spring-2026',
        eligibility: 'miniprogram',
        payout: 'cash',
        sendName: '某某商城',
        wishing: '新年快乐',
        actName: '新春红包',
        remark: '关注公众号领取',
        sceneId: null,
        startsAtMs: NOW_MS,
        endsAtMs: NOW_MS + 7 * 86_400_000,
        budgetFen: 100_000,
        packetCount: 100,
        amount: { mode: 'fixed', amountFen: 1_000 },
        allowedCidrs: [],
        userCallsPerMinute: 10,
        claimsPerSecond: 200,
        claimedCount: 0,
        claimedFen: 0,
        returnedAmountsFen: [],
        rateWindowStartMs: 0,
        rateWindowCount: 0,
        createdAtMs: NOW_MS,
      },
      slots: [],
    });
  });

  it('pre-generates one slot per packet for random amounts, summing to the budget', () => {
    const plan = planCampaign({ ...BASE, budgetFen: 10_000, amount: { minFen: 100, maxFen: 500, count: 40 } }, { nowMs: NOW_MS });
    expect(plan.campaign).toMatchObject({ packetCount: 40, amount: { mode: 'random', minFen: 100, maxFen: 500 } });
    expect(plan.slots.map((slot) => slot._id)).toEqual(Array.from({ length: 40 }, (unused, i) => `spring-2026:${i}`));
    expect(plan.slots.reduce((sum, slot) => sum + slot.amountFen, 0)).toBe(10_000);
  });

  it('allows amounts outside 1–200 元 only with a scene_id', () => {
    expect(() => planCampaign({ ...BASE, budgetFen: 5_000, amount: { fixedFen: 50 } }, { nowMs: NOW_MS })).toThrow(/fixedFen must be within 100–20000 fen/);
    expect(planCampaign({ ...BASE, budgetFen: 5_000, amount: { fixedFen: 50 }, sceneId: 'PRODUCT_2' }, { nowMs: NOW_MS }).campaign)
      .toMatchObject({ sceneId: 'PRODUCT_2', packetCount: 100 });
  });

  it('names every problem of a bad definition at once', () => {
    const bad = {
      ...BASE,
      id: 'Spring 2026',
      kind: 'group',
      sendName: 'x'.repeat(33),
      wishing: '',
      endsAt: '2026-01-01 00:00',
      budgetFen: 100_500,
      allowedCidrs: ['10.0.0.0/33', 'nonsense'],
      color: 'red',
    };
    expect(() => planCampaign(bad, { nowMs: NOW_MS })).toThrow(
      'Invalid campaign:\n' +
        '  - id must be 1–40 characters of a-z, 0-9 and -, starting with a letter or digit\n' +
        '  - payout must be one of miniprogram, cash, transfer\n' +
        '  - unknown field color\n' +
        '  - sendName must be at most 32 characters\n' +
        '  - wishing is required (text, at most 128 characters)\n' +
        '  - endsAt must be epoch ms or an ISO 8601 time with an offset (e.g. 2026-02-01T00:00:00+08:00)\n' +
        '  - budgetFen must be a whole multiple of amount.fixedFen\n' +
        '  - allowedCidrs entry "10.0.0.0/33" is not a CIDR range\n' +
        '  - allowedCidrs entry "nonsense" is not a CIDR range',
    );
  });

  it.each([
    { case: 'a random split the budget cannot fill', amount: { minFen: 100, maxFen: 200, count: 10 }, budgetFen: 5_000, message: /cannot spend budgetFen/ },
    { case: 'a random split the budget cannot afford', amount: { minFen: 100, maxFen: 200, count: 10 }, budgetFen: 900, message: /too small for 10 packets/ },
    { case: 'an unknown amount field', amount: { fixedFen: 1_000, maxFen: 2 }, budgetFen: 100_000, message: /unknown field amount.maxFen/ },
  ])('refuses $case', ({ amount, budgetFen, message }) => {
    expect(() => planCampaign({ ...BASE, amount, budgetFen }, { nowMs: NOW_MS })).toThrow(message);
  });

  it('takes payout and eligibility, with kind as the older name of payout', () => {
    const { kind: _kind, ...withoutKind } = BASE;
    expect(planCampaign({ ...withoutKind, payout: 'miniprogram', eligibility: 'miniprogram' }, { nowMs: NOW_MS }).campaign)
      .toMatchObject({ eligibility: 'miniprogram', payout: 'miniprogram' });
    expect(planCampaign(BASE, { nowMs: NOW_MS }).campaign).not.toHaveProperty('kind');
    expect(() => planCampaign({ ...BASE, payout: 'miniprogram' }, { nowMs: NOW_MS })).toThrow(/kind is the older name of payout: give one of them/);
    expect(() => planCampaign({ ...BASE, eligibility: 'nobody' }, { nowMs: NOW_MS })).toThrow(/eligibility must be one of miniprogram, follow, webview/);
    // A follow campaign names its channels (eligibility/follow.ts), and pays cash or a transfer.
    expect(() => planCampaign({ ...BASE, eligibility: 'follow' }, { nowMs: NOW_MS })).toThrow(/follow must be \{ channels/);
  });

  it('refuses a window that is already over', () => {
    expect(() => planCampaign(BASE, { nowMs: NOW_MS + 8 * 86_400_000 })).toThrow(/endsAt is in the past/);
  });
});

describe('the region allow-list', () => {
  const list = regionAllowList(['10.0.0.0/8', '2001:db8::/32']);

  it.each([
    { case: 'an IPv4 address inside', ip: '10.20.30.40', allowed: true },
    { case: 'an IPv4 address outside', ip: '11.0.0.1', allowed: false },
    { case: 'an IPv6 address inside', ip: '2001:db8:1::5', allowed: true },
    { case: 'an IPv6 address outside', ip: '2001:db9::1', allowed: false },
    { case: 'no address', ip: undefined, allowed: false },
    { case: 'garbage', ip: 'not-an-ip', allowed: false },
  ])('answers $allowed for $case', ({ ip, allowed }) => {
    expect(ipAllowed(list, ip)).toBe(allowed);
  });

  it('allows every address when the campaign has no list', () => {
    expect(ipAllowed(regionAllowList([]), undefined)).toBe(true);
  });
});
