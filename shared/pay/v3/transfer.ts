/**
 * 商家转账 (merchant transfer, user-confirm mode) over APIv3 (reference/pay-v3-transfer.md §1):
 * create a bill, query it by out_bill_no or transfer_bill_no, cancel it. One call is exactly one
 * HTTP request; nothing here retries or invents an out_bill_no. The create body is built once
 * ({@link buildTransferBill}) so the claim can persist it before the first send and re-send the
 * identical bytes on every retry (reference §1.8: "Retrying needs the identical JSON").
 *
 *   ACCEPTED ─► PROCESSING ─► WAIT_USER_CONFIRM ─(user confirms)─► TRANSFERING ─► SUCCESS
 *       │            │               │  └─(~24 h unconfirmed)─► FAIL
 *       └────────────┴───────────────┴─(cancel)─► CANCELING ─► CANCELLED
 */
import { InputError } from '../../errors';
import { encryptPayV3SensitiveField } from '../../signing/pay-v3';
import { PayV3ApiError, PayV3UnknownOutcomeError, type PayV3Endpoint } from './errors';
import { createPayV3Http, type PayV3Http, type PayV3HttpOptions } from './http';
import type { PayV3Keys } from './keys';
import { isTransferState, TransferAction, type TransferState } from './policy';

/** A bill to create. Texts follow WeChat's limits; amounts and the number come from the claim, never from a client. */
export interface TransferBillRequest {
  /** The claim's idempotency key: 1–32 of [0-9A-Za-z], the same on every retry of one attempt. */
  outBillNo: string;
  /** appid: the mini-program or official account the openid belongs to (bound to the merchant). */
  appId: string;
  openid: string;
  amountFen: number;
  /** transfer_scene_id, e.g. `1000` (现金营销). */
  transferSceneId: string;
  /** transfer_remark: shown to the user, ≤ 32 characters. */
  transferRemark: string;
  /** transfer_scene_report_infos, fixed per scene (1000: 活动名称 and 奖励说明). */
  reportInfos: ReadonlyArray<{ infoType: string; infoContent: string }>;
  /** user_recv_perception, e.g. 现金奖励 / 活动奖励 for scene 1000. */
  userRecvPerception?: string;
  /** Public HTTPS URL without a query; without it WeChat sends no notify. */
  notifyUrl?: string;
  /** The payee's real name (plaintext; encrypted here). Required from 2,000 元 (200000 fen). */
  userName?: string;
}

/** A create request ready to send and to persist: re-send exactly this on every retry of the same bill. */
export interface PreparedTransferBill {
  readonly outBillNo: string;
  readonly amountFen: number;
  /** The exact JSON text that is signed and sent. */
  readonly body: string;
  /** The WeChat Pay key `user_name` was encrypted for; sent as Wechatpay-Serial. */
  readonly wechatpaySerial: string;
}

/** What the create call answers. */
export interface TransferBillCreated {
  outBillNo: string;
  transferBillNo: string;
  state: TransferState;
  /** RFC 3339, as WeChat writes it. */
  createTime: string;
  /** Only with WAIT_USER_CONFIRM: the `package` for wx.requestMerchantTransfer. Queries never return it; re-send the identical create to get it again. */
  packageInfo: string | undefined;
  failReason: string | undefined;
}

/** A bill as the query calls describe it. */
export interface TransferBill {
  mchId: string;
  outBillNo: string;
  transferBillNo: string;
  appId: string;
  state: TransferState;
  amountFen: number;
  transferRemark: string;
  failReason: string | undefined;
  openid: string | undefined;
  /** user_name, encrypted by WeChat for the merchant certificate: decryptPayV3SensitiveField with the merchant key. */
  userNameCiphertext: string | undefined;
  createTime: string;
  updateTime: string;
}

/** A query's answer: the bill, or "WeChat does not know it (yet)" — which never proves it does not exist. */
export type TransferBillLookup = { found: true; bill: TransferBill } | { found: false };

