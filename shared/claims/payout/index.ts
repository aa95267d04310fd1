/** The payouts a campaign may name (`payout` in its JSON). A new payout is a file beside this one and its line here. */
import type { PayoutName } from '../model';
import { cashPacket } from './cash';
import { miniProgramPacket } from './miniprogram';
import type { PayoutModule } from './types';

export const PAYOUTS: Readonly<Record<PayoutName, PayoutModule>> = {
  miniprogram: miniProgramPacket,
  cash: cashPacket,
};

export const PAYOUT_NAMES = Object.keys(PAYOUTS) as PayoutName[];
