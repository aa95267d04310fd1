/**
 * The security headers of every HTML page this package serves (the operator's console, the claim
 * pages): a CSP without inline script or style (the pages have none; data rides in JSON blocks),
 * no framing (clickjacking), no referrer to other sites (page URLs carry campaign ids and links),
 * no powerful browser features. Caching is shared/http's default `no-store`.
 */

/** The headers, with `scriptOrigins` (for example the JS-SDK's) allowed to serve scripts beside the page's own. */
export function pageSecurityHeaders(scriptOrigins: readonly string[] = []): Record<string, string> {
  return {
    'content-security-policy': [
      "default-src 'none'",
      ['script-src', "'self'", ...scriptOrigins].join(' '),
      "style-src 'self'",
      // weui's icons are SVG data URIs.
      "img-src 'self' data:",
      "font-src 'self' data:",
      "connect-src 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
    'x-frame-options': 'DENY',
    // Not no-referrer: under it browsers send `Origin: null` with same-origin POSTs, which an origin check must refuse.
    'referrer-policy': 'same-origin',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    // Ignored by browsers over plain http (the local stack); binding on the HTTPS domain.
    'strict-transport-security': 'max-age=31536000',
  };
}
