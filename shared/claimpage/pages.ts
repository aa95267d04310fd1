/**
 * The claim page, server-rendered (Chinese UI, weui, mobile first): the campaign's name, the state
 * of the person's claim, one button, a clear sentence for every refusal. No inline script or
 * style (CSP); the script only adds the JS-SDK config and a transfer's confirm call. The page
 * never carries an amount the browser could choose, a token, a ticket or a key: the claim form
 * holds only its CSRF token.
 */
import { pageSecurityHeaders } from '../http/page-headers';
import type { HttpResponse } from '../http/response';
import type { ClaimAssetUrls } from './assets';

/** Markup that is already safe; everything else interpolated into {@link html} is escaped. */
class Html {
  constructor(readonly text: string) {}
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

type Value = Html | string | number | null | undefined | false | readonly Value[];

function render(value: Value): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map((item) => render(item)).join('');
  if (value === null || value === undefined || value === false) return '';
  return String(value).replace(/[&<>"'`]/g, (char) => ESCAPES[char]!);
}

/** Tagged template: campaign texts and WeChat's values are escaped, nested fragments stay markup. */
function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '');
  });
  return new Html(out);
}

/** 12345 fen → "123.45". */
function yuan(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

export type PageState = 'ready' | 'pending' | 'paid' | 'received' | 'waiting' | 'refused' | 'info';

export interface PageView {
  /** The campaign's name (actName), or a generic title before the campaign is known. */
  title: string;
  sender?: string;
  state: PageState;
  message: string;
  detail?: string;
  amountFen?: number;
  /** ready: the claim form's CSRF token. */
  csrf?: string;
  /** waiting: what requestMerchantTransfer needs (the package is the bill's, not a secret). */
  transfer?: { mchId: string; appId: string; package: string };
  /** pending: reload after this many seconds to show what the server learnt. */
  refreshSeconds?: number;
  /** The refusal's reason code, for tests and support (`data-reason`). */
  reason?: string;
}

export interface PageChrome {
  assets: ClaimAssetUrls;
  jssdkUrl: string;
}

const ICONS: Record<PageState, string> = {
  ready: 'weui-icon-info weui-icon_msg',
  pending: 'weui-icon-waiting weui-icon_msg',
  paid: 'weui-icon-success weui-icon_msg',
  received: 'weui-icon-success weui-icon_msg',
  waiting: 'weui-icon-info weui-icon_msg',
  refused: 'weui-icon-warn weui-icon_msg',
  info: 'weui-icon-info weui-icon_msg-primary',
};

function body(view: PageView): Html {
  const amount = view.amountFen === undefined ? '' : html`<p class="claim__amount" data-test="amount">${yuan(view.amountFen)}<small>元</small></p>`;
  let actions: Html | string = '';
  if ((view.state === 'ready' || view.state === 'refused') && view.csrf !== undefined) {
    actions = html`<form method="post" action="/claim/claim" data-claim>
      <input type="hidden" name="csrf" value="${view.csrf}">
      <button type="submit" class="weui-btn weui-btn_primary" data-test="claim">${view.state === 'ready' ? '领取红包' : '再试一次'}</button>
    </form>`;
  } else if (view.state === 'waiting' && view.transfer !== undefined) {
    actions = html`<button type="button" class="weui-btn weui-btn_primary" data-test="confirm" data-transfer
      data-mch-id="${view.transfer.mchId}" data-app-id="${view.transfer.appId}" data-pkg="${view.transfer.package}">确认收款</button>`;
  } else if (view.state === 'pending') {
    actions = html`<a class="weui-btn weui-btn_default" href="/claim/page" data-test="refresh">刷新</a>`;
  }
  return html`<main class="claim">
    <section class="claim__card" data-test="card" data-state="${view.state}" data-reason="${view.reason ?? ''}">
      ${view.sender ? html`<p class="claim__sender">${view.sender}</p>` : ''}
      <h1 class="claim__title" data-test="title">${view.title}</h1>
      <div class="claim__icon"><i class="${ICONS[view.state]}"></i></div>
      ${amount}
      <p class="claim__message" data-test="message">${view.message}</p>
      ${view.detail ? html`<p class="claim__detail" data-test="detail">${view.detail}</p>` : ''}
      <div class="claim__actions">${actions}</div>
    </section>
    <p class="claim__foot">红包由服务号发放，每人限领一次。<br>请勿将领取链接转发给他人。</p>
  </main>`;
}

/** The whole document. */
export function renderPage(view: PageView, chrome: PageChrome): string {
  const refresh = view.refreshSeconds === undefined ? '' : html`<meta http-equiv="refresh" content="${String(view.refreshSeconds)}">`;
  return html`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1, user-scalable=no, viewport-fit=cover">
<meta name="referrer" content="same-origin">
${refresh}
<title>${view.title}</title>
${chrome.assets.styles.map((href) => html`<link rel="stylesheet" href="${href}">`)}
</head>
<body>
${body(view)}
<script src="${chrome.jssdkUrl}"></script>
<script src="${chrome.assets.script}"></script>
</body>
</html>`.text;
}

/** An HTML answer with the page's headers. */
export function pageResponse(view: PageView, chrome: PageChrome, status = 200, cookies: string[] = []): HttpResponse {
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', ...pageSecurityHeaders([new URL(chrome.jssdkUrl).origin]) },
    ...(cookies.length === 0 ? {} : { cookies }),
    body: renderPage(view, chrome),
  };
}

