import { signCardReference, readCardReference } from '../../../shared/cards/reference';
import { counterDocsFor, utc8Day } from '../../../shared/follows/counters';
import { ACCOUNT_CHANNEL, applyFollowEvent, wasFollowerBefore, type FollowEventInput, type FollowLedgerDoc } from '../../../shared/follows/ledger';

const APP = 'wx0000000000000001';
const at = (seconds: number, kind: FollowEventInput['kind'], channel = ACCOUNT_CHANNEL): FollowEventInput => ({ appId: APP, openid: 'oUser', kind, atMs: seconds * 1000, channel });

/** Applies events in order and sums the counter deltas per channel. */
function run(events: FollowEventInput[]) {
  let ledger: FollowLedgerDoc | null = null;
  const totals = new Map<string, Record<string, number>>();
  const facts = [];
  for (const event of events) {
    const transition = applyFollowEvent(ledger, event, event.atMs);
    ledger = transition.ledger;
    facts.push(transition.facts);
    for (const { channel, delta } of transition.deltas) {
      const sum = totals.get(channel) ?? {};
      for (const [key, value] of Object.entries(delta)) if (value !== 0) sum[key] = (sum[key] ?? 0) + value;
      totals.set(channel, sum);
    }
  }
  return { ledger: ledger!, totals: Object.fromEntries(totals), facts };
}

describe('the follow ledger', () => {
  it.each([
    { case: 'a first follow', events: [at(10, 'subscribe', 'poster')], totals: { poster: { follows: 1, firstFollows: 1 } }, ledger: { following: true, firstChannel: 'poster', follows: 1, preExisting: false } },
    {
      case: 'follow → unfollow → re-follow: one first, one returning, one unfollow on the channel followed through',
      events: [at(10, 'subscribe', 'poster'), at(20, 'unsubscribe'), at(30, 'subscribe')],
      totals: { poster: { follows: 1, firstFollows: 1, unfollows: 1 }, account: { follows: 1, returningFollows: 1 } },
      ledger: { following: true, firstFollowAtMs: 10_000, firstChannel: 'poster', lastChannel: 'account', follows: 2, unfollows: 1 },
    },
    { case: 'a scan by a follower: a scan, not a follow', events: [at(10, 'subscribe'), at(20, 'scan', 'poster')], totals: { account: { follows: 1, firstFollows: 1 }, poster: { scans: 1 } }, ledger: { following: true, follows: 1 } },
    { case: 'an unfollow by a follower from before the ledger', events: [at(10, 'unsubscribe')], totals: { account: { unfollows: 1 } }, ledger: { following: false, preExisting: true, firstFollowAtMs: null } },
    { case: 'a pre-existing follower who left and came back: returning', events: [at(10, 'unsubscribe'), at(20, 'subscribe')], totals: { account: { unfollows: 1, follows: 1, returningFollows: 1 } }, ledger: { following: true, preExisting: true } },
    { case: 'a scan by a follower the ledger never saw follow', events: [at(10, 'scan', 'poster')], totals: { poster: { scans: 1 } }, ledger: { following: true, preExisting: true } },
    { case: 'a second unfollow in a row counts once', events: [at(10, 'subscribe'), at(20, 'unsubscribe'), at(30, 'unsubscribe')], totals: { account: { follows: 1, firstFollows: 1, unfollows: 1 } }, ledger: { unfollows: 1 } },
    {
      case: 'a follow while following (a lost unsubscribe): the lost unfollow is counted, net stays right',
      events: [at(10, 'subscribe', 'a'), at(20, 'subscribe', 'b')],
      totals: { a: { follows: 1, firstFollows: 1, unfollows: 1 }, b: { follows: 1, returningFollows: 1 } },
      ledger: { follows: 2, unfollows: 1, lastChannel: 'b' },
    },
  ])('counts $case', ({ events, totals, ledger }) => {
    const result = run(events);
    expect(result.totals).toEqual(totals);
    expect(result.ledger).toMatchObject(ledger);
  });

  it('says who was a follower before a time: a returning follower is not new, a pre-existing one never is', () => {
    const { ledger, facts } = run([at(10, 'subscribe'), at(20, 'unsubscribe'), at(30, 'subscribe')]);
    expect(facts.map((fact) => [fact.firstFollow, fact.returning])).toEqual([[true, false], [false, false], [false, true]]);
    expect(wasFollowerBefore(ledger, 10_000)).toBe(false);
    expect(wasFollowerBefore(ledger, 25_000)).toBe(true);
    expect(wasFollowerBefore(run([at(50, 'unsubscribe')]).ledger, 0)).toBe(true);
    expect(wasFollowerBefore(null, Number.MAX_SAFE_INTEGER)).toBe(false);
  });
});

describe('follow counters', () => {
  it('count a day in Beijing time', () => {
    expect(utc8Day(Date.UTC(2026, 0, 1, 15, 59, 59))).toBe('2026-01-01');
    expect(utc8Day(Date.UTC(2026, 0, 1, 16, 0, 0))).toBe('2026-01-02');
  });

  it('move two documents per event, the channel\'s that day and in total, the same shard for one user', () => {
    const docs = counterDocsFor(APP, 'spring|poster', Date.UTC(2026, 0, 1), 'oUser');
    expect(docs.map((doc) => [doc.channel, doc.day])).toEqual([['spring|poster', '2026-01-01'], ['spring|poster', 'all']]);
    expect(new Set(docs.map((doc) => doc.shard)).size).toBe(1);
    expect(docs[0]!._id).toBe(`${APP}|spring%7Cposter|2026-01-01|${docs[0]!.shard}`);
  });
});

describe('card references in outer_str', () => {
  const key = 'k'.repeat(32);
  const user = { appid: 'wx00000000000000b2', openid: 'oMiniProgramUser0000000000_-' };
  const cardId = 'pM2v8Kexample0CardId00000001';

  it('name the mini-program user, keep the operator\'s tag, and fit WeChat\'s 128 bytes', () => {
    const outerStr = signCardReference({ key, cardId, user, tag: 'poster-a' });
    expect(outerStr.length).toBeLessThanOrEqual(128);
    expect(readCardReference({ key, cardId, outerStr })).toEqual({ ...user, tag: 'poster-a' });
  });

  it.each([
    { case: 'another user', change: (s: string) => s.replace(user.openid, 'oSomeoneElse000000000000000') },
    { case: 'another card', change: (s: string) => s, cardId: 'pM2v8Kexample0CardId00000002' },
    { case: 'another tag', change: (s: string) => s.replace('poster-a', 'poster-b') },
    { case: 'a plain channel value', change: () => 'cmp42' },
    { case: 'a truncated mac', change: (s: string) => s.replace(/\.([A-Za-z0-9_-]{16})\./, '.abc.') },
  ])('verify for nobody when changed to $case', ({ change, cardId: otherCard }) => {
    const outerStr = change(signCardReference({ key, cardId, user, tag: 'poster-a' }));
    expect(readCardReference({ key, cardId: otherCard ?? cardId, outerStr })).toBeNull();
  });

  it('verify for nobody under another server secret', () => {
    const outerStr = signCardReference({ key, cardId, user });
    expect(readCardReference({ key: 'x'.repeat(32), cardId, outerStr })).toBeNull();
  });
});
