/**
 * The claim page's static assets, carried inside the claimPage bundle (scripts/build.ts loads
 * stylesheets as text and bundles `?browser` scripts): weui's stylesheet, ours, and the page's
 * script. Nothing comes from a CDN but WeChat's own JS-SDK, which only WeChat may serve. Served
 * under content-hashed names, cached for a year. Only claimPage imports this module.
 */
import { createHash } from 'node:crypto';
import weuiCss from 'weui/dist/style/weui.min.css';
import claimCss from './assets/claim.css';
import claimJs from './assets/claim.ts?browser';

export interface Asset {
  contentType: string;
  body: string;
}

export interface ClaimAssetUrls {
  styles: string[];
  script: string;
}

function named(base: string, extension: string, body: string): [string, string] {
  return [`${base}.${createHash('sha256').update(body).digest('hex').slice(0, 12)}.${extension}`, body];
}

const STYLES = [named('weui', 'css', weuiCss), named('claim', 'css', claimCss)];
const SCRIPT = named('claim', 'js', claimJs);

/** Asset file name → its content. */
export const CLAIM_ASSETS: ReadonlyMap<string, Asset> = new Map([
  ...STYLES.map(([name, body]): [string, Asset] => [name, { contentType: 'text/css; charset=utf-8', body }]),
  [SCRIPT[0], { contentType: 'text/javascript; charset=utf-8', body: SCRIPT[1] }],
]);

/** The URLs pages link to, under `/claim/assets`. */
export const CLAIM_ASSET_URLS: ClaimAssetUrls = { styles: STYLES.map(([name]) => `/claim/assets/${name}`), script: `/claim/assets/${SCRIPT[0]}` };
