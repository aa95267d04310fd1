import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tcb from '@cloudbase/node-sdk';
import { build } from 'esbuild';
import { DIST_DIR, type BuiltFunction } from '../build';
import { loadCloudbaseRc, nodeTargetOf, ROOT } from '../lib/cloudbaserc';
import { LOCAL_ACCOUNT, startStack, type Stack } from '../local/stack';
import { benchClaimPages } from './claimpage';
import { benchCountsRead, benchPushBurst, benchPushLatency } from './push';
import { benchRedPackets } from './redpacket';
import { benchTransfers } from './transfer';
import { percentile } from './common';

/**
 * `npm run bench`: measurements printed as tables, each against a baseline measured in the same run.
 * Nothing here asserts a time; the numbers are for reading.
 */

type Row = Record<string, string | number>;

function table(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => String(row[column]).length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(columns));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(columns.map((column) => String(row[column]))));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function post(stack: Stack, name: string, data: unknown, caller: unknown): Promise<{ ok: boolean }> {
  const response = await fetch(`${stack.url}/functions/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data, caller }),
  });
  return (await response.json()) as { ok: boolean };
}

async function upstream(stack: Stack): Promise<Record<string, number>> {
  const response = await fetch(`${stack.url}/__sandbox/stats`);
  return ((await response.json()) as { calls: Record<string, number> }).calls;
}

const INSTANCES = 8;
const CALLS = 200;
const FROM_FUNCTION = { type: 'function', source: 'wx_client,scf' };

/** Ours: 200 concurrent cold calls of getTicket (token + card ticket) across 8 instances of real bundles. */
async function oursUnderLoad(tokenMode: 'stable' | 'classic'): Promise<Row> {
  const stack = await startStack({ port: 0, dataDir: null, quiet: true, instancesPerFunction: INSTANCES, tokenMode });
  try {
    const startedMs = performance.now();
    const results = await Promise.all(Array.from({ length: CALLS }, () => post(stack, 'getTicket', { type: 'wx_card' }, FROM_FUNCTION)));
    const wallMs = performance.now() - startedMs;
    const calls = await upstream(stack);
    const tokenFetches = (calls['/cgi-bin/stable_token'] ?? 0) + (calls['/cgi-bin/token'] ?? 0);
    return {
      strategy: `ours: lease single flight (${tokenMode})`,
      calls: CALLS,
      succeeded: results.filter((r) => r.ok).length,
      'token fetches': tokenFetches,
      'ticket fetches': calls['/cgi-bin/ticket/getticket'] ?? 0,
      'wall ms': Math.round(wallMs),
    };
  } finally {
    await stack.close();
  }
}

/**
 * The peers' pattern (wx-js-utils, most community cloud functions): each instance keeps a copy in
 * memory, otherwise reads the cache document, and if it is missing or stale fetches and writes it back.
 * Run on the same local CloudBase and WeChat sandbox, one invocation at a time per instance.
 */
async function naiveUnderLoad(tokenMode: 'stable' | 'classic'): Promise<Row> {
  const stack = await startStack({ port: 0, dataDir: null, quiet: true, tokenMode });
  try {
    const app = tcb.init({ env: LOCAL_ACCOUNT.envId, secretId: 'bench', secretKey: 'bench', serviceUrl: `${stack.url}/admin` } as never);
    const db = app.database();
    const cache = db.collection('wx_credentials');
    const fetchJson = async (url: string, init?: RequestInit) => (await fetch(url, init)).json() as Promise<Record<string, unknown>>;
    const fetchToken = () =>
      tokenMode === 'stable'
        ? fetchJson(`${stack.url}/cgi-bin/stable_token`, {
            method: 'POST',
            body: JSON.stringify({ grant_type: 'client_credential', appid: LOCAL_ACCOUNT.officialAppId, secret: LOCAL_ACCOUNT.officialAppSecret }),
          })
        : fetchJson(`${stack.url}/cgi-bin/token?grant_type=client_credential&appid=${LOCAL_ACCOUNT.officialAppId}&secret=${LOCAL_ACCOUNT.officialAppSecret}`);
    // The sandbox whitelists the fixed egress address only; the baseline gets the same allowance.
    await fetch(`${stack.url}/__sandbox/whitelist`, { method: 'POST', body: JSON.stringify({ ips: ['127.0.0.1', '127.0.0.2'] }) });
    const readThenWrite = async (memory: Map<string, string>, id: string, fetchValue: () => Promise<string>): Promise<string> => {
      const known = memory.get(id);
      if (known) return known;
      const found = (await cache.doc(id).get()) as { data: Array<{ value?: string; expiresAt?: number }> };
      const doc = found.data[0];
      if (doc?.value && (doc.expiresAt ?? 0) > Date.now() + 300_000) {
        memory.set(id, doc.value);
        return doc.value;
      }
      const value = await fetchValue();
      await cache.doc(id).set({ value, expiresAt: Date.now() + 7_200_000 });
      memory.set(id, value);
      return value;
    };
    const instances = Array.from({ length: INSTANCES }, () => ({ memory: new Map<string, string>(), queue: Promise.resolve() as Promise<unknown> }));
    let succeeded = 0;
    const startedMs = performance.now();
    await Promise.all(
      Array.from({ length: CALLS }, (_, i) => {
        const instance = instances[i % INSTANCES]!;
        instance.queue = instance.queue.then(async () => {
          const token = await readThenWrite(instance.memory, 'naive:access_token', async () => String((await fetchToken()).access_token));
          const ticket = await readThenWrite(instance.memory, 'naive:wx_card', async () =>
            String((await fetchJson(`${stack.url}/cgi-bin/ticket/getticket?access_token=${token}&type=wx_card`)).ticket),
          );
          if (ticket && ticket !== 'undefined') succeeded += 1;
        });
        return instance.queue;
      }),
    );
    const wallMs = performance.now() - startedMs;
    const calls = await upstream(stack);
    return {
      strategy: `baseline: read-then-write (${tokenMode})`,
      calls: CALLS,
      succeeded,
      'token fetches': (calls['/cgi-bin/stable_token'] ?? 0) + (calls['/cgi-bin/token'] ?? 0),
      'ticket fetches': calls['/cgi-bin/ticket/getticket'] ?? 0,
      'wall ms': Math.round(wallMs),
    };
  } finally {
    await stack.close();
  }
}

/** Database requests and latency per warm call, through the host and real bundles. */
async function warmPath(): Promise<Row[]> {
  const stack = await startStack({ port: 0, dataDir: null, quiet: true, instancesPerFunction: 2 });
  const rows: Row[] = [];
  try {
    // A registered card for signCard (registration is all signing needs; no card API call is made).
    const cardId = `pBENCH${'0'.repeat(22)}`;
    const admin = tcb.init({ env: LOCAL_ACCOUNT.envId, secretId: 'bench', secretKey: 'bench', serviceUrl: `${stack.url}/admin` } as never);
    await admin.database().collection('card_registry').doc(cardId).set({
      officialAppId: LOCAL_ACCOUNT.officialAppId, customCode: false, bindOpenid: false, issuable: true, title: 'bench', registeredAtMs: Date.now(),
    });
    const miniUser = { type: 'miniprogram', openid: 'o-bench-user', appid: LOCAL_ACCOUNT.miniProgramAppId };
    const cases = [
      { name: 'getToken', data: {}, label: 'getToken (another function asks)', caller: FROM_FUNCTION },
      { name: 'getTicket', data: { type: 'wx_card' }, label: 'getTicket wx_card (another function asks)', caller: FROM_FUNCTION },
      { name: 'signCard', data: { cards: [{ cardId }] }, label: 'signCard, one card (mini-program user)', caller: miniUser },
    ];
    for (const { name, data, label, caller } of cases) {
      // Warm both instances first: two concurrent calls, twice.
      for (let i = 0; i < 2; i += 1) await Promise.all([post(stack, name, data, caller), post(stack, name, data, caller)]);
      stack.cloudbase.resetStats();
      const before = await upstream(stack);
      const latencies: number[] = [];
      const N = 200;
      for (let i = 0; i < N; i += 1) {
        const startedMs = performance.now();
        // signCard's per-user limit is per instance and minute; vary the user as a crowd would.
        const who = name === 'signCard' ? { ...miniUser, openid: `o-bench-${i}` } : caller;
        const result = await post(stack, name, data, who);
        if (!result.ok) throw new Error(`${name} failed during the benchmark: ${JSON.stringify(result)}`);
        latencies.push(performance.now() - startedMs);
      }
      const after = await upstream(stack);
      const upstreamDelta = Object.keys(after).reduce((sum, key) => sum + (after[key]! - (before[key] ?? 0)), 0);
      rows.push({
        call: label,
        calls: N,
        'db requests/call': (stack.cloudbase.stats().total / N).toFixed(3),
        'upstream calls': upstreamDelta,
        'median ms': median(latencies).toFixed(2),
        'p95 ms': percentile(latencies, 95).toFixed(2),
      });
    }
  } finally {
    await stack.close();
  }
  return rows;
}

/** Size and cold require() time of each bundle against a bundle of bare wx-server-sdk, in fresh processes. */
async function bundles(): Promise<Row[]> {
  const report = JSON.parse(readFileSync(path.join(DIST_DIR, 'build-report.json'), 'utf8')) as BuiltFunction[];
  const runtime = loadCloudbaseRc({}).functions[0]!.runtime;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-bundle-'));
  try {
    const entry = path.join(dir, 'baseline.js');
    writeFileSync(entry, "const cloud = require('wx-server-sdk');\ncloud.init({ env: cloud.DYNAMIC_CURRENT_ENV });\nexports.main = async () => cloud.getWXContext();\n");
    const baselineFile = path.join(dir, 'baseline.bundle.js');
    await build({
      entryPoints: [entry],
      outfile: baselineFile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: nodeTargetOf(runtime),
      minify: true,
      keepNames: true,
      legalComments: 'none',
      logLevel: 'error',
      nodePaths: [path.join(ROOT, 'node_modules')],
    });
    const requireMs = (file: string): number => {
      const script = `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
      const runs: number[] = [];
      for (let i = 0; i < 11; i += 1) runs.push(Number(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })));
      return median(runs);
    };
    const baselineMs = requireMs(baselineFile);
    const baselineBytes = statSync(baselineFile).size;
    const rows: Row[] = [{ bundle: 'baseline: bare wx-server-sdk', KiB: (baselineBytes / 1024).toFixed(0), 'size ratio': '1.00', 'require ms (median of 11)': baselineMs.toFixed(1), 'added ms': '0.0' }];
    for (const fn of report) {
      const ms = requireMs(fn.outfile);
      rows.push({
        bundle: fn.name,
        KiB: (fn.bytes / 1024).toFixed(0),
        'size ratio': (fn.bytes / baselineBytes).toFixed(2),
        'require ms (median of 11)': ms.toFixed(1),
        'added ms': (ms - baselineMs).toFixed(1),
      });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The sections `npm run bench -- <section…>` can pick (all of them when none is named). */
const SECTIONS = ['credentials', 'warm', 'bundles', 'redpackets', 'transfers', 'push', 'claimpages'] as const;
type Section = (typeof SECTIONS)[number];

function selectedSections(args: readonly string[]): ReadonlySet<Section> {
  const unknown = args.filter((arg) => !(SECTIONS as readonly string[]).includes(arg));
  if (unknown.length > 0) throw new Error(`unknown bench section ${unknown.join(', ')}: choose from ${SECTIONS.join(', ')}`);
  return new Set(args.length === 0 ? SECTIONS : (args as Section[]));
}

async function main(): Promise<void> {
  const sections = selectedSections(process.argv.slice(2));
  console.log(`Benchmarks on Node ${process.version}, ${os.cpus().length} cores (sections: ${[...sections].join(', ')}).`);
  if (sections.has('credentials')) {
    console.log(`${INSTANCES} instances, ${CALLS} concurrent cold calls.`);
    const load: Row[] = [];
    for (const mode of ['stable', 'classic'] as const) {
      const baseline = await naiveUnderLoad(mode);
      const ours = await oursUnderLoad(mode);
      const baseFetches = Number(baseline['token fetches']) + Number(baseline['ticket fetches']);
      const ourFetches = Number(ours['token fetches']) + Number(ours['ticket fetches']);
      load.push({ ...baseline, 'fetches vs baseline': '1.00' }, { ...ours, 'fetches vs baseline': (ourFetches / baseFetches).toFixed(2) });
    }
    table(
      'Upstream fetches, cold cache under load (lower is better; in classic mode every extra baseline token fetch kills the previous token 5 min later).\n' +
        'wall ms: ours runs the real bundles in worker processes and includes their cold starts; the baseline runs in-process.',
      load,
    );
  }
  if (sections.has('warm')) table('Warm path through the function host (target: 0 database requests, 0 upstream calls per call)', await warmPath());
  if (sections.has('bundles')) table('Bundles: size and cold require() time (target: our code adds under 15 ms)', await bundles());
  if (sections.has('redpackets')) for (const { title, rows } of await benchRedPackets()) table(title, rows);
  if (sections.has('transfers')) for (const { title, rows } of await benchTransfers()) table(title, rows);
  if (sections.has('push')) {
    table('receivePush: latency through the host (the sandbox\'s delivery round trip) and database requests per follow, per mode', await benchPushLatency());
    for (const { title, rows } of await benchPushBurst()) table(title, rows);
    table('Follow counts read (accounts stats, one account): the same requests at 10 followers as at 100,000', await benchCountsRead());
  }
  if (sections.has('claimpages')) for (const { title, rows } of await benchClaimPages()) table(title, rows);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
