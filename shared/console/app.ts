/**
 * What the console does once its proof has run (opsConsole's `run`): one branch per route, each
 * reading through an area's view model and rendering a page, or making one change — written to the
 * audit collection before it is answered — and redirecting back (POST → 303 → GET).
 */
import { clip } from '../echo';
import { AppError, InputError, NotFoundError, RateLimitedError, UnauthorizedError } from '../errors';
import { bodyForm, respond, setCookie, type HttpContext, type HttpFailure, type HttpRequest, type HttpResponse } from '../http';
import { COLLECTIONS, type DocumentStore } from '../store/port';
import { accountsView, type AccountDirectory, type FollowSource } from './areas/accounts';
import { campaignDetailView, campaignsView } from './areas/campaigns';
import { LEDGER_CSV_HEADER, ledgerCsvRow, ledgerView, type LedgerFilter, type LedgerRow, type LedgerSource } from './areas/ledger';
import { recentAudit, writeAudit } from './audit';
import { toCsv } from './csv';
import { signIn } from './operators';
import { accountsPage, auditPage, BASE, campaignPage, campaignsPage, errorPage, ledgerPage, signInPage, type AssetUrls, type PageFrame } from './pages';
import type { ConsoleCaller } from './proof';
import type { ClaimAction } from './routes';
import { secured } from './security';
import { closeSession, newToken, preSessionCsrfOf, PRE_SESSION_COOKIE, SESSION_COOKIE, SESSION_TIMING } from './sessions';

/** What "settle now", "reissue" and "cancel transfer" do: the paying function's own operator actions. */
export interface ClaimActions {
  settle(claimId: string): Promise<Record<string, unknown>>;
  reissue(claimId: string): Promise<Record<string, unknown>>;
  /** `npm run campaign -- cancel-transfer`'s path: the paying function cancels, then queries the bill. */
  cancelTransfer(claimId: string): Promise<Record<string, unknown>>;
}

export interface ConsoleDeps {
  store: DocumentStore;
  assets: { urls: AssetUrls; files: ReadonlyMap<string, { contentType: string; body: string }> };
  claims: ClaimActions;
  /** Every kind of payment the ledger lists (red packets, transfers). */
  ledgerSources: readonly LedgerSource[];
  /** The official accounts the accounts view lists (the registry). */
  accounts: AccountDirectory;
  /** Follow counts per channel and day (the follow ledger's counters). */
  follows?: FollowSource;
}

/** Rows a ledger page shows; the CSV export pages through up to {@link CSV_MAX_ROWS}. */
const PAGE_ROWS = 500;
const CSV_PAGE_ROWS = 1000;
const CSV_MAX_ROWS = 20_000;
const PRE_SESSION_SECONDS = 3600;
const NOTICES: Readonly<Record<string, string>> = {
  paused: 'Paused: new claims of this campaign are refused until you resume it. Claims already reserved are still paid.',
  resumed: 'Resumed: the campaign takes claims again.',
  settled: 'Settled: the claim was driven now (its state is below).',
  reissued: 'Reissued: the claim has a new bill number; the person\'s next claim call pays it.',
  cancelled: 'Cancel asked: WeChat\'s answer is in the audit, the claim\'s state below. A bill the user confirmed meanwhile cannot be cancelled and goes on to be paid.',
};
/** Each claim action: its label in messages and the notice shown after it. */
const CLAIM_ACTIONS: Readonly<Record<ClaimAction, { label: string; notice: string }>> = {
  settle: { label: 'Settle now', notice: 'settled' },
  reissue: { label: 'Reissue', notice: 'reissued' },
  'cancel-transfer': { label: 'Cancel transfer', notice: 'cancelled' },
};

/** The client's address as the gateway reports it: the last X-Forwarded-For hop is the one the gateway added. */
export function clientIpOf(request: Pick<HttpRequest, 'headers'>): string {
  const forwarded = request.headers['x-forwarded-for'];
  const last = forwarded?.split(',').map((part) => part.trim()).filter((part) => part !== '').pop();
  return clip(last ?? request.headers['x-real-ip'] ?? 'unknown', 64);
}

function frameOf(deps: ConsoleDeps, caller: ConsoleCaller, nowMs: number, csrf?: string): PageFrame {
  return {
    assets: deps.assets.urls,
    operator: caller.kind === 'operator' ? caller.operator : null,
    csrf: csrf ?? (caller.kind === 'operator' ? caller.csrf : ''),
    nowMs,
  };
}

function page(body: string, status = 200): HttpResponse {
  return secured(respond.html(body, status));
}

