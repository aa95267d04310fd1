/**
 * claimPage: the H5 claim pages behind HTTP access (`/claim/…`), for follow and web-view campaigns.
 *
 *   GET  /claim/f?l=<link>      a follow's claim link (the passive reply's): verified, then OAuth
 *   GET  /claim/w?t=<token>     a mini-program web-view's one-time page token: used, then OAuth
 *   GET  /claim/oauth           OAuth's callback: state (single use) → code exchanged once → who it is
 *   GET  /claim/page            the page: the campaign, the person's claim, one button
 *   POST /claim/claim           the button (form, CSRF token, same origin): the claim engine, then 303 to the page
 *   GET  /claim/api/jsconfig    wx.config for this page's URL (host on the allow-list), signed with the cached jsapi ticket
 *   GET  /claim/assets/<name>   weui, the page's stylesheet and script
 *   GET  /claim/<name>.txt      WeChat's verification files (MP_verify_….txt), also at `/<name>.txt` on a route of its own
 *
 * Who is claiming is proven by OAuth on the paying service account, bound to a server-side session;
 * what they may claim by the signed link or the page token; never by anything else the browser says.
 */
import { isIP } from 'node:net';
import type { AccountRegistry } from '../accounts/registry';
import { claimPacket, type ClaimDeps } from '../claims/engine';
import { followerTieOf, type ClaimLinkDoc } from '../claims/eligibility/follow';
import type { ClaimEntry } from '../claims/eligibility';
import { RefusalReason } from '../claims/errors';
import { countFunnel, followChannelKey, WEBVIEW_CHANNEL, type FunnelStage } from '../claims/funnel';
import { claimIdOf, openidKey, readClaim, type CampaignDoc, type ClaimDoc } from '../claims/model';
import { takeFromWindow } from '../claims/pacing';
import { PAYOUTS } from '../claims/payout';
import { countRefusal } from '../claims/stats';
import type { CredentialReader } from '../credentials/reader';
import { AppError, ErrorCode, NotEligibleError, NotFoundError, RateLimitedError, WechatApiError } from '../errors';
import type { CallerProof, HttpContext } from '../http/handler';
import { bodyForm, type HttpRequest } from '../http/request';
import { respond, type HttpResponse } from '../http/response';
import type { Logger } from '../log';
import { jsapiSignature } from '../signing/jsapi';
import { createNonce, unixSeconds } from '../signing/nonce';
import { COLLECTIONS, type DocumentStore } from '../store/port';
import { followLedgerId, type FollowLedgerDoc } from '../follows/ledger';
import { AccountNotLinkedError, linkUser, userLinkId, type UserLinkDoc } from '../users/links';
import type { WechatHttp } from '../wechat/http';
import { authorizeUrl, exchangeOauthCode, mustRestartAuthorization, type OauthScope, type OauthUser } from '../wechat/oauth';
import { CLAIM_ASSETS } from './assets';
import type { ClaimPageSettings } from './config';
import { verifyClaimLink } from './links';
import { pageResponse, type PageChrome, type PageView } from './pages';
import type { RegionLookup } from './region';
import {
  consumeOauthState, createSession, csrfMatches, csrfTokenOf, hashOf, MAX_OAUTH_RESTARTS, newSessionToken, readSession, renewOauthState,
  sessionCookie, type ClaimSessionDoc,
} from './sessions';
import { PageReason, refusalText } from './texts';
import { pageTokenIdOf, usePageToken } from './tokens';

export interface ClaimPageDeps {
  store: DocumentStore;
  log: Logger;
  now: () => number;
  settings: ClaimPageSettings;
  /** The claim engine, over this instance's Pay clients. */
  claims: ClaimDeps;
  accounts: Pick<AccountRegistry, 'get' | 'require'>;
  /** The paying service account: it runs OAuth and its openid is paid. */
  serviceAppId: string;
  /** Its AppSecret (the registry's, else WX_OA_APPSECRET), for the code exchange only. */
  serviceSecret: () => Promise<string>;
  /** The sns endpoints' HTTP layer. */
  http: WechatHttp;
  /** The service account's jsapi ticket, through getTicket's cache. */
  tickets: CredentialReader;
  regionOf: RegionLookup;
  chrome: PageChrome;
  /** The merchant (a transfer's confirm call names it). */
  mchId: string;
}