/** What the cancel call answers: the cancel was accepted (CANCELING) or done (CANCELLED); query for the end. */
export interface TransferBillCancel {
  outBillNo: string;
  transferBillNo: string;
  state: 'CANCELING' | 'CANCELLED';
  updateTime: string;
}

/** The four transfer-bills calls of one merchant. */
export interface TransferBillsClient {
  readonly mchId: string;
  /** Loads the HTTP layer, so a broken set-up shows before a claim is marked as sending. */
  prepare(): Promise<void>;
  /** 发起转账 https://pay.weixin.qq.com/doc/v3/merchant/4012716434 */
  create(bill: PreparedTransferBill): Promise<TransferBillCreated>;
  /** 商户单号查询转账单 https://pay.weixin.qq.com/doc/v3/merchant/4012716437 */
  queryByOutBillNo(outBillNo: string): Promise<TransferBillLookup>;
  /** 微信单号查询转账单 https://pay.weixin.qq.com/doc/v3/merchant/4012716457 */
  queryByTransferBillNo(transferBillNo: string): Promise<TransferBillLookup>;
  /** 撤销转账 https://pay.weixin.qq.com/doc/v3/merchant/4012716458 */
  cancel(outBillNo: string): Promise<TransferBillCancel>;
  close(): void;
}

/** From this amount WeChat requires `user_name` (2,000 元, T-create). */
export const USER_NAME_REQUIRED_FROM_FEN = 200_000;

const BILLS_PATH = '/v3/fund-app/mch-transfer/transfer-bills';
const OUT_BILL_NO = /^[0-9A-Za-z]{1,32}$/;
const TRANSFER_BILL_NO = /^[0-9A-Za-z]{1,64}$/;
const SCENE_ID = /^[0-9A-Za-z]{1,36}$/;
const MAX_REMARK_CHARS = 32;
const MAX_INFO_TYPE_CHARS = 15;
const MAX_INFO_CONTENT_CHARS = 32;
const MAX_NOTIFY_URL_CHARS = 256;

/**
 * Checks a bill request, encrypts `user_name` for WeChat Pay's configured key, and serialises
 * the body once. OAEP is randomised, so building twice gives two bodies: build once, persist,
 * re-send that.
 */
export function buildTransferBill(request: TransferBillRequest, keys: PayV3Keys): PreparedTransferBill {
  const outBillNo = expectOutBillNo(request.outBillNo);
  const appId = expectText(request.appId, 'appId', 32);
  const openid = expectText(request.openid, 'openid', 64);
  const { amountFen } = request;
  if (!Number.isSafeInteger(amountFen) || amountFen <= 0) throw new InputError('amountFen must be a positive whole number of fen', 'amountFen');
  const sceneId = request.transferSceneId;
  if (typeof sceneId !== 'string' || !SCENE_ID.test(sceneId)) throw new InputError('transferSceneId must be the scene id, e.g. 1000', 'transferSceneId');
  const remark = expectText(request.transferRemark, 'transferRemark', MAX_REMARK_CHARS);
  if (!Array.isArray(request.reportInfos) || request.reportInfos.length === 0) {
    throw new InputError('reportInfos must list the scene\'s report information (scene 1000: 活动名称 and 奖励说明)', 'reportInfos');
  }
  const reportInfos = request.reportInfos.map((info, index) => ({
    info_type: expectText(info?.infoType, `reportInfos[${index}].infoType`, MAX_INFO_TYPE_CHARS),
    info_content: expectText(info?.infoContent, `reportInfos[${index}].infoContent`, MAX_INFO_CONTENT_CHARS),
  }));
  const perception = request.userRecvPerception === undefined ? undefined : expectText(request.userRecvPerception, 'userRecvPerception', 32);
  const notifyUrl = request.notifyUrl === undefined ? undefined : expectNotifyUrl(request.notifyUrl);
  if (amountFen >= USER_NAME_REQUIRED_FROM_FEN && request.userName === undefined) {
    throw new InputError(`userName is required from ${USER_NAME_REQUIRED_FROM_FEN} fen (2,000 元)`, 'userName');
  }
  const userName = request.userName === undefined
    ? undefined
    : encryptPayV3SensitiveField(expectText(request.userName, 'userName', 64), keys.encryptionKey.publicKey);
  // Field order of the official example (T-create); WeChat reads JSON, the order only keeps diffs readable.
  const body = JSON.stringify({
    appid: appId,
    out_bill_no: outBillNo,
    transfer_scene_id: sceneId,
    openid,
    ...(userName === undefined ? {} : { user_name: userName }),
    transfer_amount: amountFen,
    transfer_remark: remark,
    ...(notifyUrl === undefined ? {} : { notify_url: notifyUrl }),
    ...(perception === undefined ? {} : { user_recv_perception: perception }),
    transfer_scene_report_infos: reportInfos,
  });
  return { outBillNo, amountFen, body, wechatpaySerial: keys.encryptionKey.serial };
}