function seeOther(location: string): HttpResponse {
  return secured(respond.redirect(location, 303));
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A `YYYY-MM-DD` (China time) as the epoch ms of its midnight. */
function dayStartMs(text: string | undefined, field: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  const match = DAY.exec(text);
  const ms = match === null ? Number.NaN : Date.parse(`${text}T00:00:00+08:00`);
  if (!Number.isFinite(ms)) throw new InputError(`${field} must be a date YYYY-MM-DD`, field);
  return ms;
}

function ledgerFilterOf(query: Readonly<Record<string, string>>, limit: number, sources: readonly LedgerSource[]): LedgerFilter {
  const kind = query.kind?.trim() ?? '';
  if (kind !== '' && !sources.some((source) => source.kind === kind)) throw new InputError(`kind must be one of ${sources.map((source) => source.kind).join(', ')}`, 'kind');
  const campaignId = query.campaign?.trim() ?? '';
  const openid = query.openid?.trim() ?? '';
  if (campaignId !== '' && !/^[A-Za-z0-9_.-]{1,64}$/.test(campaignId)) throw new InputError('campaign is not a campaign id', 'campaign');
  if (openid !== '' && !/^[A-Za-z0-9_-]{1,64}$/.test(openid)) throw new InputError('openid is not an openid', 'openid');
  const fromMs = dayStartMs(query.from, 'from');
  const toMs = dayStartMs(query.to, 'to');
  return {
    limit,
    ...(kind === '' ? {} : { kind }),
    ...(campaignId === '' ? {} : { campaignId }),
    ...(openid === '' ? {} : { openid }),
    ...(fromMs === undefined ? {} : { fromMs }),
    ...(toMs === undefined ? {} : { toMs }),
  };
}

/** Every row of the filter, newest first, paging backwards by payment time (at most {@link CSV_MAX_ROWS}). */
async function allLedgerRows(store: DocumentStore, filter: LedgerFilter, sources: readonly LedgerSource[]): Promise<{ rows: LedgerRow[]; truncated: boolean }> {
  const rows: LedgerRow[] = [];
  const seen = new Set<string>();
  let toMs = filter.toMs;
  for (;;) {
    const page = await ledgerView(store, { ...filter, limit: CSV_PAGE_ROWS, ...(toMs === undefined ? {} : { toMs }) }, sources);
    const fresh = page.rows.filter((row) => !seen.has(`${row.kind}:${row.claimId}`));
    for (const row of fresh) seen.add(`${row.kind}:${row.claimId}`);
    rows.push(...fresh);
    if (rows.length >= CSV_MAX_ROWS) return { rows: rows.slice(0, CSV_MAX_ROWS), truncated: true };
    if (!page.truncated || fresh.length === 0) return { rows, truncated: false };
    // The next page ends where this one's oldest row is (inclusive: rows paid in the same ms are deduplicated above).
    toMs = page.rows[page.rows.length - 1]!.paidAtMs + 1;
  }
}

export async function runConsole(request: HttpRequest, context: HttpContext<ConsoleDeps, ConsoleCaller>): Promise<HttpResponse> {
  const { deps, proven: caller, nowMs } = context;
  const route = caller.route;
  const ip = clientIpOf(request);

  if (route.name === 'asset') {
    const asset = deps.assets.files.get(route.file);
    if (asset === undefined) throw new NotFoundError('No such asset');
    return secured({ status: 200, headers: { 'content-type': asset.contentType, 'cache-control': 'public, max-age=31536000, immutable' }, body: asset.body });
  }

  if (route.name === 'sign-in') {
    if (request.method === 'GET') {
      const pre = newToken();
      const cookie = setCookie(PRE_SESSION_COOKIE, pre, { sameSite: 'Strict', maxAgeSeconds: PRE_SESSION_SECONDS });
      return { ...page(signInPage(frameOf(deps, caller, nowMs, preSessionCsrfOf(pre)), null)), cookies: [cookie] };
    }
    const form = bodyForm(request);
    const again = (problem: string, status: number) => page(signInPage(frameOf(deps, caller, nowMs, form.csrf ?? ''), problem), status);
    try {
      const { token } = await signIn(deps.store, { name: form.name ?? '', password: form.password ?? '', ip, userAgent: request.headers['user-agent'] ?? '' }, nowMs);
      const cookie = setCookie(SESSION_COOKIE, token, { sameSite: 'Strict', maxAgeSeconds: SESSION_TIMING.absoluteMs / 1000 });
      return { ...seeOther(`${BASE}/campaigns`), cookies: [cookie] };
    } catch (error) {
      if (error instanceof RateLimitedError) {
        const response = again(error.message, 429);
        return { ...response, headers: { ...response.headers, 'retry-after': String(Math.max(1, Math.ceil((error.retryAfterMs ?? 1000) / 1000))) } };
      }
      if (error instanceof UnauthorizedError) return again(error.message, 401);
      throw error;
    }
  }

  // Every other route has an operator (the proof saw to it).
  if (caller.kind !== 'operator') throw new UnauthorizedError('Sign in first');
  const operator = caller.operator;
  const frame = frameOf(deps, caller, nowMs);
  const audit = (action: string, target: string, outcome: 'ok' | 'refused' | 'failed', detail: Record<string, string | number | boolean | null> = {}) =>
    writeAudit(deps.store, { actor: operator, action, target, outcome, ip, detail }, nowMs);

  switch (route.name) {
    case 'home':
      return seeOther(`${BASE}/campaigns`);
    case 'sign-out': {
      await closeSession(deps.store, caller.token);
      await audit('sign-out', operator, 'ok');
      return { ...seeOther(`${BASE}/sign-in`), cookies: [setCookie(SESSION_COOKIE, '', { sameSite: 'Strict', maxAgeSeconds: 0 })] };
    }
    case 'campaigns':
      return page(campaignsPage(frame, await campaignsView(deps.store, nowMs)));
    case 'campaign': {
      const detail = await campaignDetailView(deps.store, route.id, nowMs);
      if (detail === null) throw new NotFoundError(`No campaign ${clip(route.id)}`);
      const notice = NOTICES[request.query.notice ?? ''] ?? null;
      return page(campaignPage(frame, detail, notice));
    }
    case 'campaign-pause': {
      const changed = await deps.store.update(
        COLLECTIONS.redPacketCampaigns,
        { _id: route.id },
        { set: { paused: route.paused, pausedAtMs: route.paused ? nowMs : null, pausedBy: route.paused ? operator : null } },
      );
      if (changed === 0) {
        await audit(route.paused ? 'campaign.pause' : 'campaign.resume', route.id, 'refused', { reason: 'no such campaign' });
        throw new NotFoundError(`No campaign ${clip(route.id)}`);
      }
      await audit(route.paused ? 'campaign.pause' : 'campaign.resume', route.id, 'ok');
      return seeOther(`${BASE}/campaigns/${encodeURIComponent(route.id)}?notice=${route.paused ? 'paused' : 'resumed'}`);
    }
    case 'claim-action': {
      const campaignId = bodyForm(request).campaign ?? route.claimId.split(':')[0] ?? '';
      const action = `claim.${route.action}`;
      const { label, notice } = CLAIM_ACTIONS[route.action];
      try {
        const result = route.action === 'settle'
          ? await deps.claims.settle(route.claimId)
          : route.action === 'reissue' ? await deps.claims.reissue(route.claimId) : await deps.claims.cancelTransfer(route.claimId);
        await audit(action, route.claimId, 'ok', flat(result));
      } catch (error) {
        const message = error instanceof AppError && error.expose ? error.message : 'The paying function could not do it now; see its logs.';
        await audit(action, route.claimId, 'failed', { code: error instanceof AppError ? error.code : 'INTERNAL', message: clip(message, 200) });
        const detail = await campaignDetailView(deps.store, campaignId, nowMs);
        if (detail === null) throw error;
        return page(campaignPage(frame, detail, `${label} did not go through: ${message}`), 409);
      }
      return seeOther(`${BASE}/campaigns/${encodeURIComponent(campaignId)}?notice=${notice}`);
    }
    case 'accounts':
      return page(accountsPage(frame, await accountsView(deps.store, nowMs, deps.accounts, deps.follows)));
    case 'ledger': {
      const filter = ledgerFilterOf(request.query, PAGE_ROWS, deps.ledgerSources);
      const view = await ledgerView(deps.store, filter, deps.ledgerSources);
      const csvQuery = new URLSearchParams(Object.entries(request.query).filter(([name]) => ['kind', 'campaign', 'openid', 'from', 'to'].includes(name))).toString();
      return page(ledgerPage(frame, view, filter, deps.ledgerSources, `${BASE}/ledger.csv${csvQuery === '' ? '' : `?${csvQuery}`}`));
    }
    case 'ledger-csv': {
      const filter = ledgerFilterOf(request.query, CSV_PAGE_ROWS, deps.ledgerSources);
      const { rows, truncated } = await allLedgerRows(deps.store, filter, deps.ledgerSources);
      await audit('ledger.export', filter.campaignId ?? '*', 'ok', { kind: filter.kind ?? '*', rows: rows.length, truncated });
      const day = new Date(nowMs + 8 * 3_600_000).toISOString().slice(0, 10);
      return secured({
        status: 200,
        headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="ledger-${day}.csv"` },
        body: toCsv(LEDGER_CSV_HEADER, rows.map(ledgerCsvRow)),
      });
    }
    case 'audit':
      return page(auditPage(frame, await recentAudit(deps.store, 200)));
    default:
      throw new NotFoundError('No such page');
  }
}

function flat(result: Record<string, unknown>): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(result)) {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) out[key] = value as string | number | boolean | null;
  }
  return out;
}

/** Refusals as a page (browsers), with the security headers. */
export function consoleErrorResponse(assets: AssetUrls): (failure: HttpFailure) => HttpResponse {
  return (failure) => page(errorPage({ assets, operator: null, csrf: '', nowMs: Date.now() }, failure.status, failure.message), failure.status);
}
