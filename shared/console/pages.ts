/**
 * The console's pages: plain server-rendered HTML styled with weui (WeChat's design system) and a
 * small stylesheet of our own. No inline script or style (the CSP forbids both); the one script
 * draws charts from a JSON data block. Every change is a POST form carrying the CSRF token.
 */
import type { AuditDoc } from './model';
import type { AccountFacts, AccountView, FollowReport } from './areas/accounts';
import type { CampaignDetail, CampaignRow, ClaimLine } from './areas/campaigns';
import type { LedgerFilter, LedgerRow, LedgerSource } from './areas/ledger';
import { beijingTime, duration, html, jsonData, yuan, type Html } from './html';

/** Where the assets are (content-hashed URLs, so they can be cached for ever). */
export interface AssetUrls {
  styles: readonly string[];
  script: string;
}

export interface PageFrame {
  assets: AssetUrls;
  /** Null on the sign-in page. */
  operator: string | null;
  csrf: string;
  nowMs: number;
}

export const BASE = '/console';

const NAV = [
  ['campaigns', 'Campaigns'],
  ['accounts', 'Accounts'],
  ['ledger', 'Ledger'],
  ['audit', 'Audit'],
] as const;

export function layout(frame: PageFrame, title: string, active: string, body: Html): string {
  const nav = frame.operator === null
    ? html``
    : html`<nav class="console-nav">
        ${NAV.map(([id, label]) => html`<a href="${BASE}/${id}" class="${id === active ? 'console-nav__item console-nav__item_on' : 'console-nav__item'}">${label}</a>`)}
        <form method="post" action="${BASE}/sign-out" class="console-nav__out">
          <input type="hidden" name="csrf" value="${frame.csrf}">
          <span class="console-nav__who">${frame.operator}</span>
          <button type="submit" class="weui-btn weui-btn_mini weui-btn_default" data-test="sign-out">Sign out</button>
        </form>
      </nav>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Console</title>
${frame.assets.styles.map((href) => html`<link rel="stylesheet" href="${href}">`)}
<script src="${frame.assets.script}" defer></script>
</head>
<body class="console" data-weui-theme="light">
<header class="console-header"><a href="${BASE}/campaigns" class="console-header__brand">Cards &amp; red packets · console</a></header>
${nav}
<main class="console-main">
<h1 class="console-title">${title}</h1>
${body}
</main>
<footer class="console-footer">Times are China time (UTC+8). Rendered ${beijingTime(frame.nowMs)}.</footer>
</body>
</html>`.text;
}

export function signInPage(frame: PageFrame, problem: string | null): string {
  return layout(frame, 'Sign in', '', html`
<form method="post" action="${BASE}/sign-in" class="console-card console-signin" autocomplete="on">
  ${problem === null ? html`` : html`<div class="weui-msg__desc console-problem" role="alert" data-test="problem">${problem}</div>`}
  <input type="hidden" name="csrf" value="${frame.csrf}">
  <label class="console-field"><span>Name</span><input class="weui-input" name="name" autocomplete="username" required maxlength="64" autofocus></label>
  <label class="console-field"><span>Password</span><input class="weui-input" type="password" name="password" autocomplete="current-password" required maxlength="256"></label>
  <button type="submit" class="weui-btn weui-btn_primary" data-test="sign-in">Sign in</button>
  <p class="console-hint">Operators are created with <code>npm run console -- operator-add NAME</code>.</p>
</form>`);
}

function stateBadge(state: string): Html {
  return html`<span class="console-badge console-badge_${state.replace(' ', '-')}">${state}</span>`;
}