/** The transfer-bills client over the APIv3 transport. */
export function createTransferBillsClient(options: PayV3HttpOptions): TransferBillsClient {
  const http: PayV3Http = createPayV3Http(options);

  async function lookup(endpoint: PayV3Endpoint, path: string, expect: { outBillNo?: string; transferBillNo?: string }): Promise<TransferBillLookup> {
    let json: Record<string, unknown>;
    try {
      ({ json } = await http.send({ endpoint, method: 'GET', path, body: '' }));
    } catch (error) {
      if (error instanceof PayV3ApiError && error.action === TransferAction.NOT_FOUND) return { found: false };
      throw error;
    }
    const bill = billOf(endpoint, json);
    // A bill for another number would be a mix-up we must not record as ours.
    if ((expect.outBillNo !== undefined && bill.outBillNo !== expect.outBillNo) || (expect.transferBillNo !== undefined && bill.transferBillNo !== expect.transferBillNo)) {
      throw new PayV3UnknownOutcomeError(endpoint, 'answer describes another bill');
    }
    if (bill.mchId !== options.keys.mchId) throw new PayV3UnknownOutcomeError(endpoint, 'answer describes a bill of another merchant');
    return { found: true, bill };
  }

  return {
    mchId: options.keys.mchId,
    prepare: () => http.prepare(),
    async create(bill) {
      const endpoint: PayV3Endpoint = 'transfer-bills.create';
      const outBillNo = expectOutBillNo(bill.outBillNo);
      if (typeof bill.body !== 'string' || !bill.body.includes(`"out_bill_no":"${outBillNo}"`)) {
        throw new InputError('the prepared body does not belong to this out_bill_no: build it with buildTransferBill', 'body');
      }
      const { json } = await http.send({ endpoint, method: 'POST', path: BILLS_PATH, body: bill.body, wechatpaySerial: bill.wechatpaySerial });
      const answered = text(json.out_bill_no);
      if (answered !== outBillNo) throw new PayV3UnknownOutcomeError(endpoint, 'answer names another out_bill_no');
      const state = json.state;
      if (!isTransferState(state)) throw new PayV3UnknownOutcomeError(endpoint, `unknown state ${JSON.stringify(state)}`);
      const transferBillNo = text(json.transfer_bill_no);
      if (transferBillNo === undefined) throw new PayV3UnknownOutcomeError(endpoint, 'answer without transfer_bill_no');
      const packageInfo = text(json.package_info);
      // Without the package the user cannot confirm; the identical create answers it again.
      if (state === 'WAIT_USER_CONFIRM' && packageInfo === undefined) throw new PayV3UnknownOutcomeError(endpoint, 'WAIT_USER_CONFIRM without package_info');
      return { outBillNo, transferBillNo, state, createTime: text(json.create_time) ?? '', packageInfo, failReason: text(json.fail_reason) };
    },
    async queryByOutBillNo(outBillNo) {
      const number = expectOutBillNo(outBillNo);
      return lookup('transfer-bills.query-by-out-bill-no', `${BILLS_PATH}/out-bill-no/${number}`, { outBillNo: number });
    },
    async queryByTransferBillNo(transferBillNo) {
      if (typeof transferBillNo !== 'string' || !TRANSFER_BILL_NO.test(transferBillNo)) {
        throw new InputError('transferBillNo must be 1–64 characters of [0-9A-Za-z]', 'transferBillNo');
      }
      return lookup('transfer-bills.query-by-transfer-bill-no', `${BILLS_PATH}/transfer-bill-no/${transferBillNo}`, { transferBillNo });
    },
    async cancel(outBillNo) {
      const endpoint: PayV3Endpoint = 'transfer-bills.cancel';
      const number = expectOutBillNo(outBillNo);
      // A POST without a body: the signing string's body line is empty (reference §5 V3).
      const { json } = await http.send({ endpoint, method: 'POST', path: `${BILLS_PATH}/out-bill-no/${number}/cancel`, body: '' });
      if (text(json.out_bill_no) !== number) throw new PayV3UnknownOutcomeError(endpoint, 'answer names another out_bill_no');
      const state = json.state;
      if (state !== 'CANCELING' && state !== 'CANCELLED') throw new PayV3UnknownOutcomeError(endpoint, `unexpected cancel state ${JSON.stringify(state)}`);
      return { outBillNo: number, transferBillNo: text(json.transfer_bill_no) ?? '', state, updateTime: text(json.update_time) ?? '' };
    },
    close: () => http.close(),
  };
}

