/**
 * The claim page's only script (served from /claim/assets, CSP `script-src 'self'` plus the JS-SDK's
 * origin). The page works without it — the claim is a plain form POST — and the script adds:
 * - the JS-SDK config: asks the server to sign this page's URL (fragment stripped) and calls
 *   wx.config; on wx.error (a stale ticket, a URL WeChat saw otherwise) it asks once more with the
 *   rejected ticket's version, so the server replaces that ticket; wx.ready hides the share menu
 *   (the link is for its recipient alone);
 * - a transfer's confirmation: WeixinJSBridge.invoke('requestMerchantTransfer', …) with what the
 *   server put on the button, then a reload to show what the server learns;
 * - the claim button turns into "领取中…" while the form is sent.
 */
interface JsConfig {
  appId: string;
  timestamp: number;
  nonceStr: string;
  signature: string;
  jsApiList: string[];
  ticketVersion: number;
}

interface WxApi {
  config(options: Omit<JsConfig, 'ticketVersion'> & { debug: boolean }): void;
  ready(callback: () => void): void;
  error(callback: (result: { errMsg: string }) => void): void;
  hideOptionMenu?(): void;
}

interface Bridge {
  invoke(name: string, args: Record<string, string>, callback: (result: { err_msg?: string }) => void): void;
}

/** What WeChat's in-app browser (and the JS-SDK script) put on the window. */
const host = window as unknown as { wx?: WxApi; WeixinJSBridge?: Bridge };

function mark(state: string): void {
  document.body.dataset.jssdk = state;
}

async function fetchConfig(retryVersion: number | null): Promise<JsConfig> {
  const url = encodeURIComponent(location.href.split('#')[0] ?? location.href);
  const response = await fetch(`/claim/api/jsconfig?url=${url}${retryVersion === null ? '' : `&retry=${retryVersion}`}`, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`jsconfig ${response.status}`);
  return (await response.json()) as JsConfig;
}

async function configure(wx: WxApi): Promise<void> {
  let config = await fetchConfig(null);
  let retried = false;
  wx.ready(() => {
    mark('ready');
    wx.hideOptionMenu?.();
  });
  wx.error((result) => {
    if (retried) {
      mark(`failed: ${result.errMsg}`);
      return;
    }
    retried = true;
    mark('retrying');
    fetchConfig(config.ticketVersion)
      .then((fresh) => {
        config = fresh;
        wx.config({ debug: false, appId: fresh.appId, timestamp: fresh.timestamp, nonceStr: fresh.nonceStr, signature: fresh.signature, jsApiList: fresh.jsApiList });
      })
      .catch(() => mark('failed: no config'));
  });
  wx.config({ debug: false, appId: config.appId, timestamp: config.timestamp, nonceStr: config.nonceStr, signature: config.signature, jsApiList: config.jsApiList });
}

function wireTransfer(button: HTMLButtonElement): void {
  button.addEventListener('click', () => {
    const bridge = host.WeixinJSBridge;
    if (bridge === undefined) {
      button.textContent = '请在微信中打开';
      return;
    }
    const { mchId = '', appId = '', pkg = '' } = button.dataset;
    bridge.invoke('requestMerchantTransfer', { mchId, appId, package: pkg }, () => {
      // Shown, not paid: the server learns the outcome from WeChat and the page shows it.
      setTimeout(() => location.reload(), 1500);
    });
  });
}

function main(): void {
  const form = document.querySelector<HTMLFormElement>('form[data-claim]');
  form?.addEventListener('submit', () => {
    const button = form.querySelector<HTMLButtonElement>('button');
    if (button !== null) {
      button.disabled = true;
      button.textContent = '领取中…';
    }
  });
  const transfer = document.querySelector<HTMLButtonElement>('button[data-transfer]');
  if (transfer !== null) wireTransfer(transfer);
  if (host.wx === undefined) {
    mark('absent');
    return;
  }
  mark('configuring');
  configure(host.wx).catch(() => mark('failed: no config'));
}

main();
