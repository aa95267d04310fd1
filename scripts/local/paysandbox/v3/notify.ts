/**
 * Delivery of MCHTRANSFER.BILL.FINISHED notifies (reference/pay-v3-transfer.md §3): a POST of the
 * JSON body with `Wechatpay-*` headers signed by WeChat Pay's key, answered within
 * `notifyTimeoutMs`; any 2xx is success, anything else (a 4xx/5xx, no answer, a refused
 * connection) is retried on WeChat's schedule, timed by the sandbox clock. A background loop
 * (wall clock) lets time act and sends what is due; tests call {@link Notifier.flush} instead.
 */
import http from 'node:http';
import https from 'node:https';
import { markStateChanged } from '../../persist';
import { messageBytes, randomNonce, rsaSign } from './sign';
import { settleBills, v3NowMs, v3WallNowMs, type NotifyAttempt, type NotifyRecord, type V3Context } from './state';

/** Sends due notifies. */
export interface Notifier {
  /** Lets time act on the bills, then starts every attempt that is due (does not wait for them). */
  deliverDue(): void;
  /** Delivers everything due and waits until no attempt is in flight: deterministic for tests. */
  flush(): Promise<void>;
  /** Sends an earlier attempt again, byte for byte (same headers, same signature): a replayed notify. */
  replay(record: NotifyRecord): Promise<NotifyAttempt>;
  close(): void;
}

export function createNotifier(ctx: V3Context): Notifier {
  const inFlight = new Map<string, Promise<void>>();

  const signedHeaders = (record: NotifyRecord): Record<string, string> => {
    const timestamp = String(Math.floor(v3WallNowMs(ctx) / 1000));
    const nonce = randomNonce(32);
    const key = ctx.config.defaultKey;
    return {
      'content-type': 'application/json',
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': nonce,
      'wechatpay-signature': rsaSign(messageBytes(timestamp, nonce, record.body), key.privateKey),
      'wechatpay-serial': key.serial,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
      'request-id': `08${randomNonce(30)}`,
    };
  };

  const attempt = async (record: NotifyRecord): Promise<void> => {
    const headers = signedHeaders(record);
    record.lastHeaders = headers;
    const atMs = v3NowMs(ctx);
    const { status, error } = await post(record.url, headers, record.body, ctx.config.notifyTimeoutMs);
    ctx.state.counters.notifyAttempts += 1;
    // Outside any request: the snapshot is told by hand.
    markStateChanged(ctx.state);
    // A reset while the attempt was out: the record is gone and its outcome means nothing.
    if (ctx.state.notifies.get(record.id) !== record) return;
    record.attempts.push({ atMs, status, error, replay: false });
    if (status !== null && status >= 200 && status < 300) {
      record.delivered = true;
      record.nextAttemptAtMs = record.duplicatesLeft > 0 ? atMs : null;
      record.duplicatesLeft = Math.max(0, record.duplicatesLeft - 1);
      return;
    }
    if (record.delivered) return;
    const failures = record.attempts.filter((entry) => !entry.replay && !(entry.status !== null && entry.status >= 200 && entry.status < 300)).length;
    const delayMs = ctx.config.notifyRetryDelaysMs[failures - 1];
    record.nextAttemptAtMs = delayMs === undefined ? null : atMs + delayMs;
  };

  const deliverDue = (): void => {
    settleBills(ctx);
    const nowMs = v3NowMs(ctx);
    for (const record of ctx.state.notifies.values()) {
      // nextAttemptAtMs stays set while the attempt is out: a restart meanwhile sends it again.
      if (record.nextAttemptAtMs === null || record.nextAttemptAtMs > nowMs || inFlight.has(record.id)) continue;
      const running = attempt(record).finally(() => inFlight.delete(record.id));
      inFlight.set(record.id, running);
    }
  };

  const tick = (): void => {
    deliverDue();
    markStateChanged(ctx.state);
  };
  const timer = ctx.config.tickMs > 0 ? setInterval(tick, ctx.config.tickMs) : undefined;
  timer?.unref();

  return {
    deliverDue,
    async flush() {
      for (;;) {
        deliverDue();
        if (inFlight.size === 0) return;
        await Promise.allSettled([...inFlight.values()]);
      }
    },
    async replay(record) {
      const headers = record.lastHeaders ?? signedHeaders(record);
      record.lastHeaders = headers;
      const atMs = v3NowMs(ctx);
      const { status, error } = await post(record.url, headers, record.body, ctx.config.notifyTimeoutMs);
      const entry: NotifyAttempt = { atMs, status, error, replay: true };
      if (ctx.state.notifies.get(record.id) === record) record.attempts.push(entry);
      return entry;
    },
    close() {
      if (timer !== undefined) clearInterval(timer);
    },
  };
}

/** One POST on a fresh connection (no pool: nothing is left open when the sandbox closes). */
function post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number | null; error: string | null }> {
  return new Promise((resolve) => {
    const target = new URL(url);
    const transport = target.protocol === 'https:' ? https : http;
    let settled = false;
    const finish = (status: number | null, error: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, error });
    };
    const request = transport.request(target, {
      method: 'POST',
      agent: false,
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)), connection: 'close' },
    }, (response) => {
      response.resume();
      response.on('end', () => finish(response.statusCode ?? null, null));
      response.on('error', (error) => finish(null, error.message));
    });
    const timer = setTimeout(() => {
      request.destroy();
      finish(null, 'timeout');
    }, timeoutMs);
    timer.unref();
    request.on('error', (error: NodeJS.ErrnoException) => finish(null, error.code ?? error.message));
    request.end(body);
  });
}