function billOf(endpoint: PayV3Endpoint, json: Record<string, unknown>): TransferBill {
  const state = json.state;
  if (!isTransferState(state)) throw new PayV3UnknownOutcomeError(endpoint, `unknown state ${JSON.stringify(state)}`);
  // WxJava types transfer_amount as a string (reference §1.6): accept both, keep whole fen only.
  const amount = typeof json.transfer_amount === 'string' && /^[0-9]{1,15}$/.test(json.transfer_amount) ? Number(json.transfer_amount) : json.transfer_amount;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount)) throw new PayV3UnknownOutcomeError(endpoint, 'answer without a whole transfer_amount');
  const outBillNo = text(json.out_bill_no);
  const transferBillNo = text(json.transfer_bill_no);
  if (outBillNo === undefined || transferBillNo === undefined) throw new PayV3UnknownOutcomeError(endpoint, 'answer without the bill numbers');
  return {
    mchId: text(json.mch_id) ?? '',
    outBillNo,
    transferBillNo,
    appId: text(json.appid) ?? '',
    state,
    amountFen: amount,
    transferRemark: text(json.transfer_remark) ?? '',
    failReason: text(json.fail_reason),
    openid: text(json.openid),
    userNameCiphertext: text(json.user_name),
    createTime: text(json.create_time) ?? '',
    updateTime: text(json.update_time) ?? '',
  };
}

function expectOutBillNo(value: unknown): string {
  if (typeof value !== 'string' || !OUT_BILL_NO.test(value)) throw new InputError('outBillNo must be 1–32 characters of [0-9A-Za-z]', 'outBillNo');
  return value;
}

/** A non-empty string of at most `maxChars` characters (code points, as WeChat counts 中文). */
function expectText(value: unknown, field: string, maxChars: number): string {
  if (typeof value !== 'string' || value.trim() === '') throw new InputError(`${field} must be a non-empty string`, field);
  if ([...value].length > maxChars) throw new InputError(`${field} must be at most ${maxChars} characters`, field);
  return value;
}

function expectNotifyUrl(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_NOTIFY_URL_CHARS) throw new InputError(`notifyUrl must be a URL of at most ${MAX_NOTIFY_URL_CHARS} characters`, 'notifyUrl');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError('notifyUrl must be an absolute URL', 'notifyUrl');
  }
  // T-create: a public HTTPS URL that carries no query string.
  if (url.protocol !== 'https:' || url.search !== '' || url.hash !== '') throw new InputError('notifyUrl must be https:// without a query string', 'notifyUrl');
  return value;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
