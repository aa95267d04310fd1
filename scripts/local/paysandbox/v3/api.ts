/**
 * The APIv3 transfer-bills endpoints of the Pay sandbox, under WeChat's real paths (reference
 * /pay-v3-transfer.md §1): every request is counted, matched against faults, authenticated (the
 * Authorization header: scheme, merchant, certificate serial, a timestamp within 5 minutes, the
 * signature over the exact bytes received) and handed to its handler. Answers to authenticated
 * requests are signed with WeChat Pay's key; a 401 is not ("对于签名验证成功的请求…对应答进行签名").
 * Handlers are synchronous: between an idempotency check and a debit nothing else may run.
 */
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { BodyTooLargeError, readBody } from '../../sandbox/http';
import { V3_CODE_MESSAGE, V3_CODE_STATUS, takeV3Fault, type SignatureFault, type V3Fault, type V3Operation } from './faults';
import type { SandboxWechatKey, V3MerchantConfig } from './options';
import { messageBytes, oaepDecrypt, oaepEncrypt, parseAuthorization, randomNonce, requestSigningBytes, rsaSign, rsaVerify } from './sign';
import {
  QUERY_WINDOW_MS, billKey, cancelBill, createBill, formatRfc3339, isPayeeOf, settleBills, takeV3Rate, v3DailyTotals, v3NowMs,
  v3WallNowMs, type BillParams, type ReportInfo, type TransferBillRecord, type V3Context,
} from './state';

/** The transfer-bills path prefix; the sandbox routes every `/v3/` path here. */
export const TRANSFER_BILLS_PATH = '/v3/fund-app/mch-transfer/transfer-bills';

/** A refusal while handling a request: an error answer with WeChat's status, code and message. */
export class V3Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly text: string = V3_CODE_MESSAGE[code] ?? code,
    readonly detail?: unknown,
  ) {
    super(`${status} ${code}: ${text}`);
    this.name = 'V3Refusal';
  }
}

/** An answer before it is sent: `signed` false for 401s. */
interface V3Answer {
  status: number;
  body: Record<string, unknown> | null;
  signed: boolean;
  outcome: string;
}

interface Route {
  operation: V3Operation;
  /** The out_bill_no or transfer_bill_no of the path. */
  param: string | undefined;
}

// Transfer requests are a few hundred bytes; this only stops a runaway client.
const BODY_LIMIT_BYTES = 64 * 1024;
const MAX_CLOCK_SKEW_SECONDS = 300;
// WeChat truncates the body in the echoed signing string (8 characters in the samples: `{"amount`, `{"appid"`).
const ECHOED_BODY_CHARS = 8;
const OUT_BILL_NO = /^[0-9A-Za-z]{1,32}$/;
const TRANSFER_BILL_NO = /^[0-9A-Za-z]{1,64}$/;
const UNKNOWN_SERIAL = 'PUB_KEY_ID_0000000000000000000000000000';
const STALE_SECONDS = 600;
const USER_NAME_REQUIRED_FROM_FEN = 200_000;

/** The scenes' fixed report-info types (reference §1.3, IM transfer-bills.md). Scenes not listed accept any. */
const SCENE_REPORT_TYPES: Readonly<Record<string, readonly string[]>> = {
  '1000': ['活动名称', '奖励说明'],
  '1002': ['补贴类型'],
  '1004': ['保险产品备案编号', '保险名称', '保险操作单号'],
  '1005': ['岗位类型', '报酬说明'],
  '1009': ['采购商品名称'],
  '1010': ['回收商品名称'],
  '1011': ['赔付原因'],
  '1013': ['公益活动名称', '公益活动备案编号'],
};
/** Labels a scene may show (T-1000); scenes not listed accept any (UNVERIFIED). */
const SCENE_PERCEPTIONS: Readonly<Record<string, readonly string[]>> = { '1000': ['现金奖励', '活动奖励'] };
/** The Chinese field names WeChat's parameter errors use. */
const FIELD_LABELS: Readonly<Record<string, string>> = {
  appid: '商户AppID',
  out_bill_no: '商户单号',
  transfer_scene_id: '转账场景ID',
  openid: '收款用户OpenID',
  user_name: '收款用户姓名',
  transfer_amount: '转账金额',
  transfer_remark: '转账备注',
  notify_url: '通知地址',
  user_recv_perception: '用户收款感知',
  transfer_scene_report_infos: '转账场景报备背景信息',
};

