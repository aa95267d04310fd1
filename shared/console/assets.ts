/**
 * The console's static assets, carried inside the opsConsole bundle (scripts/build.ts loads
 * stylesheets as text and bundles `?browser` scripts for the browser): weui's stylesheet,
 * uPlot's, ours, and the chart script with uPlot in it. Nothing comes from a CDN, so the console
 * works offline and in mainland China. Served under content-hashed names, cached for a year.
 * Only opsConsole imports this module: no other bundle carries a byte of it.
 */
import { createHash } from 'node:crypto';
import uplotCss from 'uplot/dist/uPlot.min.css';
import weuiCss from 'weui/dist/style/weui.min.css';
import consoleCss from './assets/console.css';
import clientJs from './assets/client.ts?browser';
import type { AssetUrls } from './pages';

export interface Asset {
  contentType: string;
  body: string;
}

function named(base: string, extension: string, body: string): [string, string] {
  return [`${base}.${createHash('sha256').update(body).digest('hex').slice(0, 12)}.${extension}`, body];
}

const STYLES = [named('weui', 'css', weuiCss), named('uplot', 'css', uplotCss), named('console', 'css', consoleCss)];
const SCRIPT = named('console', 'js', clientJs);

/** Asset file name → its content. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ...STYLES.map(([name, body]): [string, Asset] => [name, { contentType: 'text/css; charset=utf-8', body }]),
  [SCRIPT[0], { contentType: 'text/javascript; charset=utf-8', body: SCRIPT[1] }],
]);

/** The URLs pages link to, under `base` (`/console/assets`). */
export function assetUrls(base: string): AssetUrls {
  return { styles: STYLES.map(([name]) => `${base}/${name}`), script: `${base}/${SCRIPT[0]}` };
}
