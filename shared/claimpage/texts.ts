/**
 * What the claim page says, in Chinese, for each state and refusal. Every reason the engine, the
 * eligibilities and the page can refuse with has its sentence here (a test holds them together),
 * so no user ever sees a code or an English message.
 */
import { RefusalReason } from '../claims/errors';

/** Reasons of the page itself (not the engine's). */
export const PageReason = {
  /** Opened outside WeChat (no OAuth possible). */
  NOT_IN_WECHAT: 'not_in_wechat',
  /** No session: the page was opened without its link, or the session ran out. */
  NO_SESSION: 'no_session',
  /** The OAuth callback did not belong to this browser's authorization (state), or came too late. */
  OAUTH_STATE: 'oauth_state',
  /** WeChat refused the authorization (the user declined, or the code kept failing). */
  OAUTH_FAILED: 'oauth_failed',
  /** Too many page requests from this network or this person. */
  RATE_LIMITED: 'rate_limited',
  /** Something on our side failed; nothing was paid twice and the person can try again. */
  ERROR: 'error',
  /** The account has no unionid link and OAuth found none (a follower of an account not bound to the Open Platform). */
  NO_LINK: 'no_link',
  NO_UNIONID: 'no_unionid',
} as const;

const TEXTS: Readonly<Record<string, string>> = {
  [RefusalReason.NOT_STARTED]: '活动尚未开始，请稍后再来。',
  [RefusalReason.ENDED]: '活动已经结束，感谢参与。',
  [RefusalReason.SOLD_OUT]: '红包已经发完了，感谢参与。',
  [RefusalReason.ALREADY_CLAIMED]: '你已经领过本活动的红包了，每人限领一次。',
  [RefusalReason.CLAIM_IN_PROGRESS]: '你的红包正在发放中，请稍候刷新。',
  [RefusalReason.REGION]: '本活动仅限指定地区参加，你所在的地区暂不能领取。',
  [RefusalReason.WRONG_APP]: '本活动不能从这里领取。',
  [RefusalReason.WRONG_ENTRY]: '本活动不能从这里领取。',
  [RefusalReason.USER_DAILY_LIMIT]: '你今天领取的红包已达微信的上限，本红包无法发放。',
  [RefusalReason.MERCHANT_LIMIT]: '商户今日的红包额度已用完，本红包无法发放。',
  [RefusalReason.RISK_BLOCKED]: '微信支付的风控拒绝向你的账户发放红包。',
  [RefusalReason.HELD]: '你的红包正在由商户核实，请稍后再来查看。',
  [RefusalReason.PAUSED]: '活动暂停中，请稍后再试。',
  [RefusalReason.TRANSFER_RECEIVED]: '奖励已到账微信零钱。',
  [RefusalReason.TRANSFER_EXPIRED]: '这笔转账 24 小时内未确认，已经关闭。',
  [RefusalReason.TRANSFER_CANCELLED]: '商户已撤销这笔转账。',
  [RefusalReason.TRANSFER_DECLINED]: '微信支付无法向你的账户转账。',
  [RefusalReason.NOT_NEW]: '本活动仅限首次关注的新用户参加（取消关注后再次关注不算新用户）。',
  [RefusalReason.FOLLOW_OUTSIDE_WINDOW]: '你关注的时间不在活动期间内。',
  [RefusalReason.LINK_REUSED]: '这个领取链接已经被使用过了。领取链接仅限收到它的本人使用一次。',
  [RefusalReason.LINK_EXPIRED]: '领取链接已过期（关注后 10 分钟内有效）。',
  [RefusalReason.LINK_INVALID]: '领取链接无效，请从公众号的回复消息中打开。',
  [RefusalReason.FORWARDED]: '这个领取链接是发给别人的，不能代领。请关注公众号后打开你自己收到的链接。',
  [RefusalReason.UNPROVEN]: '暂时无法确认你就是收到链接的本人，请稍后从公众号消息中重新打开链接。',
  [RefusalReason.SNAPSHOT_USER]: '请点击页面下方的“使用完整服务”后再领取。',
  [RefusalReason.RISKY_USER]: '你的微信账号暂时无法参加本活动。',
  [RefusalReason.RISK_UNCHECKED]: '暂时无法确认你的账号状态，请从小程序重新进入后再试。',
  [PageReason.NOT_IN_WECHAT]: '请在微信客户端中打开此页面。',
  [PageReason.NO_SESSION]: '页面已过期，请从公众号消息（或小程序）中重新打开领取页面。',
  [PageReason.OAUTH_STATE]: '授权已过期或不属于本页面，请重新打开领取链接。',
  [PageReason.OAUTH_FAILED]: '微信授权未完成，请重新打开领取链接。',
  [PageReason.RATE_LIMITED]: '操作太频繁了，请一分钟后再试。',
  [PageReason.ERROR]: '系统繁忙，请稍后再试（不会重复发放）。',
  [PageReason.NO_LINK]: '请先关注服务号，然后重新打开领取页面。',
  [PageReason.NO_UNIONID]: '你的微信账号暂时无法参加本活动。',
};

/** The sentence for a refusal reason (a generic one for a reason nobody wrote a sentence for). */
export function refusalText(reason: string): string {
  return TEXTS[reason] ?? '暂时无法领取，请稍后再试。';
}

/** Reasons with a sentence (for the test that holds them together with RefusalReason). */
export function reasonsWithText(): string[] {
  return Object.keys(TEXTS);
}
