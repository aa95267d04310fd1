/**
 * Helpers for the claim-page tests: follow campaigns created the way the CLI creates them, sandbox
 * users following and opening their link in WeChat's in-app browser (the sandbox plays it: OAuth,
 * cookies), the claim button pressed, and what the page shows read from its markup.
 */
import { createCampaign } from '../../scripts/campaign';
import type { CampaignDoc } from '../../shared/claims/model';
import { operatorStore } from '../integration/redpacket/support';
import { LOCAL_ACCOUNT, sandbox, type Stack } from './stack';

export const SERVICE = LOCAL_ACCOUNT.officialAppId;
export const SUB_A = 'wx10ca1000000000a2';
export const SUB_B = 'wx10ca1000000000a3';
/** In 中国/广东省/深圳市 per ip2region's data; BEIJING in 中国/北京; ABROAD outside China. */
export const SHENZHEN_IP = '120.24.78.68';
export const BEIJING_IP = '202.106.0.20';
export const ABROAD_IP = '8.8.8.8';

/** A follow campaign open now over `channels` (default: the three local accounts' own channels), in 广东省. */
export async function followCampaign(stack: Stack, fields: Record<string, unknown> = {}): Promise<CampaignDoc> {
  const nowMs = Date.now();
  const { follow, ...rest } = fields as { follow?: Record<string, unknown> };
  return createCampaign(operatorStore(stack), {
    id: 'follow-e2e',
    eligibility: 'follow',
    payout: 'cash',
    sendName: '本地服务号',
    wishing: '感谢关注',
    actName: '新关注有礼',
    remark: 'e2e',
    startsAt: nowMs - 60_000,
    endsAt: nowMs + 3_600_000,
    budgetFen: 1_000,
    amount: { fixedFen: 100 },
    regions: ['中国/广东省'],
    follow: {
      channels: [{ appId: SERVICE, channel: 'account' }, { appId: SUB_A, channel: 'account' }, { appId: SUB_B, channel: 'account' }],
      followerProof: 'first-open',
      ...follow,
    },
    ...rest,
  });
}

export interface Delivery {
  delivered: boolean;
  reply: { MsgType: string; Content?: string } | null;
  replyError: string | null;
}

/** The user follows the account; WeChat delivers the push and shows the passive reply. */
export async function follow(stack: Stack, user: string, appid: string, extra: Record<string, unknown> = {}): Promise<Delivery> {
  const delivery = await sandbox<Delivery>(stack, 'POST', 'users/follow', { user, appid, ...extra });
  // Two events of one user in one second look like a retry to WeChat's dedupe rule: the next one is a second later.
  await sandbox(stack, 'POST', 'clock', { advanceMs: 1_000 });
  return delivery;
}

export async function unfollow(stack: Stack, user: string, appid: string): Promise<void> {
  await sandbox(stack, 'POST', 'users/unfollow', { user, appid });
  await sandbox(stack, 'POST', 'clock', { advanceMs: 1_000 });
}

/** The claim link in a passive reply. */
export function linkIn(delivery: Delivery): string {
  const match = /href="([^"]+)"/.exec(delivery.reply?.Content ?? '');
  if (match === null) throw new Error(`no claim link in the reply: ${JSON.stringify(delivery.reply)} ${delivery.replyError ?? ''}`);
  return match[1]!;
}

export interface Page {
  status: number;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** `user` opens `url` in WeChat (the sandbox's in-app browser: redirects, OAuth, the user's cookies). */
export function open(stack: Stack, user: string, url: string, clientIp: string = SHENZHEN_IP): Promise<Page> {
  return sandbox<Page>(stack, 'POST', 'browser/open', { user, url, clientIp });
}

/** The state the page shows: `data-state` and `data-reason` of its card, and its message. */
export function shown(page: Page): { state: string; reason: string; message: string } {
  const state = /data-state="([^"]*)"/.exec(page.body)?.[1] ?? '';
  const reason = /data-reason="([^"]*)"/.exec(page.body)?.[1] ?? '';
  const message = /data-test="message">([^<]*)</.exec(page.body)?.[1] ?? '';
  return { state, reason, message };
}

/** Presses the claim button on `page` (the form POST with its CSRF token), as `user` from `clientIp`. */
export async function press(stack: Stack, user: string, page: Page, clientIp: string = SHENZHEN_IP): Promise<Page> {
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
  if (csrf === undefined) throw new Error(`no claim button on the page: ${shown(page).state} ${shown(page).reason}`);
  return sandbox<Page>(stack, 'POST', 'browser/open', { user, url: `${stack.url}/claim/claim`, method: 'POST', form: { csrf }, clientIp });
}

/** Follow → link → open → claim: the page after the claim. */
export async function followAndClaim(stack: Stack, user: string, appid: string, clientIp: string = SHENZHEN_IP): Promise<Page> {
  const link = linkIn(await follow(stack, user, appid));
  const page = await open(stack, user, link, clientIp);
  return press(stack, user, page, clientIp);
}
