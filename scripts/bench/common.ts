/** What every bench section shares: a quiet in-memory stack, an operator's store on it, percentiles. */
import tcb from '@cloudbase/node-sdk';
import { createNodeSdkStore } from '../../shared/store/nodeSdk';
import type { DocumentStore } from '../../shared/store/port';
import { LOCAL_ACCOUNT, startStack, type Stack } from '../local/stack';

/** One bench row, ready for a table. */
export type BenchRow = Record<string, string | number>;

/** Runs `work` on a fresh, quiet, in-memory stack on a free port, and closes it. */
export async function withStack<T>(options: Parameters<typeof startStack>[0], work: (stack: Stack) => Promise<T>): Promise<T> {
  const stack = await startStack({ port: 0, dataDir: null, quiet: true, ...options });
  try {
    // node-sdk would otherwise probe metadata.tencentyun.com first; the stack is all on loopback.
    process.env.TENCENTCLOUD = 'true';
    return await work(stack);
  } finally {
    await stack.close();
  }
}

/** The store the operator's CLIs use, on the stack's local CloudBase. */
export function operatorStore(stack: Stack): DocumentStore {
  const app = tcb.init({ env: LOCAL_ACCOUNT.envId, secretId: 'local', secretKey: 'local', serviceUrl: `${stack.url}/admin` } as never);
  return createNodeSdkStore(app.database());
}

/** The `p`th percentile (nearest rank) of `values`; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** `npx tsx scripts/bench/<section>.ts`: runs one section and prints its tables. */
export function runAlone(bench: () => Promise<ReadonlyArray<{ title: string; rows: readonly BenchRow[] }>>): void {
  bench().then(
    (tables) => {
      for (const { title, rows } of tables) {
        console.log(title);
        console.table(rows);
      }
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
