/**
 * Headers every console answer carries: the package's page headers (shared/http/page-headers.ts;
 * no inline script, no framing, no referrer to other sites) over shared/http's default `no-store`;
 * only the content-hashed assets are cached.
 */
import { pageSecurityHeaders, type HttpResponse } from '../http';

const SECURITY_HEADERS: Readonly<Record<string, string>> = pageSecurityHeaders();

/** The console's Content-Security-Policy (scripts and styles from the console's own origin only). */
export const CONTENT_SECURITY_POLICY = SECURITY_HEADERS['content-security-policy'];

/** `response` with the console's security headers (its own headers win where it sets one). */
export function secured(response: HttpResponse): HttpResponse {
  return { ...response, headers: { ...SECURITY_HEADERS, ...response.headers } };
}