/** What the proof hands on: the session the cookie names, if any (each route decides what it needs). */
export interface ClaimVisitor {
  session: { token: string; doc: ClaimSessionDoc } | null;
}

/**
 * The claim pages' proof of caller: the session cookie, read from the database. Landing routes
 * carry their own proof (a signed link, a page token) and the callback its single-use state, all
 * verified by their route; the page, the claim and the JS-SDK config need a session.
 */
export const claimSessionProof: CallerProof<ClaimPageDeps, ClaimVisitor> = {
  name: 'claim-session',
  async verify(request, { deps, nowMs }) {
    const found = await readSession(deps.store, request, nowMs);
    return { proven: { session: found === null ? null : { token: found.token, doc: found.session } } };
  },
};

const MAX_LINK_TTL_MINUTES = 60;
/** Claim refusals that may not hold a moment later: the page keeps its button for them. */
const RETRYABLE: ReadonlySet<string> = new Set([
  RefusalReason.REGION, RefusalReason.PAUSED, RefusalReason.NOT_STARTED, RefusalReason.CLAIM_IN_PROGRESS, PageReason.RATE_LIMITED, PageReason.ERROR,
]);
const SCAN_WINDOW_MS = 60_000;
const JS_API_LIST = ['hideOptionMenu', 'closeWindow'];
const TICKET_RECOVERY_GAP_MS = 60_000;
let lastTicketRecoveryMs = 0;

/** Routes a request (see the table at the top). */
export async function runClaimPage(request: HttpRequest, context: HttpContext<ClaimPageDeps, ClaimVisitor>): Promise<HttpResponse> {
  const { deps, proven } = context;
  const path = request.subpath === '' ? '/' : request.subpath;
  const verifyFile = path.slice(1);
  if (request.method === 'GET' && deps.settings.verifyFiles.has(verifyFile)) return respond.text(deps.settings.verifyFiles.get(verifyFile)!);
  if (request.method === 'GET' && path.startsWith('/assets/')) {
    const asset = CLAIM_ASSETS.get(path.slice('/assets/'.length));
    if (asset === undefined) throw new NotFoundError('No such asset');
    return { status: 200, headers: { 'content-type': asset.contentType, 'cache-control': 'public, max-age=31536000, immutable' }, body: asset.body };
  }
  const route = `${request.method} ${path}`;
  switch (route) {
    case 'GET /f':
      return landFollow(deps, request, proven);
    case 'GET /w':
      return landWebview(deps, request, proven);
    case 'GET /oauth':
      return oauthCallback(deps, request, proven);
    case 'GET /page':
    case 'GET /':
      return showPage(deps, proven);
    case 'POST /claim':
      return claim(deps, request, proven);
    case 'GET /api/jsconfig':
      return jsConfig(deps, request, proven);
    default:
      throw new NotFoundError('No such page');
  }
}

// ───────────────────────── landing ─────────────────────────