export function campaignsPage(frame: PageFrame, rows: readonly CampaignRow[]): string {
  const body = rows.length === 0
    ? html`<p class="console-empty">No campaigns yet. Create one with <code>npm run campaign -- create FILE.json</code>.</p>`
    : html`<table class="console-table" data-test="campaigns">
  <thead><tr><th>Campaign</th><th>State</th><th>Payout</th><th>Window</th><th class="num">Budget</th><th class="num">Reserved</th><th class="num">Left</th><th class="num">Packets</th></tr></thead>
  <tbody>${rows.map((row) => html`<tr data-campaign="${row.id}">
    <td><a href="${BASE}/campaigns/${encodeURIComponent(row.id)}">${row.id}</a><div class="console-sub">${row.title}</div></td>
    <td>${stateBadge(row.state)}</td>
    <td>${row.payout}<div class="console-sub">${row.amount}</div></td>
    <td>${beijingTime(row.startsAtMs)}<div class="console-sub">→ ${beijingTime(row.endsAtMs)}</div></td>
    <td class="num">${yuan(row.budgetFen)}</td><td class="num">${yuan(row.reservedFen)}</td><td class="num">${yuan(row.leftFen)}</td>
    <td class="num">${row.reservedCount} / ${row.packetCount}</td>
  </tr>`)}</tbody>
</table>`;
  return layout(frame, 'Campaigns', 'campaigns', body);
}

const ACTION_LABELS: Readonly<Record<NonNullable<ClaimLine['action']>, string>> = { settle: 'Settle now', reissue: 'Reissue', 'cancel-transfer': 'Cancel transfer' };

function claimTable(frame: PageFrame, title: string, test: string, lines: readonly ClaimLine[], campaignId: string): Html {
  if (lines.length === 0) return html``;
  return html`<h2 class="console-h2">${title} (${lines.length})</h2>
<table class="console-table" data-test="${test}">
  <thead><tr><th>Claim</th><th>Status</th><th class="num">Amount</th><th>Bill no. (attempt)</th><th>Why</th><th>Since</th><th></th></tr></thead>
  <tbody>${lines.map((line) => html`<tr data-claim="${line.id}">
    <td><code>${line.id}</code><div class="console-sub">${line.openid}</div></td>
    <td>${line.status}</td><td class="num">${yuan(line.amountFen)}</td>
    <td><code>${line.mchBillno}</code> (${line.attempt})</td>
    <td class="console-reason">${line.reason}</td>
    <td>${duration(frame.nowMs - line.sinceMs)} ago</td>
    <td>${line.action === null ? html`` : html`<form method="post" action="${BASE}/claims/${encodeURIComponent(line.id)}/${line.action}">
      <input type="hidden" name="csrf" value="${frame.csrf}"><input type="hidden" name="campaign" value="${campaignId}">
      <button type="submit" class="weui-btn weui-btn_mini ${line.action === 'cancel-transfer' ? 'weui-btn_warn' : 'weui-btn_primary'}" data-test="${line.action}">${ACTION_LABELS[line.action]}</button>
    </form>`}</td>
  </tr>`)}</tbody>
</table>`;
}

function countList(test: string, items: ReadonlyArray<{ label: string; count: number }>, empty: string): Html {
  if (items.length === 0) return html`<p class="console-empty" data-test="${test}">${empty}</p>`;
  return html`<ul class="console-counts" data-test="${test}">${items.map((item) => html`<li><code>${item.label}</code> <b>${item.count}</b></li>`)}</ul>`;
}

/** A claim-page campaign's funnel: one row per channel, its refusals beside it. */
function funnelTable(detail: CampaignDetail): Html {
  if (detail.funnel.length === 0) return html``;
  const stages = ['follows', 'linksSent', 'linksOpened', 'authorised', 'claimed', 'paid'] as const;
  return html`<h2 class="console-h2">Funnel per channel</h2>
<table class="console-table" data-test="funnel">
  <thead><tr><th>Channel</th><th>Follows</th><th>Links sent</th><th>Opened</th><th>Authorised</th><th>Claimed</th><th>Paid</th><th>Refused</th></tr></thead>
  <tbody>${detail.funnel.map((entry) => html`<tr data-channel="${entry.channel}"><td><code>${entry.channel}</code></td>${stages.map((stage) => html`<td data-stage="${stage}">${entry.stages[stage]}</td>`)}<td>${Object.entries(entry.refusals).map(([reason, count]) => html`<code>${reason}</code> ${count} `)}</td></tr>`)}</tbody>
</table>`;
}

