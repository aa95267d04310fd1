import { csvCell, toCsv } from '../../../shared/console/csv';
import { escapeHtml, html, jsonData, yuan } from '../../../shared/console/html';
import { routeOf } from '../../../shared/console/routes';

describe('csvCell', () => {
  it.each([
    { case: 'a formula', value: '=HYPERLINK("http://x","y")', cell: `"'=HYPERLINK(""http://x"",""y"")"` },
    { case: 'a plus sign', value: '+1+1', cell: `"'+1+1"` },
    { case: 'a minus sign in text', value: '-2+3', cell: `"'-2+3"` },
    { case: 'an at sign', value: '@SUM(A1)', cell: `"'@SUM(A1)"` },
    { case: 'a leading tab', value: '\t=1', cell: `"'\t=1"` },
    { case: 'a leading carriage return', value: '\r=1', cell: `"'\r=1"` },
    { case: 'quotes and commas', value: 'a "b", c', cell: '"a ""b"", c"' },
    { case: 'plain text', value: 'oMP_amy_00000000', cell: '"oMP_amy_00000000"' },
    { case: 'a negative number', value: -150, cell: '-150' },
    { case: 'null', value: null, cell: '""' },
  ])('makes $case inert', ({ value, cell }) => {
    expect(csvCell(value)).toBe(cell);
  });

  it('writes a UTF-8 BOM, a header and CRLF lines', () => {
    expect(toCsv(['a', 'b'], [['新春', 1]])).toBe('\uFEFF"a","b"\r\n"新春",1\r\n');
  });
});

describe('html', () => {
  it('escapes every interpolated value and keeps nested fragments', () => {
    const openid = '<img src=x onerror=alert(1)>"\'`&';
    expect(html`<td title="${openid}">${openid}${html`<b>${'<i>'}</b>`}</td>`.text)
      .toBe('<td title="&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&#96;&amp;">&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&#96;&amp;<b>&lt;i&gt;</b></td>');
    expect(escapeHtml('a&b')).toBe('a&amp;b');
  });

  it('puts data in a JSON block that no string can close', () => {
    const block = jsonData('chart-data', { name: '</script><script>alert(1)</script>' }).text;

    expect(block).not.toContain('</script><script>');
    expect(JSON.parse(block.replace(/^<script[^>]*>/, '').replace(/<\/script>$/, ''))).toEqual({ name: '</script><script>alert(1)</script>' });
  });

  it.each([
    { fen: 0, text: '0.00' }, { fen: 5, text: '0.05' }, { fen: 150, text: '1.50' }, { fen: 123456, text: '1234.56' }, { fen: -5, text: '-0.05' },
  ])('shows $fen fen as $text', ({ fen, text }) => {
    expect(yuan(fen)).toBe(text);
  });
});

describe('routeOf', () => {
  it.each([
    { case: 'the root', method: 'GET', subpath: '', route: { name: 'home' } },
    { case: 'a campaign', method: 'GET', subpath: '/campaigns/spring-2026', route: { name: 'campaign', id: 'spring-2026' } },
    { case: 'a pause', method: 'POST', subpath: '/campaigns/spring-2026/pause', route: { name: 'campaign-pause', id: 'spring-2026', paused: true } },
    { case: 'a claim id with colons, encoded', method: 'POST', subpath: '/claims/spring%3Aopenid%3Awx1%3Ao1/settle', route: { name: 'claim-action', claimId: 'spring:openid:wx1:o1', action: 'settle' } },
    { case: 'a hashed asset', method: 'GET', subpath: '/assets/weui.0123456789ab.css', route: { name: 'asset', file: 'weui.0123456789ab.css' } },
    { case: 'a change by GET', method: 'GET', subpath: '/campaigns/spring-2026/pause', route: { name: 'not-found' } },
    { case: 'a path escaping the assets', method: 'GET', subpath: '/assets/..%2F..%2Fetc.0123456789ab.css', route: { name: 'not-found' } },
    { case: 'broken percent-encoding', method: 'GET', subpath: '/campaigns/%E0%A4%A', route: { name: 'not-found' } },
  ] as const)('reads $case', ({ method, subpath, route }) => {
    expect(routeOf({ method, subpath })).toEqual(route);
  });
});

describe('the campaign page of a claim-page campaign', () => {
  it('shows the funnel per channel, its refusals escaped like every value', async () => {
    const { campaignPage } = await import('../../../shared/console/pages');
    const detail = {
      id: 'spring-follow', title: '新关注有礼', payout: 'cash', eligibility: 'follow', state: 'open' as const, startsAtMs: 0, endsAtMs: 1, budgetFen: 1000, reservedFen: 200, leftFen: 800,
      packetCount: 10, reservedCount: 2, amount: '1.00 each', paused: false, pausedAtMs: null, pausedBy: null, claimsByStatus: [], paidCount: 2, paidFen: 200, paidIsApproximate: false,
      held: [], open: [], failed: [], waiting: [], stats: { refusals: [], payErrors: [] },
      funnel: [{ channel: 'wx10ca1000000000a2:account', stages: { follows: 9, linksSent: 7, linksOpened: 6, authorised: 5, claimed: 2, paid: 2 }, refusals: { not_new: 2, '<b>': 1 } }],
    };
    const page = campaignPage({ assets: { styles: [], script: '/s.js' }, operator: 'ops', csrf: 'c', nowMs: 0 }, detail, null);
    expect(page).toContain('Funnel per channel');
    expect(page).toMatch(/data-channel="wx10ca1000000000a2:account"><td><code>wx10ca1000000000a2:account<\/code><\/td><td data-stage="follows">9<\/td><td data-stage="linksSent">7<\/td>/);
    expect(page).toContain('<code>not_new</code> 2');
    expect(page).toContain('&lt;b&gt;');
  });
});