async function landFollow(deps: ClaimPageDeps, request: HttpRequest, visitor: ClaimVisitor): Promise<HttpResponse> {
  const nowMs = deps.now();
  const verified = verifyClaimLink(deps.settings.linkKey, request.query.l, { nowMs, ttlMinutes: MAX_LINK_TTL_MINUTES });
  if ('problem' in verified) return refusedPage(deps, null, verified.problem === 'expired' ? RefusalReason.LINK_EXPIRED : RefusalReason.LINK_INVALID);
  const { link } = verified;
  // The same browser opening its link again: back to its page (or on with its authorization).
  const own = visitor.session;
  if (own !== null && own.doc.link?.linkId === link.linkId) return resume(deps, own.doc);
  const campaign = await campaignOrNull(deps, link.campaignId);
  if (campaign === null || campaign.eligibility !== 'follow' || campaign.follow === undefined) return refusedPage(deps, null, RefusalReason.LINK_INVALID);
  const channel = followChannelKey(link.appId, link.channel);
  if (nowMs >= link.followAtMs + campaign.follow.linkTtlMinutes * 60_000) return refuse(deps, campaign, channel, RefusalReason.LINK_EXPIRED);
  if (!(await withinIpLimit(deps, campaign, request))) return refuse(deps, campaign, channel, PageReason.RATE_LIMITED);
  const linkDoc = await deps.store.get<ClaimLinkDoc>(COLLECTIONS.claimLinks, link.linkId);
  if (linkDoc === null) return refuse(deps, campaign, channel, RefusalReason.LINK_INVALID);
  if (linkDoc.status === 'refused') return refusedPage(deps, campaign, linkDoc.refusal ?? RefusalReason.NOT_NEW);
  if ((await deps.store.update(COLLECTIONS.claimLinks, { _id: link.linkId, status: 'sent' }, { set: { status: 'opened', openedAtMs: nowMs } })) === 1) {
    await funnel(deps, campaign._id, channel, 'linksOpened');
  }
  // A bound link is still authorized: its own person finds their page, anyone else is refused at the callback.
  const created = await createSession(deps.store, { campaignId: campaign._id, kind: 'follow', link, miniProgram: null, pageTokenId: null, scope: 'snsapi_base' }, nowMs);
  return toAuthorize(deps, created.state, 'snsapi_base', [sessionCookie(created.token)]);
}

async function landWebview(deps: ClaimPageDeps, request: HttpRequest, visitor: ClaimVisitor): Promise<HttpResponse> {
  const nowMs = deps.now();
  const own = visitor.session;
  if (own !== null && own.doc.kind === 'webview' && own.doc.pageTokenId !== null && typeof request.query.t === 'string') {
    if (own.doc.pageTokenId === pageTokenIdOf(request.query.t)) return resume(deps, own.doc);
  }
  const token = newSessionToken();
  const used = await usePageToken(deps.store, request.query.t, hashOf(token), nowMs);
  if ('problem' in used) {
    return refusedPage(deps, null, used.problem === 'used' ? RefusalReason.LINK_REUSED : used.problem === 'expired' ? RefusalReason.LINK_EXPIRED : RefusalReason.LINK_INVALID);
  }
  const campaign = await campaignOrNull(deps, used.doc.campaignId);
  if (campaign === null || campaign.eligibility !== 'webview') return refusedPage(deps, null, RefusalReason.LINK_INVALID);
  if (!(await withinIpLimit(deps, campaign, request))) return refuse(deps, campaign, WEBVIEW_CHANNEL, PageReason.RATE_LIMITED);
  await funnel(deps, campaign._id, WEBVIEW_CHANNEL, 'linksOpened');
  const created = await createSession(deps.store, {
    campaignId: campaign._id, kind: 'webview', link: null, miniProgram: used.doc.miniProgram, pageTokenId: used.doc._id, scope: 'snsapi_base', token,
  }, nowMs);
  return toAuthorize(deps, created.state, 'snsapi_base', [sessionCookie(created.token)]);
}

/** A session that exists already: its page, or its authorization once more (a fresh state). */
async function resume(deps: ClaimPageDeps, session: ClaimSessionDoc): Promise<HttpResponse> {
  if (session.stage !== 'authorizing') return respond.redirect('/claim/page', 303);
  const state = await renewOauthState(deps.store, session, session.oauth?.scope ?? 'snsapi_base', deps.now(), { restart: false });
  return state === null ? respond.redirect('/claim/page', 303) : toAuthorize(deps, state, session.oauth?.scope ?? 'snsapi_base');
}

function toAuthorize(deps: ClaimPageDeps, state: string, scope: OauthScope, cookies: string[] = []): HttpResponse {
  const location = authorizeUrl({ baseUrl: deps.settings.oauthBaseUrl, appId: deps.serviceAppId, redirectUri: `${deps.settings.origin}/claim/oauth`, scope, state });
  return { ...respond.redirect(location, 302), ...(cookies.length === 0 ? {} : { cookies }) };
}

// ───────────────────────── the OAuth callback ─────────────────────────

