import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { planCampaign } from '../../shared/claims/campaign';
import { parseCampaignTime } from '../../shared/relative-time';

const DIR = path.join(__dirname, '..', '..', 'scripts', 'campaign-templates');
const NOW_MS = Date.UTC(2026, 6, 1);

/** A template as `campaign create` reads it: "now" and "+7d" resolved against the clock. */
function load(file: string): Record<string, unknown> {
  const raw = JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as Record<string, unknown>;
  return { ...raw, startsAt: parseCampaignTime(raw.startsAt, NOW_MS), endsAt: parseCampaignTime(raw.endsAt, NOW_MS) };
}

describe('the campaign templates the README and the demo create', () => {
  it.each(readdirSync(DIR).filter((file) => file.endsWith('.json')))('%s is a valid campaign open from now on', (file) => {
    const { campaign } = planCampaign(load(file), { nowMs: NOW_MS });

    expect(campaign.startsAtMs).toBe(NOW_MS);
    expect(campaign.endsAtMs).toBeGreaterThan(NOW_MS);
  });

  it.each(readdirSync(DIR).filter((file) => file.endsWith('.json')))('%s names its payout with today\'s field, not the older "kind"', (file) => {
    const raw = JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as Record<string, unknown>;

    expect(raw).toHaveProperty('payout');
    expect(raw).not.toHaveProperty('kind');
  });
});