export function campaignPage(frame: PageFrame, detail: CampaignDetail, notice: string | null): string {
  const pauseAction = detail.paused ? 'resume' : 'pause';
  const unit = detail.payout === 'transfer' ? 'transfers' : 'packets';
  const body = html`
${notice === null ? html`` : html`<div class="console-notice" role="status" data-test="notice">${notice}</div>`}
<section class="console-card" data-test="summary">
  <div class="console-kv"><span>State</span><b data-test="state">${stateBadge(detail.state)}</b></div>
  <div class="console-kv"><span>Window</span><b>${beijingTime(detail.startsAtMs)} → ${beijingTime(detail.endsAtMs)}</b></div>
  <div class="console-kv"><span>Payout</span><b>${detail.payout} · ${detail.amount} · who may claim: ${detail.eligibility}</b></div>
  <div class="console-kv"><span>Budget</span><b data-test="budget">${yuan(detail.budgetFen)} 元</b></div>
  <div class="console-kv"><span>Left</span><b data-test="left">${yuan(detail.leftFen)} 元 (${detail.packetCount - detail.reservedCount} of ${detail.packetCount} ${unit})</b></div>
  <div class="console-kv"><span>Paid</span><b data-test="paid">${detail.paidIsApproximate ? '≤ ' : ''}${yuan(detail.paidFen)} 元 in ${detail.paidCount} ${unit}</b></div>
  ${detail.paused ? html`<div class="console-kv"><span>Paused</span><b>by ${detail.pausedBy ?? '?'} at ${beijingTime(detail.pausedAtMs)}: new claims are refused</b></div>` : html``}
  <form method="post" action="${BASE}/campaigns/${encodeURIComponent(detail.id)}/${pauseAction}" class="console-actions">
    <input type="hidden" name="csrf" value="${frame.csrf}">
    <button type="submit" class="weui-btn weui-btn_mini ${detail.paused ? 'weui-btn_primary' : 'weui-btn_warn'}" data-test="${pauseAction}">${detail.paused ? 'Resume claims' : 'Pause claims'}</button>
  </form>
</section>
<h2 class="console-h2">Claims by state</h2>
${countList('by-state', detail.claimsByStatus.map(({ status, count }) => ({ label: status, count })), 'No claims yet.')}
<h2 class="console-h2">Refusals by reason</h2>
${countList('refusals', detail.stats.refusals.map(({ reason, count }) => ({ label: reason, count })), 'No refusals counted.')}
${funnelTable(detail)}
<h2 class="console-h2">Pay error codes</h2>
${countList('pay-errors', detail.stats.payErrors.map(({ code, count }) => ({ label: code, count })), 'No Pay errors counted.')}
${claimTable(frame, 'Held for the operator', 'held', detail.held, detail.id)}
${claimTable(frame, 'Open (being paid or checked)', 'open', detail.open, detail.id)}
${claimTable(frame, 'Waiting for the user\'s confirmation (transfers; the reconciler follows each bill)', 'waiting', detail.waiting, detail.id)}
${claimTable(frame, 'Failed for good', 'failed', detail.failed, detail.id)}
<p><a href="${BASE}/ledger?campaign=${encodeURIComponent(detail.id)}">Paid ${unit} of this campaign →</a></p>`;
  return layout(frame, `Campaign ${detail.id}`, 'campaigns', body);
}

function accountFacts(account: AccountFacts | null): Html {
  if (account === null) return html`<p class="console-sub" data-test="facts">Not in the accounts registry: credentials cached for an appid this environment no longer serves.</p>`;
  const badges = [
    account.kind === 'service' ? 'service account (服务号)' : 'subscription account (订阅号)',
    account.verified ? 'verified' : 'unverified',
    `${account.messageMode} mode`,
    ...(account.isDefault ? ['the environment\'s account'] : []),
  ];
  return html`<ul class="console-counts" data-test="facts">
    ${account.active ? html`` : html`<li><span class="console-badge console-badge_ended">removed</span></li>`}
    ${badges.map((badge) => html`<li>${badge}</li>`)}
  </ul>
  <p class="console-sub">Can: ${account.capabilities.length === 0 ? 'token, tickets, pushes and replies only' : account.capabilities.join(', ')}</p>`;
}