async function oauthCallback(deps: ClaimPageDeps, request: HttpRequest, visitor: ClaimVisitor): Promise<HttpResponse> {
  const nowMs = deps.now();
  const own = visitor.session;
  if (own === null) return refusedPage(deps, null, PageReason.NO_SESSION);
  const session = own.doc;
  const campaign = await campaignOrNull(deps, session.campaignId);
  if (campaign === null) return refusedPage(deps, null, RefusalReason.LINK_INVALID);
  const channel = channelOf(session);
  // The state first, and only once: a callback of another browser's authorization, an old or a replayed one changes nothing.
  if (!(await consumeOauthState(deps.store, session, request.query.state, nowMs))) {
    return session.stage === 'authorizing' ? refuse(deps, campaign, channel, PageReason.OAUTH_STATE) : respond.redirect('/claim/page', 303);
  }
  const code = request.query.code;
  // No code: the user declined (snsapi_userinfo's popup) or WeChat refused.
  if (code === undefined || !/^[A-Za-z0-9_-]{1,128}$/.test(code)) return refuse(deps, campaign, channel, PageReason.OAUTH_FAILED, session);
  let user: OauthUser;
  try {
    user = await exchangeOauthCode(deps.http, { appId: deps.serviceAppId, appSecret: await deps.serviceSecret(), code });
  } catch (error) {
    // A spent or unusable code is never retried: the authorization starts again, a bounded number of times.
    if (mustRestartAuthorization(error) && session.restarts < MAX_OAUTH_RESTARTS) {
      const scope = session.oauth?.scope ?? 'snsapi_base';
      const state = await renewOauthState(deps.store, session, scope, nowMs, { restart: true });
      if (state !== null) {
        deps.log.warn('oauth code refused: authorizing again', { errcode: (error as WechatApiError).errcode, restarts: session.restarts + 1 });
        return toAuthorize(deps, state, scope);
      }
    }
    deps.log.warn('oauth code exchange failed', { error });
    return refuse(deps, campaign, channel, PageReason.OAUTH_FAILED, session);
  }
  if (user.snapshotUser) return refuse(deps, campaign, channel, RefusalReason.SNAPSHOT_USER, session);
  if (session.kind === 'webview') {
    const mp = session.miniProgram!;
    if (mp.unionid !== undefined) {
      await linkUser(deps.store, { officialAppId: deps.serviceAppId, unionid: mp.unionid, openid: user.openid, source: 'oauth' }, nowMs);
    }
    await ready(deps, session, user.openid, mp.unionid ?? user.unionid ?? null);
    await funnel(deps, campaign._id, channel, 'authorised');
    return respond.redirect('/claim/page', 303);
  }
  const tie = await proveFollower(deps, campaign, session, user);
  if ('escalate' in tie) {
    const state = await renewOauthState(deps.store, session, 'snsapi_userinfo', nowMs, { restart: false });
    if (state !== null) return toAuthorize(deps, state, 'snsapi_userinfo');
    return refuse(deps, campaign, channel, PageReason.OAUTH_FAILED, session);
  }
  if ('refusal' in tie) return refuse(deps, campaign, channel, tie.refusal, session);
  if (tie.unionid !== null && user.unionid !== undefined) {
    await linkUser(deps.store, { officialAppId: deps.serviceAppId, unionid: tie.unionid, openid: user.openid, source: 'oauth' }, nowMs);
  }
  await ready(deps, session, user.openid, tie.unionid);
  if (tie.boundNow) await funnel(deps, campaign._id, channel, 'authorised');
  return respond.redirect('/claim/page', 303);
}

/**
 * Is the OAuth user the follower the link was sent to? Then the link is bound to them (once; a
 * link bound to someone else is refused as reused). See follow.ts {@link followerTieOf}.
 */
