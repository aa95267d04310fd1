/**
 * The mini-program's `wx.requestMerchantTransfer`, played by the sandbox (reference §2): it checks
 * what the product hands the client as WeChat's confirm page would — the package must be one the
 * sandbox issued and still live, mchId and appId must be the bill's, and the user holding the
 * phone must be the payee — then the user confirms (TRANSFERING → SUCCESS) or backs out (the bill
 * keeps waiting: closing the page changes nothing, only the merchant's cancel does).
 */
import { SandboxInputError, expectRecord, expectString } from '../../sandbox/validate';
import { confirmBill, settleBills, type V3Context } from './state';

/** The control API's input: wx.requestMerchantTransfer's arguments, the user, and what the user does. */
export interface RequestMerchantTransferInput {
  appId: string;
  mchId: string;
  /** The `package_info` of the create answer, as the product returned it. */
  package: string;
  /** The user in the mini-program (the openid the mini-program session belongs to). */
  openid: string;
  /** "confirm": taps 确认收款; "cancel": closes the page. */
  action: 'confirm' | 'cancel';
}

/**
 * What the client's callbacks receive. `ok` means the page was shown and the user came back —
 * NOT that the money arrived (T-jsapi sample comment): confirm by query or notify. The fail
 * texts are the sandbox's own (WeChat's are not documented): branch on `ok`.
 */
export type RequestMerchantTransferResult =
  | { errMsg: 'requestMerchantTransfer:ok' }
  | { errMsg: `requestMerchantTransfer:fail ${string}` };

const KEYS = ['appId', 'mchId', 'package', 'openid', 'action'] as const;

/** Plays wx.requestMerchantTransfer; a malformed input (not the arguments the API takes) throws {@link SandboxInputError}. */
export function requestMerchantTransfer(ctx: V3Context, input: RequestMerchantTransferInput): RequestMerchantTransferResult {
  const record = expectRecord(input, 'requestMerchantTransfer input', KEYS);
  const appId = expectString(record.appId, 'appId');
  const mchId = expectString(record.mchId, 'mchId');
  const packageInfo = expectString(record.package, 'package');
  const openid = expectString(record.openid, 'openid');
  const { action } = record;
  if (action !== 'confirm' && action !== 'cancel') throw new SandboxInputError('action must be "confirm" or "cancel"');
  settleBills(ctx);
  const key = ctx.state.billsByPackage.get(packageInfo);
  const bill = key === undefined ? undefined : ctx.state.bills.get(key);
  if (bill === undefined) {
    // A package that was issued but died (closed after 24 h, cancelled, already confirmed) looks the same to the client.
    return fail('package invalid or expired');
  }
  if (bill.mchId !== mchId) return fail('mchId does not match the bill');
  if (bill.appid !== appId) return fail('appId does not match the bill');
  // "微信账号不一致": the page refuses a user who is not the payee.
  if (bill.openid !== openid) return fail('the WeChat account is not the payee');
  if (action === 'cancel') return fail('cancel');
  // A reopened page of a bill already TRANSFERING shows its progress; it never starts a second transfer.
  if (bill.state === 'WAIT_USER_CONFIRM') confirmBill(ctx, bill);
  return { errMsg: 'requestMerchantTransfer:ok' };
}

function fail(reason: string): RequestMerchantTransferResult {
  return { errMsg: `requestMerchantTransfer:fail ${reason}` };
}
