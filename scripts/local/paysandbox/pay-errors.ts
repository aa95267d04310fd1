/**
 * The red-packet err_codes the sandbox answers with and a default err_code_des for each
 * (reference/wechat-api.md §7 err_code table). Clients must branch on err_code, never on the
 * text ("err_code_des is for humans"), so the sandbox varies the text where WeChat does.
 */

/** Red-packet err_codes the sandbox produces by itself; faults may inject any other code too. */
export const PayErrCode = {
  SYSTEMERROR: 'SYSTEMERROR',
  PROCESSING: 'PROCESSING',
  SEND_FAILED: 'SEND_FAILED',
  NOTENOUGH: 'NOTENOUGH',
  FREQ_LIMIT: 'FREQ_LIMIT',
  SENDNUM_LIMIT: 'SENDNUM_LIMIT',
  SENDAMOUNT_LIMIT: 'SENDAMOUNT_LIMIT',
  RCVDAMOUNT_LIMIT: 'RCVDAMOUNT_LIMIT',
  MONEY_LIMIT: 'MONEY_LIMIT',
  NO_AUTH: 'NO_AUTH',
  ILLEGAL_APPID: 'ILLEGAL_APPID',
  OPENID_ERROR: 'OPENID_ERROR',
  FATAL_ERROR: 'FATAL_ERROR',
  CA_ERROR: 'CA_ERROR',
  SIGN_ERROR: 'SIGN_ERROR',
  XML_ERROR: 'XML_ERROR',
  PARAM_ERROR: 'PARAM_ERROR',
  NOT_FOUND: 'NOT_FOUND',
} as const;

/** Default err_code_des per err_code. */
export const PAY_ERR_CODE_DES: Readonly<Record<string, string>> = {
  SYSTEMERROR: '系统繁忙，请稍后再试',
  PROCESSING: '请求已受理，请稍后使用原单号查询发放结果',
  SEND_FAILED: '红包发放失败,请更换单号再重试',
  NOTENOUGH: '帐号余额不足，请到商户平台充值后再重试',
  FREQ_LIMIT: '超过频率限制,请稍后再试',
  SENDNUM_LIMIT: '该用户今日领取红包个数超过限制',
  SENDAMOUNT_LIMIT: '商户号今日发放金额超过限制',
  RCVDAMOUNT_LIMIT: '该用户今日领取金额超过限制',
  MONEY_LIMIT: '红包金额发放限制',
  NO_AUTH: '发放失败，此请求可能存在风险，已被微信拦截',
  ILLEGAL_APPID: '非法appid，请确认是否为公众号的appid',
  OPENID_ERROR: 'openid和appid不匹配',
  FATAL_ERROR: '已存在该单号，并且参数与原单不一致',
  CA_ERROR: '请求未携带证书，或请求携带的证书出错',
  SIGN_ERROR: '签名错误',
  XML_ERROR: '输入xml参数格式错误',
  PARAM_ERROR: '参数错误',
  NOT_FOUND: '指定单号数据不存在',
};

/** A refusal while handling a request: becomes result_code FAIL with this err_code. */
export class PayRefusal extends Error {
  constructor(
    readonly errCode: string,
    readonly errCodeDes: string = PAY_ERR_CODE_DES[errCode] ?? errCode,
  ) {
    super(`${errCode}: ${errCodeDes}`);
    this.name = 'PayRefusal';
  }
}