async function proveFollower(
  deps: ClaimPageDeps,
  campaign: CampaignDoc,
  session: ClaimSessionDoc,
  user: OauthUser,
): Promise<{ boundNow: boolean; unionid: string | null } | { refusal: string } | { escalate: true }> {
  const link = session.link!;
  const linkDoc = await deps.store.get<ClaimLinkDoc>(COLLECTIONS.claimLinks, link.linkId);
  if (linkDoc === null) return { refusal: RefusalReason.LINK_INVALID };
  if (linkDoc.status === 'refused') return { refusal: linkDoc.refusal ?? RefusalReason.NOT_NEW };
  if (linkDoc.status === 'bound') return linkDoc.boundOpenid === user.openid ? { boundNow: false, unionid: user.unionid ?? null } : { refusal: RefusalReason.LINK_REUSED };
  const account = await deps.accounts.get(link.appId);
  let tie = account === null ? null : followerTieOf(account, deps.serviceAppId, campaign.follow!);
  let unionid: string | null = user.unionid ?? null;
  if (tie === 'unionid') {
    const ledger = await deps.store.get<FollowLedgerDoc>(COLLECTIONS.follows, followLedgerId(link.appId, link.openid));
    const followerUnionid = ledger?.unionid ?? null;
    if (followerUnionid === null) {
      // The account gives unionids but none came for this follower (not bound to the Open Platform, or user/info is late).
      if (campaign.follow!.followerProof !== 'first-open') return { refusal: RefusalReason.UNPROVEN };
      tie = 'first-open';
    } else if (user.unionid !== undefined) {
      if (user.unionid !== followerUnionid) return { refusal: RefusalReason.FORWARDED };
      unionid = followerUnionid;
    } else {
      // snsapi_base gives no unionid: the service account's own link to the follower's unionid decides, else ask for snsapi_userinfo.
      const known = await deps.store.get<UserLinkDoc>(COLLECTIONS.userLinks, userLinkId(deps.serviceAppId, followerUnionid));
      if (known !== null) {
        if (known.openid !== user.openid) return { refusal: RefusalReason.FORWARDED };
        unionid = followerUnionid;
      } else if (session.oauth?.scope !== 'snsapi_userinfo') {
        return { escalate: true };
      } else return { refusal: RefusalReason.UNPROVEN };
    }
  }
  if (tie === null) return { refusal: RefusalReason.UNPROVEN };
  if (tie === 'openid' && user.openid !== link.openid) return { refusal: RefusalReason.FORWARDED };
  const nowMs = deps.now();
  const bound = await deps.store.update(
    COLLECTIONS.claimLinks,
    { _id: link.linkId, status: { in: ['sent', 'opened'] } },
    { set: { status: 'bound', boundOpenid: user.openid, boundAtMs: nowMs } },
  );
  if (bound === 1) return { boundNow: true, unionid };
  const again = await deps.store.get<ClaimLinkDoc>(COLLECTIONS.claimLinks, link.linkId);
  return again?.boundOpenid === user.openid ? { boundNow: false, unionid } : { refusal: RefusalReason.LINK_REUSED };
}

async function ready(deps: ClaimPageDeps, session: ClaimSessionDoc, serviceOpenid: string, unionid: string | null): Promise<void> {
  await deps.store.update(COLLECTIONS.claimSessions, { _id: session._id }, {
    set: { stage: 'ready', serviceOpenid, unionid, refusal: null, updatedAtMs: deps.now() },
  });
}

// ───────────────────────── the page and the claim ─────────────────────────

async function showPage(deps: ClaimPageDeps, visitor: ClaimVisitor): Promise<HttpResponse> {
  const own = visitor.session;
  if (own === null) return refusedPage(deps, null, PageReason.NO_SESSION);
  const session = own.doc;
  const campaign = await campaignOrNull(deps, session.campaignId);
  if (campaign === null) return refusedPage(deps, null, RefusalReason.LINK_INVALID);
  const base = { title: campaign.actName || '领取红包', sender: campaign.sendName };
  if (session.stage === 'refused') return page(deps, { ...base, state: 'refused', message: refusalText(session.refusal ?? PageReason.ERROR), reason: session.refusal ?? PageReason.ERROR });
  if (session.stage === 'authorizing' || session.serviceOpenid === null) return page(deps, { ...base, state: 'refused', message: refusalText(PageReason.OAUTH_FAILED), reason: PageReason.OAUTH_FAILED });
  const claimDoc = await claimOf(deps, campaign, session.serviceOpenid);
  if (claimDoc === null) {
    const csrf = csrfTokenOf(deps.settings.csrfKey, own.token);
    if (session.refusal !== null) {
      // A refusal that can change (another network, a minute later, the campaign resumed) keeps the button.
      const retry = RETRYABLE.has(session.refusal) ? { csrf } : {};
      return page(deps, { ...base, state: 'refused', message: refusalText(session.refusal), reason: session.refusal, ...retry });
    }
    return page(deps, { ...base, state: 'ready', message: '恭喜获得一个红包', detail: '点击下方按钮领取，红包将发到服务号的对话中', csrf });
  }
  // The person's claim came through another link (they followed two accounts): they have it already.
  const other = claimDoc.channel !== null && claimDoc.channel !== channelOf(session);
  return page(deps, claimView(deps, campaign, claimDoc, base, other));
}

