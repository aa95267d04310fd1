import fc from 'fast-check';
import { splitBudget } from '../../../shared/claims/amounts';

describe('splitBudget', () => {
  it('splits any feasible budget into count amounts within [min, max] that sum exactly to it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 100, max: 20_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (count, minFen, spreadFen, where) => {
          const maxFen = Math.min(20_000, minFen + spreadFen);
          const budgetFen = count * minFen + Math.floor(where * count * (maxFen - minFen));
          const amounts = splitBudget({ budgetFen, count, minFen, maxFen });
          expect(amounts).toHaveLength(count);
          expect(amounts.reduce((sum, fen) => sum + fen, 0)).toBe(budgetFen);
          for (const fen of amounts) {
            expect(Number.isInteger(fen)).toBe(true);
            expect(fen).toBeGreaterThanOrEqual(minFen);
            expect(fen).toBeLessThanOrEqual(maxFen);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('uses the injected random source for every draw and the shuffle', () => {
    const draws: Array<[number, number]> = [];
    const lowest = (min: number, max: number): number => {
      draws.push([min, max]);
      return min;
    };
    expect(splitBudget({ budgetFen: 600, count: 3, minFen: 100, maxFen: 300 }, lowest)).toEqual([200, 300, 100]);
    expect(draws).toEqual([[0, 200], [100, 200], [0, 2], [0, 1]]);
  });

  it.each([
    { case: 'a budget below count × min', input: { budgetFen: 299, count: 3, minFen: 100, maxFen: 300 }, message: /cannot give 3 packets of at least 100/ },
    { case: 'a budget above count × max', input: { budgetFen: 901, count: 3, minFen: 100, maxFen: 300 }, message: /cannot spend the whole budget/ },
    { case: 'min above max', input: { budgetFen: 600, count: 3, minFen: 300, maxFen: 100 }, message: /minFen must not exceed maxFen/ },
    { case: 'a fractional amount', input: { budgetFen: 600.5, count: 3, minFen: 100, maxFen: 300 }, message: /budgetFen must be a positive whole number/ },
  ])('refuses $case', ({ input, message }) => {
    expect(() => splitBudget(input)).toThrow(message);
  });
});
