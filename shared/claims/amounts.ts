/**
 * Random packet amounts, decided when the campaign is created: a split of the budget into
 * `count` amounts within [minFen, maxFen] that sums exactly to the budget. Claims then draw
 * stored slots in order, so the amount a user gets is a reservation, never arithmetic at claim time.
 */
import { randomInt } from 'node:crypto';
import { InputError } from '../errors';

/** A uniform integer in [min, max]; crypto-random by default, injectable for tests. */
export type RandomInt = (min: number, max: number) => number;

/** crypto.randomInt over an inclusive range. */
export const cryptoRandomInt: RandomInt = (min, max) => randomInt(min, max + 1);

/** Inputs of {@link splitBudget}. */
export interface SplitInput {
  budgetFen: number;
  count: number;
  minFen: number;
  maxFen: number;
}

/**
 * Each packet's extra over `minFen` is drawn uniformly from what keeps the rest feasible (the
 * "double the mean" rule bounded by min/max), then the list is shuffled so early claimers are
 * not favoured by the order of the draw.
 */
export function splitBudget(input: SplitInput, random: RandomInt = cryptoRandomInt): number[] {
  const { budgetFen, count, minFen, maxFen } = input;
  for (const [name, value] of Object.entries(input)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new InputError(`${name} must be a positive whole number`, name);
  }
  if (minFen > maxFen) throw new InputError('minFen must not exceed maxFen', 'minFen');
  if (count * minFen > budgetFen) throw new InputError(`the budget cannot give ${count} packets of at least ${minFen} fen`, 'budgetFen');
  if (count * maxFen < budgetFen) throw new InputError(`${count} packets of at most ${maxFen} fen cannot spend the whole budget`, 'budgetFen');
  const spread = maxFen - minFen;
  let remainingExtra = budgetFen - count * minFen;
  const amounts: number[] = [];
  for (let left = count; left > 0; left -= 1) {
    // The others can absorb at most (left - 1) × spread; this packet takes the rest at least.
    const low = Math.max(0, remainingExtra - (left - 1) * spread);
    const high = Math.min(spread, left === 1 ? remainingExtra : Math.floor((2 * remainingExtra) / left));
    const extra = left === 1 ? remainingExtra : random(low, Math.max(low, high));
    amounts.push(minFen + extra);
    remainingExtra -= extra;
  }
  for (let i = amounts.length - 1; i > 0; i -= 1) {
    const j = random(0, i);
    [amounts[i], amounts[j]] = [amounts[j]!, amounts[i]!];
  }
  return amounts;
}