function claimView(deps: ClaimPageDeps, campaign: CampaignDoc, claimDoc: ClaimDoc, base: { title: string; sender: string }, viaOtherLink: boolean): PageView {
  const prefix = viaOtherLink ? '你已经领过本活动的红包了。' : '';
  const amountFen = claimDoc.amountFen;
  switch (claimDoc.status) {
    case 'SENT':
      return {
        ...base, state: 'paid', amountFen, reason: viaOtherLink ? RefusalReason.ALREADY_CLAIMED : '',
        message: `${prefix}红包已发放`, detail: campaign.payout === 'cash' ? '请回到服务号的对话中点开红包领取（24 小时内有效）' : '请留意微信支付的到账通知',
      };
    case 'RECEIVED':
      return { ...base, state: 'received', amountFen, message: `${prefix}红包已领取`, detail: '钱已到账微信零钱', reason: viaOtherLink ? RefusalReason.ALREADY_CLAIMED : '' };
    case 'FAILED': {
      const reason = PAYOUTS[claimDoc.payout].refusalFor(claimDoc.failedErrCode);
      return { ...base, state: 'refused', message: refusalText(reason), reason };
    }
    case 'HELD':
      return { ...base, state: 'refused', message: refusalText(RefusalReason.HELD), reason: RefusalReason.HELD };
    case 'WAITING':
      if (claimDoc.package !== null) {
        return {
          ...base, state: 'waiting', amountFen, message: '请确认收款', detail: '点击下方按钮，在微信的确认页面收款（24 小时内有效）',
          transfer: { mchId: deps.mchId, appId: claimDoc.appId, package: claimDoc.package },
        };
      }
      return { ...base, state: 'pending', amountFen, message: '红包正在发放中…', detail: '请稍候，页面会自动刷新', refreshSeconds: 3 };
    default:
      return { ...base, state: 'pending', amountFen, message: '红包正在发放中…', detail: '请稍候，页面会自动刷新', refreshSeconds: 3 };
  }
}

