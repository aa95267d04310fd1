/**
 * Headers every console answer carries: a CSP without inline script or style (the pages have
 * none; charts read a JSON block), no framing (clickjacking), no referrer to other sites (console URLs carry
 * campaign ids and filters), no caching of data (shared/http's default `no-store`; only the
 * content-hashed assets are cached).
 */
import type { HttpResponse } from '../http';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // weui's icons are SVG data URIs.
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  // Not no-referrer: under it browsers send `Origin: null` with same-origin POSTs, which the origin check must refuse.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  // Ignored by browsers over plain http (the local stack); binding on the HTTPS domain.
  'strict-transport-security': 'max-age=31536000',
};

/** `response` with the console's security headers (its own headers win where it sets one). */
export function secured(response: HttpResponse): HttpResponse {
  return { ...response, headers: { ...SECURITY_HEADERS, ...response.headers } };
}
