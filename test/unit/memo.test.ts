import { TtlCache, WindowRateLimiter } from '../../shared/memo';

describe('TtlCache', () => {
  it('shares one load between concurrent callers and reloads after the TTL', async () => {
    let nowMs = 0;
    const cache = new TtlCache<number>(1000, 10, () => nowMs);
    const load = jest.fn(async () => 7);
    await Promise.all([cache.get('k', load), cache.get('k', load), cache.get('k', load)]);
    expect(load).toHaveBeenCalledTimes(1);
    nowMs = 999;
    await cache.get('k', load);
    expect(load).toHaveBeenCalledTimes(1);
    nowMs = 1000;
    await cache.get('k', load);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('evicts a failed load so the next call retries', async () => {
    const cache = new TtlCache<number>(1000);
    await expect(cache.get('k', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await expect(cache.get('k', async () => 1)).resolves.toBe(1);
  });
});

describe('WindowRateLimiter', () => {
  it('allows the limit per window and says how long to wait after it', () => {
    let nowMs = 10_000;
    const limiter = new WindowRateLimiter(2, 1000, () => nowMs);
    expect([limiter.take('a'), limiter.take('a')]).toEqual([0, 0]);
    nowMs = 10_400;
    expect(limiter.take('a')).toBe(600);
    expect(limiter.take('b')).toBe(0);
    nowMs = 11_000;
    expect(limiter.take('a')).toBe(0);
  });
});