async function claim(deps: ClaimPageDeps, request: HttpRequest, visitor: ClaimVisitor): Promise<HttpResponse> {
  const own = visitor.session;
  if (own === null) return refusedPage(deps, null, PageReason.NO_SESSION);
  const session = own.doc;
  // A change comes from our own page: the form's CSRF token, and the browser's word that it is same-origin.
  const origin = request.headers.origin;
  const fetchSite = request.headers['sec-fetch-site'];
  if ((origin !== undefined && origin !== deps.settings.origin) || (fetchSite !== undefined && fetchSite !== 'same-origin')) {
    throw new AppError(ErrorCode.FORBIDDEN, 'The claim must come from the claim page', { expose: true });
  }
  if (!csrfMatches(deps.settings.csrfKey, own.token, bodyForm(request).csrf)) throw new AppError(ErrorCode.FORBIDDEN, 'The claim form has expired: reload the page', { expose: true });
  if (session.stage !== 'ready' || session.serviceOpenid === null) return respond.redirect('/claim/page', 303);
  const campaign = await campaignOrNull(deps, session.campaignId);
  if (campaign === null) return refusedPage(deps, null, RefusalReason.LINK_INVALID);
  const channel = channelOf(session);
  const nowMs = deps.now();
  if (!(await withinIpLimit(deps, campaign, request))
    || (await takeFromWindow(deps.store, `claim-person:${campaign._id}:${session.serviceOpenid}`, campaign.userCallsPerMinute, SCAN_WINDOW_MS, nowMs)) !== 0) {
    await remember(deps, session, PageReason.RATE_LIMITED, campaign, channel);
    return respond.redirect('/claim/page', 303);
  }
  const clientIp = clientIpOf(request);
  const region = deps.regionOf(clientIp);
  const entry: ClaimEntry = session.kind === 'follow'
    ? {
      eligibility: 'follow',
      proof: {
        link: session.link!, serviceAppId: deps.serviceAppId, serviceOpenid: session.serviceOpenid,
        ...(session.unionid === null ? {} : { unionid: session.unionid }),
        ...(clientIp === undefined ? {} : { clientIp }), region,
      },
    }
    : {
      eligibility: 'webview',
      proof: {
        miniProgram: session.miniProgram!, serviceAppId: deps.serviceAppId, serviceOpenid: session.serviceOpenid,
        ...(clientIp === undefined ? {} : { clientIp }), region,
      },
    };
  try {
    await claimPacket(deps.claims, campaign._id, entry);
    if (session.refusal !== null) await deps.store.update(COLLECTIONS.claimSessions, { _id: session._id }, { set: { refusal: null, updatedAtMs: nowMs } });
  } catch (error) {
    const reason = error instanceof NotEligibleError || error instanceof AccountNotLinkedError ? error.reason
      : error instanceof RateLimitedError ? PageReason.RATE_LIMITED : null;
    if (reason === null) {
      // Reserved and being paid (a busy WeChat), or our failure: the page shows the claim as it stands.
      if (!(error instanceof AppError && error.code === ErrorCode.UPSTREAM_BUSY)) deps.log.error('claim failed', { campaignId: campaign._id, error });
    } else {
      // The engine counted it for the campaign; the funnel counts it for the channel.
      await countFunnel(deps.store, deps.log, campaign._id, channel, { refusal: reason }, nowMs);
      await deps.store.update(COLLECTIONS.claimSessions, { _id: session._id }, { set: { refusal: reason, updatedAtMs: nowMs } });
    }
  }
  return respond.redirect('/claim/page', 303);
}

// ───────────────────────── the JS-SDK config ─────────────────────────

async function jsConfig(deps: ClaimPageDeps, request: HttpRequest, visitor: ClaimVisitor): Promise<HttpResponse> {
  // Not a signing service for anyone: only a browser with a session of ours gets a config.
  if (visitor.session === null) throw new AppError(ErrorCode.UNAUTHORIZED, 'Open the claim page first', { expose: true });
  let pageUrl: URL;
  try {
    pageUrl = new URL(request.query.url ?? '');
  } catch {
    throw new AppError(ErrorCode.INPUT, 'url must be the page URL', { expose: true });
  }
  const secure = pageUrl.protocol === 'https:' || (pageUrl.protocol === 'http:' && (pageUrl.hostname === '127.0.0.1' || pageUrl.hostname === 'localhost'));
  if (!secure || !deps.settings.allowedHosts.has(pageUrl.host.toLowerCase())) throw new AppError(ErrorCode.INPUT, 'url is not a page of this claim page', { expose: true });
  // WeChat signs the URL without its fragment; the browser sends the rest exactly as it shows it.
  const url = pageUrl.href.split('#', 1)[0]!;
  let ticket = await deps.tickets.get();
  const rejected = request.query.retry;
  const nowMs = deps.now();
  // wx.error with this very ticket: replace it through getTicket, at most once a minute per instance (a page cannot make us burn the ticket quota).
  if (rejected !== undefined && rejected === String(ticket.version) && nowMs - lastTicketRecoveryMs > TICKET_RECOVERY_GAP_MS) {
    lastTicketRecoveryMs = nowMs;
    ticket = await deps.tickets.recover(ticket);
  }
  const nonceStr = createNonce(16);
  const timestamp = unixSeconds(nowMs);
  const signature = jsapiSignature({ jsapiTicket: ticket.value, nonceStr, timestamp, url });
  const campaign = visitor.session.doc.campaignId === '' ? null : await campaignOrNull(deps, visitor.session.doc.campaignId);
  const jsApiList = campaign?.payout === 'transfer' ? [...JS_API_LIST, 'requestMerchantTransfer'] : JS_API_LIST;
  return respond.json({ appId: deps.serviceAppId, timestamp, nonceStr, signature, jsApiList, ticketVersion: ticket.version });
}