/** Matches a `/v3/` request to an operation; undefined for paths the sandbox does not serve. */
function matchV3Route(method: string, pathname: string): Route | undefined {
  if (pathname === TRANSFER_BILLS_PATH) return method === 'POST' ? { operation: 'create', param: undefined } : undefined;
  if (!pathname.startsWith(`${TRANSFER_BILLS_PATH}/`)) return undefined;
  const parts = pathname.slice(TRANSFER_BILLS_PATH.length + 1).split('/');
  if (parts[0] === 'out-bill-no' && parts.length === 2 && method === 'GET') return { operation: 'queryByOutBillNo', param: parts[1] };
  if (parts[0] === 'transfer-bill-no' && parts.length === 2 && method === 'GET') return { operation: 'queryByTransferBillNo', param: parts[1] };
  if (parts[0] === 'out-bill-no' && parts.length === 3 && parts[2] === 'cancel' && method === 'POST') return { operation: 'cancel', param: parts[1] };
  return undefined;
}

/** The APIv3 request handler; `afterChange` runs after every handled request (it delivers queued notifies). */
export function createV3ApiHandler(ctx: V3Context, afterChange: () => void): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const serve = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const rawUrl = req.url ?? '/';
    const { pathname } = new URL(rawUrl, 'https://api.mch.weixin.qq.com');
    let body: Buffer;
    try {
      body = await readBody(req, BODY_LIMIT_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) send(ctx, res, { status: 413, body: { code: 'PARAM_ERROR', message: error.message }, signed: false, outcome: 'PARAM_ERROR' }, null);
      else req.socket.destroy();
      return;
    }
    const route = matchV3Route(req.method ?? 'GET', pathname);
    if (route === undefined) {
      send(ctx, res, { status: 404, body: { code: 'NOT_FOUND', message: `the Pay sandbox has no API ${req.method ?? ''} ${pathname}` }, signed: false, outcome: 'NOT_FOUND' }, null);
      return;
    }
    const { operation } = route;
    count(ctx.state.counters.calls, operation);
    const fault = takeV3Fault(ctx, operation, route.operation === 'create' ? bodyOutBillNo(body) : route.param);
    if (fault !== undefined && !fault.accept) {
      if (fault.delayMs > 0) await sleep(fault.delayMs, undefined, { ref: false });
      if (applyFault(ctx, fault, req, res, operation)) return;
    }
    // From here to the answer nothing awaits: the state change and its answer are one step.
    const answer = handle(ctx, route, req, rawUrl, body);
    afterChange();
    if (fault !== undefined && fault.accept) {
      if (fault.delayMs > 0) await sleep(fault.delayMs, undefined, { ref: false });
      if (applyFault(ctx, fault, req, res, operation)) return;
    }
    recordOutcome(ctx, operation, answer.outcome);
    send(ctx, res, answer, answer.signed ? signingKey(ctx, req) : null, fault?.signature);
  };
  return async (req, res) => {
    try {
      await serve(req, res);
    } catch (error) {
      // A sandbox bug must show up in the test that hit it, not crash the server for every test.
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`pay sandbox v3 failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
}

/** Authenticates and runs the route; every refusal becomes an error answer. */
function handle(ctx: V3Context, route: Route, req: http.IncomingMessage, rawUrl: string, body: Buffer): V3Answer {
  let merchant: V3MerchantConfig;
  try {
    merchant = authenticate(ctx, req, rawUrl, body);
  } catch (error) {
    if (!(error instanceof V3Refusal)) throw error;
    ctx.state.counters.signatureRefusals += 1;
    return refusalAnswer(error, false);
  }
  try {
    const named = headerOf(req, 'wechatpay-serial');
    // brand doc 4015433973: a Wechatpay-Serial WeChat does not know is refused.
    if (named !== undefined && !ctx.config.wechatKeys.has(named)) {
      throw new V3Refusal(400, 'INVALID_REQUEST', 'Wechatpay-Serial对应的微信支付公钥或平台证书不存在，请检查');
    }
    settleBills(ctx);
    const limits = { create: ctx.config.createsPerSecond, cancel: ctx.config.cancelsPerSecond };
    const limit = route.operation === 'create' ? limits.create : route.operation === 'cancel' ? limits.cancel : ctx.config.queriesPerSecond;
    const rateKey = route.operation.startsWith('query') ? 'query' : route.operation;
    if (!takeV3Rate(ctx, merchant.mchId, rateKey, limit)) {
      throw new V3Refusal(429, route.operation === 'cancel' ? 'FREQUENCY_LIMIT_EXCEED' : 'FREQUENCY_LIMITED');
    }
    switch (route.operation) {
      case 'create':
        return ok(create(ctx, merchant, req, body));
      case 'queryByOutBillNo':
        return ok(queryByOutBillNo(ctx, merchant, route.param ?? ''));
      case 'queryByTransferBillNo':
        return ok(queryByTransferBillNo(ctx, merchant, route.param ?? ''));
      case 'cancel':
        return ok(cancel(ctx, merchant, route.param ?? '', body));
    }
  } catch (error) {
    if (!(error instanceof V3Refusal)) throw error;
    return refusalAnswer(error, true);
  }
}

/** The Authorization header must name a sandbox merchant, its certificate serial, a fresh timestamp, and sign exactly what arrived. */
function authenticate(ctx: V3Context, req: http.IncomingMessage, rawUrl: string, body: Buffer): V3MerchantConfig {
  const items = parseAuthorization(headerOf(req, 'authorization'));
  // Texts of the APIv3 401 table (wechatpay-api-v3 gitbook, 常见问题 → 签名相关).
  if (items === 'format') throw new V3Refusal(401, 'SIGN_ERROR', 'Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》');
  if (items === 'scheme') throw new V3Refusal(401, 'SIGN_ERROR', 'Http头Authorization认证类型不正确');
  const merchant = ctx.config.merchants.get(items.mchid);
  if (merchant === undefined) throw new V3Refusal(401, 'SIGN_ERROR', '商户未申请过证书。');
  if (items.serial_no.toUpperCase() !== merchant.serialNo) throw new V3Refusal(401, 'SIGN_ERROR', '商户证书序列号有误。');
  const wallSeconds = Math.floor(v3WallNowMs(ctx) / 1000);
  if (!/^[0-9]{1,12}$/.test(items.timestamp) || Math.abs(wallSeconds - Number(items.timestamp)) >= MAX_CLOCK_SKEW_SECONDS) {
    throw new V3Refusal(401, 'SIGN_ERROR', 'Http头Authorization中的timestamp与发起请求的时间不得超过5分钟');
  }
  const method = req.method ?? 'GET';
  const signed = requestSigningBytes(method, rawUrl, items.timestamp, items.nonce_str, body);
  if (!rsaVerify(signed, items.signature, merchant.publicKey)) {
    // WeChat echoes the string it built, so a merchant can compare it with its own.
    throw new V3Refusal(401, 'SIGN_ERROR', '错误的签名，验签失败', {
      field: 'signature',
      issue: 'sign not match',
      location: 'authorization',
      sign_information: {
        method,
        url: rawUrl,
        truncated_sign_message: `${method}\n${rawUrl}\n${items.timestamp}\n${items.nonce_str}\n${body.toString('utf8').slice(0, ECHOED_BODY_CHARS)}\n`,
        sign_message_length: signed.length,
      },
    });
  }
  return merchant;
}

function create(ctx: V3Context, merchant: V3MerchantConfig, req: http.IncomingMessage, body: Buffer): Record<string, unknown> {
  const json = parseJsonBody(body);
  const appid = stringField(json, 'appid', 32);
  const outBillNo = stringField(json, 'out_bill_no', 32);
  if (!OUT_BILL_NO.test(outBillNo)) throw paramError('out_bill_no', '格式', '只能由数字、大小写字母组成');
  const sceneId = stringField(json, 'transfer_scene_id', 36);
  const openid = stringField(json, 'openid', 64);
  const amountFen = json.transfer_amount;
  if (amountFen === undefined) throw paramError('transfer_amount', '必填性');
  if (typeof amountFen !== 'number' || !Number.isSafeInteger(amountFen)) throw paramError('transfer_amount', '类型');
  const remark = stringField(json, 'transfer_remark', 32);
  const notifyUrl = optionalStringField(json, 'notify_url', 256);
  if (notifyUrl !== null && !isNotifyUrl(notifyUrl)) throw paramError('notify_url', '格式', '必须为https地址且不能携带参数');
  const perception = optionalStringField(json, 'user_recv_perception', 32);
  const reportInfos = parseReportInfos(json.transfer_scene_report_infos);
  const encryptedName = optionalStringField(json, 'user_name', 1024);

  if (!merchant.appIds.has(appid)) throw new V3Refusal(400, 'INVALID_REQUEST', 'appid与商户号不匹配，请检查appid是否已绑定商户号');
  if (!merchant.sceneIds.has(sceneId)) throw new V3Refusal(400, 'INVALID_REQUEST', '该转账场景ID不存在或未开通，请前往商户平台-产品中心-商家转账查看');
  const requiredTypes = SCENE_REPORT_TYPES[sceneId];
  if (reportInfos.length === 0) throw new V3Refusal(400, 'PARAM_ERROR', '需传入转账场景报备信息，请检查');
  if (requiredTypes !== undefined) {
    const types = reportInfos.map((info) => info.info_type);
    const complete = types.length === requiredTypes.length && new Set(types).size === types.length && types.every((type) => requiredTypes.includes(type));
    if (!complete) throw new V3Refusal(400, 'PARAM_ERROR', '未传入完整且对应的转账场景报备信息，请根据接口文档检查');
  }
  const perceptions = SCENE_PERCEPTIONS[sceneId];
  if (perception !== null && perceptions !== undefined && !perceptions.includes(perception)) {
    throw new V3Refusal(400, 'INVALID_REQUEST', '暂不支持展示当前传入的用户收款感知');
  }
  if (amountFen < ctx.config.minAmountFen || amountFen > ctx.config.maxAmountFen) {
    throw new V3Refusal(400, 'INVALID_REQUEST', '超过单笔转账上下限，核实产品设置是否准确');
  }
  let userName: string | null = null;
  if (encryptedName === null) {
    if (amountFen >= USER_NAME_REQUIRED_FROM_FEN) throw new V3Refusal(400, 'PARAM_ERROR', '转账金额大于等于2000元时，收款用户姓名必填');
  } else {
    const serial = headerOf(req, 'wechatpay-serial');
    if (serial === undefined) throw new V3Refusal(400, 'PARAM_ERROR', 'HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)');
    const key = ctx.config.wechatKeys.get(serial);
    const decrypted = key === undefined ? undefined : oaepDecrypt(encryptedName, key.privateKey);
    if (decrypted === undefined || decrypted === '') throw new V3Refusal(400, 'PARAM_ERROR', '请确认待处理的消息是否为加密后的密文');
    userName = decrypted;
  }
  if (!isPayeeOf(ctx, appid, openid)) throw new V3Refusal(400, 'INVALID_REQUEST', 'Openid格式错误或者不属于商家公众账号，请检查');

  const params: BillParams = { appid, openid, amountFen, sceneId, remark, reportInfos, userRecvPerception: perception, notifyUrl, userName };
  const existing = ctx.state.bills.get(billKey(merchant.mchId, outBillNo));
  if (existing !== undefined) {
    // T-faq: the same number with other parameters is refused (code UNVERIFIED: INVALID_REQUEST here).
    if (!sameParams(existing, params)) throw new V3Refusal(400, 'INVALID_REQUEST', '单号已存在但信息不一致，请查单后比较确认');
    return createAnswer(existing);
  }
  const daily = v3DailyTotals(ctx);
  const user = daily.perUser.get(openid) ?? { count: 0, amountFen: 0 };
  const limitFailReason = user.count >= ctx.config.userDailyCount
    ? 'DAY_RECEIVED_COUNT_EXCEED'
    : user.amountFen + amountFen > ctx.config.userDailyAmountFen
      ? 'DAY_RECEIVED_QUOTA_EXCEED'
      : (daily.perMerchantFen.get(merchant.mchId) ?? 0) + amountFen > ctx.config.merchantDailyAmountFen
        ? 'TRANSFER_QUOTA_EXCEED'
        : null;
  if (limitFailReason === null && (ctx.state.balancesFen.get(merchant.mchId) ?? 0) < amountFen) throw new V3Refusal(403, 'NOT_ENOUGH');
  return createAnswer(createBill(ctx, merchant, outBillNo, params, limitFailReason));
}

function queryByOutBillNo(ctx: V3Context, merchant: V3MerchantConfig, outBillNo: string): Record<string, unknown> {
  if (!OUT_BILL_NO.test(outBillNo)) throw new V3Refusal(400, 'PARAM_ERROR', '商户单号格式错误');
  return billView(merchant, visibleBill(ctx, ctx.state.bills.get(billKey(merchant.mchId, outBillNo))));
}

function queryByTransferBillNo(ctx: V3Context, merchant: V3MerchantConfig, transferBillNo: string): Record<string, unknown> {
  if (!TRANSFER_BILL_NO.test(transferBillNo)) throw new V3Refusal(400, 'PARAM_ERROR', '微信单号格式错误');
  const key = ctx.state.billsByTransferNo.get(transferBillNo);
  const bill = key === undefined ? undefined : ctx.state.bills.get(key);
  // Another merchant's bill does not exist for this one.
  return billView(merchant, visibleBill(ctx, bill?.mchId === merchant.mchId ? bill : undefined));
}

/** A bill a query may see: it exists, the query no longer lags behind its create, and it is from the last 30 days. */
function visibleBill(ctx: V3Context, bill: TransferBillRecord | undefined): TransferBillRecord {
  const nowMs = v3NowMs(ctx);
  if (bill === undefined || nowMs < bill.createdAtMs + ctx.state.queryLagMs || nowMs - bill.createdAtMs > QUERY_WINDOW_MS) {
    throw new V3Refusal(404, 'NOT_FOUND');
  }
  return bill;
}

function cancel(ctx: V3Context, merchant: V3MerchantConfig, outBillNo: string, body: Buffer): Record<string, unknown> {
  if (!OUT_BILL_NO.test(outBillNo)) throw new V3Refusal(400, 'PARAM_ERROR', '商户单号格式错误');
  // T-faq: the body may be omitted or be `{}`.
  if (body.length > 0) {
    const json = parseJsonBody(body);
    if (Object.keys(json).length > 0) throw new V3Refusal(400, 'PARAM_ERROR', '撤销转账请求体应为空');
  }
  const bill = ctx.state.bills.get(billKey(merchant.mchId, outBillNo));
  if (bill === undefined) throw new V3Refusal(404, 'NOT_FOUND');
  // Cancellable before the user confirms (T-cancel); a repeated cancel answers the cancel's state.
  if (bill.state === 'ACCEPTED' || bill.state === 'PROCESSING' || bill.state === 'WAIT_USER_CONFIRM') cancelBill(ctx, bill);
  else if (bill.state !== 'CANCELING' && bill.state !== 'CANCELLED') throw new V3Refusal(400, 'INVALID_REQUEST', '单号错误，请检查');
  return { out_bill_no: bill.outBillNo, transfer_bill_no: bill.transferBillNo, state: bill.state, update_time: formatRfc3339(bill.updatedAtMs) };
}

function createAnswer(bill: TransferBillRecord): Record<string, unknown> {
  return {
    out_bill_no: bill.outBillNo,
    transfer_bill_no: bill.transferBillNo,
    create_time: formatRfc3339(bill.createdAtMs),
    state: bill.state,
    ...(bill.failReason === null ? {} : { fail_reason: bill.failReason }),
    ...(bill.state === 'WAIT_USER_CONFIRM' && bill.packageInfo !== null ? { package_info: bill.packageInfo } : {}),
  };
}

function billView(merchant: V3MerchantConfig, bill: TransferBillRecord): Record<string, unknown> {
  return {
    mch_id: bill.mchId,
    out_bill_no: bill.outBillNo,
    transfer_bill_no: bill.transferBillNo,
    appid: bill.appid,
    state: bill.state,
    transfer_amount: bill.amountFen,
    transfer_remark: bill.remark,
    ...(bill.failReason === null ? {} : { fail_reason: bill.failReason }),
    openid: bill.openid,
    // Encrypted for the merchant certificate: the merchant decrypts it with its own key (ENC; IM).
    ...(bill.userName === null ? {} : { user_name: oaepEncrypt(bill.userName, merchant.publicKey) }),
    create_time: formatRfc3339(bill.createdAtMs),
    update_time: formatRfc3339(bill.updatedAtMs),
  };
}

/** The answer for a fault, sent instead of (or after) the real one; false when the fault only delays or breaks the signature. */
function applyFault(
  ctx: V3Context,
  fault: V3Fault,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  operation: V3Operation,
): boolean {
  if (fault.drop) {
    recordOutcome(ctx, operation, 'DROPPED');
    req.socket.destroy();
    return true;
  }
  if (fault.unparseable) {
    recordOutcome(ctx, operation, 'UNPARSEABLE');
    sendRaw(ctx, res, 200, '{"out_bill_no":"', signingKey(ctx, req), fault.signature);
    return true;
  }
  if (fault.code !== undefined) {
    const status = fault.status ?? V3_CODE_STATUS[fault.code] ?? 400;
    recordOutcome(ctx, operation, fault.code);
    const answer = refusalAnswer(new V3Refusal(status, fault.code, fault.message ?? V3_CODE_MESSAGE[fault.code] ?? fault.code), status !== 401);
    send(ctx, res, answer, answer.signed ? signingKey(ctx, req) : null, fault.signature);
    return true;
  }
  if (fault.status !== undefined) {
    // A gateway's error: no WeChat body, no signature.
    recordOutcome(ctx, operation, `HTTP_${fault.status}`);
    sendRaw(ctx, res, fault.status, '', null, undefined);
    return true;
  }
  return false;
}

function refusalAnswer(refusal: V3Refusal, signed: boolean): V3Answer {
  return {
    status: refusal.status,
    body: { code: refusal.code, message: refusal.text, ...(refusal.detail === undefined ? {} : { detail: refusal.detail }) },
    signed,
    outcome: refusal.code,
  };
}

function ok(body: Record<string, unknown>): V3Answer {
  return { status: 200, body, signed: true, outcome: 'SUCCESS' };
}

/** The key the answer is signed with: the one the request's Wechatpay-Serial names, else the default (PK-FAQ migration rule). */
function signingKey(ctx: V3Context, req: http.IncomingMessage): SandboxWechatKey {
  const named = headerOf(req, 'wechatpay-serial');
  return (named === undefined ? undefined : ctx.config.wechatKeys.get(named)) ?? ctx.config.defaultKey;
}

function send(ctx: V3Context, res: http.ServerResponse, answer: V3Answer, key: SandboxWechatKey | null, signatureFault?: SignatureFault): void {
  sendRaw(ctx, res, answer.status, answer.body === null ? '' : JSON.stringify(answer.body), key, signatureFault);
}

function sendRaw(ctx: V3Context, res: http.ServerResponse, status: number, payload: string, key: SandboxWechatKey | null, signatureFault: SignatureFault | undefined): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'request-id': `08${randomNonce(30)}`,
  };
  if (key !== null && signatureFault !== 'missing') {
    const timestamp = String(Math.floor(v3WallNowMs(ctx) / 1000) - (signatureFault === 'stale' ? STALE_SECONDS : 0));
    const nonce = randomNonce(32);
    const signed = signatureFault === 'invalid' ? `${payload} ` : payload;
    headers['wechatpay-timestamp'] = timestamp;
    headers['wechatpay-nonce'] = nonce;
    headers['wechatpay-signature'] = rsaSign(messageBytes(timestamp, nonce, signed), key.privateKey);
    headers['wechatpay-serial'] = signatureFault === 'unknown-serial' ? UNKNOWN_SERIAL : key.serial;
    headers['wechatpay-signature-type'] = 'WECHATPAY2-SHA256-RSA2048';
  }
  res.writeHead(status, headers);
  res.end(payload);
}

function recordOutcome(ctx: V3Context, operation: string, outcome: string): void {
  const perOperation = ctx.state.counters.replies.get(operation) ?? new Map<string, number>();
  count(perOperation, outcome);
  ctx.state.counters.replies.set(operation, perOperation);
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text === '' ? undefined : text;
}

function bodyOutBillNo(body: Buffer): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    const value = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>).out_bill_no : undefined;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function parseJsonBody(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new V3Refusal(400, 'PARAM_ERROR', '请求体不是合法的JSON格式');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new V3Refusal(400, 'PARAM_ERROR', '请求体不是合法的JSON格式');
  return parsed as Record<string, unknown>;
}

function paramError(field: string, rule: string, hint?: string): V3Refusal {
  // The shape of WeChat's messages: `输入源“/body/transfer_remark”映射到字段“转账备注”必填性规则校验失败`.
  return new V3Refusal(400, 'PARAM_ERROR', `输入源“/body/${field}”映射到字段“${FIELD_LABELS[field] ?? field}”${rule}规则校验失败${hint === undefined ? '' : `，${hint}`}`);
}

function stringField(json: Record<string, unknown>, field: string, maxChars: number): string {
  const value = json[field];
  if (value === undefined || value === '') throw paramError(field, '必填性');
  if (typeof value !== 'string') throw paramError(field, '类型');
  if ([...value].length > maxChars) throw paramError(field, '长度', `不能超过${maxChars}个字符`);
  return value;
}

function optionalStringField(json: Record<string, unknown>, field: string, maxChars: number): string | null {
  return json[field] === undefined ? null : stringField(json, field, maxChars);
}

function parseReportInfos(value: unknown): ReportInfo[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw paramError('transfer_scene_report_infos', '类型');
  return value.map((entry: unknown) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw paramError('transfer_scene_report_infos', '类型');
    const info = entry as Record<string, unknown>;
    const type = info.info_type;
    const content = info.info_content;
    // T-1000: info_type string[1,15], info_content string[1,32].
    if (typeof type !== 'string' || type === '' || [...type].length > 15 || typeof content !== 'string' || content === '' || [...content].length > 32) {
      throw new V3Refusal(400, 'PARAM_ERROR', '未传入完整且对应的转账场景报备信息，请根据接口文档检查');
    }
    return { info_type: type, info_content: content };
  });
}

function isNotifyUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}

function sameParams(bill: TransferBillRecord, params: BillParams): boolean {
  return bill.appid === params.appid && bill.openid === params.openid && bill.amountFen === params.amountFen && bill.sceneId === params.sceneId &&
    bill.remark === params.remark && bill.userRecvPerception === params.userRecvPerception && bill.notifyUrl === params.notifyUrl &&
    bill.userName === params.userName && JSON.stringify(bill.reportInfos) === JSON.stringify(params.reportInfos);
}
