/**
 * Pacing: sends stay under the merchant's rate limit across every instance, through fixed-window
 * counters — one document per (key, second) in `rp_counters`, raised only by a conditional
 * increment (`count < limit`), so any number of instances together never pass the limit. One
 * request per send while the second's document exists (a second one creates it). The per-person
 * and per-campaign claim limits live on the claim and the campaign documents instead (engine.ts),
 * where the reservation writes anyway.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DocumentStore, StoredDoc } from '../store/port';
import { COLLECTIONS } from '../store/port';

/** A counter window (`_id` = `<key>@<windowStartMs>`). */
export interface CounterDoc extends StoredDoc {
  count: number;
  /** The sweep removes the document after this. */
  expiresAtMs: number;
}

/**
 * No send starts in the last part of a second: one that left at .99 s would reach WeChat in the
 * next second and count against that second's limit too (the bench's 10/s table shows it).
 */
const PACING_GUARD_MS = 100;

/** Keep a window's document a little past its end, so a late increment still finds it. */
const COUNTER_GRACE_MS = 60_000;

/**
 * Takes one unit of `key`'s current window if fewer than `limit` are taken. Returns 0 when taken,
 * else the milliseconds until the window ends (when trying again makes sense). Shared by every
 * instance; the reconciler sweeps windows past their end. Also the claim pages' per-IP and
 * per-person limits.
 */
export async function takeFromWindow(
  store: DocumentStore,
  key: string,
  limit: number,
  windowMs: number,
  nowMs: number,
): Promise<number> {
  const windowStartMs = Math.floor(nowMs / windowMs) * windowMs;
  const id = `${key}@${windowStartMs}`;
  const collection = COLLECTIONS.redPacketCounters;
  if ((await store.update(collection, { _id: id, count: { lt: limit } }, { inc: { count: 1 } })) === 1) return 0;
  // The window's document may not exist yet: the first taker creates it. Losing that race means
  // someone else created it, and the conditional increment decides again. Busy seconds (where
  // pacing matters) find it existing, so the update comes first.
  if (await store.insert(collection, { _id: id, count: 1, expiresAtMs: windowStartMs + windowMs + COUNTER_GRACE_MS })) return 0;
  if ((await store.update(collection, { _id: id, count: { lt: limit } }, { inc: { count: 1 } })) === 1) return 0;
  return windowStartMs + windowMs - nowMs;
}

/** Waits for a send slot under `key` (`sendsPerSecond` across instances, e.g. `pace:<mchId>`); false after `maxWaitMs`. */
export async function waitForSendSlot(
  store: DocumentStore,
  key: string,
  sendsPerSecond: number,
  options: { now: () => number; maxWaitMs: number },
): Promise<boolean> {
  const deadlineMs = options.now() + options.maxWaitMs;
  for (let tries = 0; tries < 100; tries += 1) {
    const nowMs = options.now();
    const leftInSecondMs = 1_000 - (nowMs % 1_000);
    if (leftInSecondMs <= PACING_GUARD_MS) {
      if (nowMs + leftInSecondMs > deadlineMs) return false;
      await sleep(leftInSecondMs + Math.random() * 20);
      continue;
    }
    const waitMs = await takeFromWindow(store, key, sendsPerSecond, 1000, nowMs);
    if (waitMs === 0) return true;
    if (options.now() + waitMs > deadlineMs) return false;
    // A little jitter so the instances that waited do not all hit the next window's document at once.
    await sleep(waitMs + Math.random() * 20);
  }
  return false;
}

/** Removes up to `limit` expired counter documents; returns how many. */
export async function sweepCounters(store: DocumentStore, nowMs: number, limit: number): Promise<number> {
  const expired = await store.find<CounterDoc>(COLLECTIONS.redPacketCounters, { expiresAtMs: { lt: nowMs } }, { limit });
  let removed = 0;
  for (const doc of expired) if (await store.remove(COLLECTIONS.redPacketCounters, doc._id)) removed += 1;
  return removed;
}