// ───────────────────────── helpers ─────────────────────────

/**
 * The client's address: what the platform set (requestContext.sourceIp), else the last
 * X-Forwarded-For hop, the one the gateway appended (a client writes the others). Both UNVERIFIED
 * on a live CloudBase environment (README "The claim pages"); the local host sets both.
 */
export function clientIpOf(request: Pick<HttpRequest, 'sourceIp' | 'headers'>): string | undefined {
  if (request.sourceIp !== null) return request.sourceIp;
  const last = request.headers['x-forwarded-for']?.split(',').map((part) => part.trim()).filter((part) => part !== '').pop();
  return last !== undefined && isIP(last) !== 0 ? last : undefined;
}

async function withinIpLimit(deps: ClaimPageDeps, campaign: CampaignDoc, request: HttpRequest): Promise<boolean> {
  const ip = clientIpOf(request) ?? 'unknown';
  return (await takeFromWindow(deps.store, `claim-ip:${campaign._id}:${ip}`, campaign.ipCallsPerMinute ?? 30, SCAN_WINDOW_MS, deps.now())) === 0;
}

async function campaignOrNull(deps: ClaimPageDeps, campaignId: string): Promise<CampaignDoc | null> {
  try {
    return (await deps.claims.memory.campaign(deps.store, campaignId, deps.now())).campaign;
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
}

async function claimOf(deps: ClaimPageDeps, campaign: CampaignDoc, serviceOpenid: string): Promise<ClaimDoc | null> {
  const doc = await deps.store.get<ClaimDoc>(COLLECTIONS.redPacketClaims, claimIdOf(campaign._id, openidKey(deps.serviceAppId, serviceOpenid)));
  return doc === null ? null : readClaim(doc);
}

function channelOf(session: Pick<ClaimSessionDoc, 'kind' | 'link'>): string {
  return session.kind === 'webview' || session.link === null ? WEBVIEW_CHANNEL : followChannelKey(session.link.appId, session.link.channel);
}

function funnel(deps: ClaimPageDeps, campaignId: string, channel: string, stage: FunnelStage): Promise<void> {
  return countFunnel(deps.store, deps.log, campaignId, channel, { stage }, deps.now());
}

/** A refusal the page decided: counted for the campaign and the channel, remembered on the session, shown. */
async function refuse(deps: ClaimPageDeps, campaign: CampaignDoc, channel: string, reason: string, session?: ClaimSessionDoc): Promise<HttpResponse> {
  const nowMs = deps.now();
  await countFunnel(deps.store, deps.log, campaign._id, channel, { refusal: reason }, nowMs);
  await countRefusal(deps.store, deps.log, campaign._id, reason, nowMs);
  if (session !== undefined) {
    await deps.store.update(COLLECTIONS.claimSessions, { _id: session._id }, { set: { stage: 'refused', refusal: reason, updatedAtMs: nowMs } });
    return respond.redirect('/claim/page', 303);
  }
  return refusedPage(deps, campaign, reason);
}

async function remember(deps: ClaimPageDeps, session: ClaimSessionDoc, reason: string, campaign: CampaignDoc, channel: string): Promise<void> {
  const nowMs = deps.now();
  await countFunnel(deps.store, deps.log, campaign._id, channel, { refusal: reason }, nowMs);
  await deps.store.update(COLLECTIONS.claimSessions, { _id: session._id }, { set: { refusal: reason, updatedAtMs: nowMs } });
}

function refusedPage(deps: ClaimPageDeps, campaign: CampaignDoc | null, reason: string): HttpResponse {
  return page(deps, {
    title: campaign?.actName || '领取红包',
    ...(campaign === null ? {} : { sender: campaign.sendName }),
    state: 'refused',
    message: refusalText(reason),
    reason,
  });
}

function page(deps: ClaimPageDeps, view: PageView): HttpResponse {
  return pageResponse(view, deps.chrome);
}
