/**
 * Times an operator writes in a campaign file: an absolute ISO 8601 time with its offset, epoch
 * ms, `"now"`, or an offset from now — `"+7d"`, `"+2h"`, `"-30m"`, `"+90s"` — so that a template
 * is open whenever it is used ("startsAt": "now", "endsAt": "+7d").
 */

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const OFFSET = /^([+-])(\d{1,6})([smhd])$/;

/** Epoch ms of `value`, or NaN when it is none of the accepted forms. */
export function parseCampaignTime(value: unknown, nowMs: number): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return Number.NaN;
  const text = value.trim();
  if (text === 'now') return nowMs;
  const offset = OFFSET.exec(text);
  if (offset !== null) return nowMs + (offset[1] === '-' ? -1 : 1) * Number(offset[2]) * UNIT_MS[offset[3]!]!;
  return /[zZ]|[+-]\d\d:\d\d$/.test(text) ? Date.parse(text) : Number.NaN;
}
