/**
 * 安全风控 `POST /wxa/getuserriskrank`, the sandbox side of `shared/wechat/risk.ts`, and its control
 * `POST /__sandbox/risk {user|openid, appid?, rank?, visited?}` (and `GET /__sandbox/risk?openid=&appid=`).
 *
 * WeChat's rules as played here (sources in shared/wechat/risk.ts):
 * - the mini-program's own access_token (41001/40001/42001 first, as everywhere); a token of an
 *   official account gets 48001 (the API belongs to mini-programs), a body `appid` other than the
 *   token's gets 40013, an openid the sandbox made for another app 43104;
 * - `openid`, `scene` (0, 1 or 2) and `client_ip` required: 47001 otherwise (WeChat's code for a
 *   missing field here is UNVERIFIED; community threads report 47001 and 44002 for malformed bodies);
 * - 61010 "code is expired" for an openid without a visit to the mini-program in the last 2 hours
 *   (the 2021–23 community answers; 2020–21 ones say 30 minutes: UNVERIFIED which holds today).
 *   The sandbox does not see mini-program launches, so a test says who visited: the control call
 *   records a visit now (sandbox clock) unless `visited: false`; an openid never named has none;
 * - `is_test: true` skips the visit rule (community answer 0002845d…) and answers the set rank;
 * - the rank is what the control set, 0 by default.
 */
import { randomInt } from 'node:crypto';
import { requireAccessToken } from '../access';
import { parseJsonBody } from '../http';
import { sandboxNowMs, type RiskUserRecord, type SandboxState } from '../state';
import { expectUserId, openidOf } from '../users';
import { SandboxInputError, expectOptionalBoolean, expectRecord, expectString } from '../validate';
import { WechatErrcode, wechatError } from '../wechat-errors';
import type { ApiRoute } from './router';

/** How long WeChat remembers a visit for this API. */
export const RISK_VISIT_TTL_MS = 2 * 3_600_000;
const MAX_RANK = 4;

function riskKey(appid: string, openid: string): string {
  return `${appid} ${openid}`;
}

export const riskRankRoute: ApiRoute = {
  path: '/wxa/getuserriskrank',
  handle(state, request) {
    if (request.method !== 'POST') return wechatError(WechatErrcode.REQUIRE_POST);
    const access = requireAccessToken(state, request.url);
    if (!access.ok) return access.error;
    if (state.accounts.get(access.appid)?.kind !== 'miniprogram') return wechatError(WechatErrcode.API_UNAUTHORIZED);
    const body = parseJsonBody(request.body);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return wechatError(WechatErrcode.DATA_FORMAT_ERROR);
    const { appid, openid, scene, client_ip: clientIp, is_test: isTest } = body as Record<string, unknown>;
    if (appid !== access.appid) return wechatError(WechatErrcode.INVALID_APPID);
    if (typeof openid !== 'string' || openid === '' || ![0, 1, 2].includes(scene as number) || typeof clientIp !== 'string' || clientIp === '') {
      return wechatError(WechatErrcode.DATA_FORMAT_ERROR);
    }
    const made = state.userIds.get(openid);
    if (made !== undefined && made.appid !== access.appid) return wechatError(WechatErrcode.APPID_OPENID_MISMATCH);
    const record = state.riskUsers.get(riskKey(access.appid, openid));
    if (record !== undefined) record.lastAsked = { clientIp, scene: scene as number };
    const visitedRecently = record?.visitedAtMs != null && sandboxNowMs(state) - record.visitedAtMs <= RISK_VISIT_TTL_MS;
    if (isTest !== true && !visitedRecently) return wechatError(WechatErrcode.NO_RECENT_VISIT);
    return { errcode: 0, errmsg: 'getuserriskrank succ', risk_rank: record?.rank ?? 0, unoin_id: randomInt(1, 2 ** 31) };
  },
};

/** What the control answers: the user as WeChat's risk control now knows them. */
export interface RiskUserView extends RiskUserRecord {
  appid: string;
  openid: string;
}

/** The user as WeChat's risk control knows them (`GET /__sandbox/risk?openid=&appid=`), or null. */
export function riskUserOf(state: SandboxState, input: { openid: string | null; appid: string | null }): RiskUserView | null {
  const appid = input.appid ?? [...state.accounts.values()].find((account) => account.kind === 'miniprogram')?.appid;
  if (appid === undefined || input.openid === null) throw new SandboxInputError('give openid (and appid for another mini-program)');
  const record = state.riskUsers.get(riskKey(appid, input.openid));
  return record === undefined ? null : { appid, openid: input.openid, ...record };
}

/**
 * Sets a mini-program user's rank and (unless `visited: false`) records a visit now. `user` (a
 * sandbox user) stands for its openid; `appid` defaults to the sandbox's first mini-program.
 */
export function setRiskUser(state: SandboxState, input: unknown): RiskUserView {
  const record = expectRecord(input, 'risk body', ['user', 'openid', 'appid', 'rank', 'visited']);
  const appid = record.appid === undefined
    ? [...state.accounts.values()].find((account) => account.kind === 'miniprogram')?.appid
    : expectString(record.appid, 'appid');
  if (appid === undefined || state.accounts.get(appid)?.kind !== 'miniprogram') throw new SandboxInputError(`appid ${String(appid)} is not a sandbox mini-program`);
  if ((record.user === undefined) === (record.openid === undefined)) throw new SandboxInputError('give user or openid');
  const openid = record.user === undefined ? expectString(record.openid, 'openid') : openidOf(state, appid, expectUserId(record.user));
  const key = riskKey(appid, openid);
  const before = state.riskUsers.get(key);
  const rank = record.rank ?? before?.rank ?? 0;
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 0 || rank > MAX_RANK) throw new SandboxInputError(`rank must be a whole number from 0 to ${MAX_RANK}`);
  const visited = expectOptionalBoolean(record.visited, 'visited') ?? true;
  const next: RiskUserRecord = { rank, visitedAtMs: visited ? sandboxNowMs(state) : null, lastAsked: before?.lastAsked ?? null };
  state.riskUsers.set(key, next);
  return { appid, openid, ...next };
}