function credentialTable(frame: PageFrame, account: AccountView): Html {
  if (account.credentials.length === 0) return html`<p class="console-sub" data-test="credentials">No credentials cached yet: the getToken and getTicket timers fill them (or call getToken once).</p>`;
  return html`<table class="console-table" data-test="credentials">
    <thead><tr><th>Credential</th><th class="num">Version</th><th>Age</th><th>Expires</th><th>Next refresh</th><th>Source</th><th>Last error</th></tr></thead>
    <tbody>${account.credentials.map((line) => html`<tr data-kind="${line.kind}">
      <td>${line.kind}${line.hasValue ? html`` : html` <span class="console-badge console-badge_ended">no value</span>`}</td>
      <td class="num">${line.version}</td>
      <td>${line.fetchedAtMs > 0 ? `${duration(frame.nowMs - line.fetchedAtMs)}` : '—'}</td>
      <td>${beijingTime(line.expiresAtMs)}</td>
      <td>${line.refreshDueAtMs <= frame.nowMs ? 'at the next timer run' : `in ${duration(line.refreshDueAtMs - frame.nowMs)}`}</td>
      <td>${line.source ?? '—'}</td>
      <td class="console-reason">${line.lastError === null ? '—' : html`<code>${line.lastError.errcode ?? line.lastError.code}</code> ${line.lastError.message} <div class="console-sub">${beijingTime(line.lastError.atMs)}${line.backoffUntilMs > frame.nowMs ? `, calls paused for ${duration(line.backoffUntilMs - frame.nowMs)}` : ''}</div>`}
        ${line.ipRefusal === null ? html`` : html`<div class="console-problem" data-test="ip-refusal">WeChat saw <b>${line.ipRefusal.ip}</b>. ${line.ipRefusal.advice}</div>`}</td>
    </tr>`)}</tbody>
  </table>`;
}

function followSection(account: AccountView): Html {
  const follows = account.follows;
  if (follows === null) return html``;
  if (follows.channels.length === 0) return html`<p class="console-sub" data-test="follows">No follows counted yet (pushes to <code>/wx/push/${account.appId}</code> count them per channel).</p>`;
  const row = (channel: string, counts: FollowReport['total'], test: string) => html`<tr data-channel="${channel}" data-test="${test}">
    <td>${channel}</td><td class="num">${counts.follows}</td><td class="num">${counts.firstFollows}</td><td class="num">${counts.returningFollows}</td>
    <td class="num">${counts.unfollows}</td><td class="num">${counts.net}</td><td class="num">${counts.scans}</td></tr>`;
  return html`<h3 class="console-h3">Follows per channel, all time</h3>
  <table class="console-table" data-test="follows">
    <thead><tr><th>Channel</th><th class="num">Follows</th><th class="num">First</th><th class="num">Returning</th><th class="num">Unfollows</th><th class="num">Net</th><th class="num">Scans</th></tr></thead>
    <tbody>${follows.channels.map((channel) => row(channel.channel, channel, 'channel'))}${row('all channels', follows.total, 'total')}</tbody>
  </table>
  ${follows.truncated ? html`<p class="console-problem">More counters than one read holds: some counts are missing.</p>` : html``}
  <h3 class="console-h3">Follows per day and channel (last ${follows.series.days.length} days)</h3>
  <div class="console-chart" data-chart="follows-${account.appId}"></div>`;
}

export function accountsPage(frame: PageFrame, accounts: readonly AccountView[]): string {
  const charts = accounts
    .filter((account) => account.follows !== null && account.follows.channels.length > 0)
    .map((account) => ({ id: `follows-${account.appId}`, series: account.follows!.series }));
  const body = accounts.length === 0
    ? html`<p class="console-empty">No official accounts: add one with <code>npm run accounts -- add</code>.</p>`
    : html`${accounts.map((account) => html`<section class="console-card" data-account="${account.appId}">
  <h2 class="console-h2">${account.appId}${account.account?.name ? html` <span class="console-sub">${account.account.name}</span>` : html``}</h2>
  ${accountFacts(account.account)}
  ${credentialTable(frame, account)}
  ${followSection(account)}
</section>`)}`;
  return layout(frame, 'Accounts', 'accounts', html`${body}${charts.length === 0 ? html`` : jsonData('chart-data', charts)}`);
}

function dateInput(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
}

