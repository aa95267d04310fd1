/** The eligibilities a campaign may name (`eligibility` in its JSON). A new one is a file beside this one and its line here. */
import type { EligibilityName } from '../model';
import { followers, type FollowProof } from './follow';
import { miniProgramUser, type MiniProgramProof } from './miniprogram';
import type { EligibilityModule } from './types';
import { webviewUsers, type WebviewProof } from './webview';

/** The proof each way in carries. */
export interface EligibilityProofs {
  miniprogram: MiniProgramProof;
  follow: FollowProof;
  webview: WebviewProof;
}

export const ELIGIBILITIES: { readonly [N in EligibilityName]: EligibilityModule<EligibilityProofs[N]> } = {
  miniprogram: miniProgramUser,
  follow: followers,
  webview: webviewUsers,
};

export const ELIGIBILITY_NAMES = Object.keys(ELIGIBILITIES) as EligibilityName[];

/** A claim's way in: which eligibility, and its proof. */
export type ClaimEntry = { [N in EligibilityName]: { eligibility: N; proof: EligibilityProofs[N] } }[EligibilityName];
