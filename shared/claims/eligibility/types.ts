/**
 * An eligibility: who may claim. It turns the proof its way in carries (the platform's context for
 * a mini-program user; a signed link and an OAuth session for the follow and web-view pages) into
 * a {@link Person} — every key the person is known by, and their openids — and finds the payee's
 * openid under the account a payout pays from. Reservation, pacing, payment and the reconciler are
 * the engine's (../engine.ts), the same for every eligibility.
 *
 * A new eligibility (`follow`, `webview`) is one file exporting an {@link EligibilityModule}, plus
 * its line in ./index.ts (with its proof type in {@link EligibilityProofs}).
 */
import type { DocumentStore } from '../../store/port';
import { officialOpenidOf } from '../../users/links';
import type { IpRegion } from '../campaign';
import type { CampaignDoc, EligibilityName } from '../model';

/** The person claiming, as an eligibility proved them. */
export interface Person {
  /**
   * Every key the person is known by, the primary one first and always present (it names the
   * claim): `openid:<appid>:<openid>`, `unionid:<unionid>`. The reservation inserts all of them,
   * so a second claim under any of them fails.
   */
  keys: readonly [string, ...string[]];
  /** The person's openids by appid, as proved. */
  openids: Readonly<Record<string, string>>;
  unionid?: string;
  /** For the campaign's region rule. */
  clientIp?: string;
  /** Where {@link clientIp} is, as the IP-region library says (claim pages look it up); null when it does not know. */
  region?: IpRegion | null;
  /** Where the person came from, for the campaign's funnel (written on the claim). */
  channel?: string;
}

/** The payee: the openid under the appid the payout pays from. */
export interface Payee {
  appId: string;
  openid: string;
}

/** What identifying a person may use. */
export interface EligibilityContext {
  store: DocumentStore;
  /** The mini-program whose users may claim. */
  miniProgramAppId: string;
  /** The paying official account. */
  officialAppId: string;
}

/** An eligibility, as registered in ./index.ts. */
export interface EligibilityModule<Proof> {
  readonly name: EligibilityName;
  /** Campaign JSON fields this eligibility reads (validated by {@link planCampaign}). */
  readonly campaignFields: readonly string[];
  /** Validates its campaign fields, pushing every problem; returns what is stored on the campaign. */
  planCampaign(input: Readonly<Record<string, unknown>>, problems: string[]): Record<string, unknown>;
  /** Who is claiming, from `proof`; a typed refusal (NOT_ELIGIBLE…) for anyone who may not. */
  identify(proof: Proof, campaign: CampaignDoc, context: EligibilityContext): Promise<Person>;
  /** The person's openid under `appId`, or a typed refusal that says how to link it. */
  payee(person: Person, appId: string, context: EligibilityContext): Promise<Payee>;
}

/**
 * The openid the person proved under `appId`, else the one linked to their unionid under the
 * official account (wx_user_links: follow events, OAuth, an operator), else AccountNotLinkedError.
 */
export async function linkedPayee(person: Person, appId: string, context: EligibilityContext): Promise<Payee> {
  const proved = person.openids[appId];
  if (proved !== undefined) return { appId, openid: proved };
  return { appId, openid: await officialOpenidOf(context.store, appId, person.unionid) };
}