export function ledgerPage(
  frame: PageFrame,
  view: { rows: readonly LedgerRow[]; totalFen: number; truncated: boolean },
  filter: LedgerFilter,
  sources: ReadonlyArray<Pick<LedgerSource, 'kind' | 'name'>>,
  csvHref: string,
): string {
  const perDay = new Map<string, number>();
  for (const row of view.rows) {
    const day = new Date(row.paidAtMs + 8 * 3_600_000).toISOString().slice(0, 10);
    perDay.set(day, (perDay.get(day) ?? 0) + row.amountFen);
  }
  const days = [...perDay.keys()].sort();
  const chart = days.length < 2 ? html`` : html`<h2 class="console-h2">Paid per day (元, the rows below)</h2><div class="console-chart" data-chart="ledger"></div>${jsonData('chart-data', [{ id: 'ledger', series: { days, channels: [{ channel: 'paid', follows: days.map((day) => (perDay.get(day) ?? 0) / 100), unfollows: [] }] } }])}`;
  const body = html`
<form method="get" action="${BASE}/ledger" class="console-card console-filter" data-test="filter">
  <label class="console-field"><span>Kind</span><select class="weui-input" name="kind">
    <option value=""${filter.kind === undefined ? html` selected` : html``}>Everything paid</option>
    ${sources.map((source) => html`<option value="${source.kind}"${filter.kind === source.kind ? html` selected` : html``}>${source.name}</option>`)}
  </select></label>
  <label class="console-field"><span>Campaign</span><input class="weui-input" name="campaign" value="${filter.campaignId ?? ''}" maxlength="64"></label>
  <label class="console-field"><span>Openid</span><input class="weui-input" name="openid" value="${filter.openid ?? ''}" maxlength="64"></label>
  <label class="console-field"><span>From</span><input class="weui-input" type="date" name="from" value="${dateInput(filter.fromMs)}"></label>
  <label class="console-field"><span>Before</span><input class="weui-input" type="date" name="to" value="${dateInput(filter.toMs)}"></label>
  <button type="submit" class="weui-btn weui-btn_mini weui-btn_primary">Filter</button>
  <a class="weui-btn weui-btn_mini weui-btn_default" href="${csvHref}" data-test="csv">Export CSV</a>
</form>
<p data-test="total">${view.rows.length} payment(s), ${yuan(view.totalFen)} 元${view.truncated ? html` — <b>only the newest ${filter.limit} shown</b>; narrow the filter or export` : html``}</p>
${chart}
${view.rows.length === 0 ? html`<p class="console-empty">Nothing paid matches.</p>` : html`<table class="console-table" data-test="ledger">
  <thead><tr><th>Paid</th><th>Kind</th><th>Campaign</th><th>Payee openid</th><th class="num">Amount</th><th>Bill no.</th><th>WeChat no.</th><th>Status</th></tr></thead>
  <tbody>${view.rows.map((row) => html`<tr data-claim="${row.claimId}">
    <td>${beijingTime(row.paidAtMs)}</td><td>${row.kind}</td>
    <td><a href="${BASE}/campaigns/${encodeURIComponent(row.campaignId)}">${row.campaignId}</a></td>
    <td><code>${row.openid}</code></td><td class="num">${yuan(row.amountFen)}</td>
    <td><code>${row.billNo}</code></td><td><code>${row.wechatNo}</code></td><td>${row.status}</td>
  </tr>`)}</tbody>
</table>`}`;
  return layout(frame, 'Ledger', 'ledger', body);
}

export function auditPage(frame: PageFrame, entries: readonly AuditDoc[]): string {
  const body = html`<table class="console-table" data-test="audit">
  <thead><tr><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Outcome</th><th>From</th><th>Detail</th></tr></thead>
  <tbody>${entries.map((entry) => html`<tr>
    <td>${beijingTime(entry.atMs)}</td><td>${entry.actor}</td><td><code>${entry.action}</code></td><td><code>${entry.target}</code></td>
    <td>${entry.outcome}</td><td>${entry.ip}</td><td class="console-sub">${Object.entries(entry.detail).map(([key, value]) => `${key}=${String(value)}`).join(' ')}</td>
  </tr>`)}</tbody>
</table>`;
  return layout(frame, 'Audit', 'audit', body);
}

export function errorPage(frame: PageFrame, status: number, message: string): string {
  return layout(frame, status === 404 ? 'Not found' : status === 401 ? 'Please sign in' : 'Refused', '', html`
<div class="console-card"><p class="console-problem" data-test="error">${message}</p>
<p><a href="${BASE}/campaigns">Back to the console</a> · <a href="${BASE}/sign-in">Sign in</a></p></div>`);
}
