import { buildFunctions } from './build';
import { startBanner } from './lib/banner';
import { loadCloudbaseRc } from './lib/cloudbaserc';
import { FIXED_EGRESS_ADDRESS, LOCAL_ACCOUNT, startStack } from './local/stack';

/**
 * `npm start`: builds the functions and runs them on the local stack (CloudBase stand-in,
 * function host with timers, WeChat and Pay sandboxes) until Ctrl-C. The port is taken before
 * the build, so a second `npm start` on a busy port stops with a clear message and leaves
 * `dist/` and `.local/` alone.
 */
async function main(): Promise<void> {
  const stack = await startStack({
    timers: true,
    instancesPerFunction: Number(process.env.INSTANCES ?? 4),
    prepare: async () => {
      await buildFunctions();
    },
  });
  console.log(startBanner({
    url: stack.url,
    payUrl: stack.pay.url,
    functions: loadCloudbaseRc({}).functions,
    envId: LOCAL_ACCOUNT.envId,
    officialAppId: LOCAL_ACCOUNT.officialAppId,
    miniProgramAppId: LOCAL_ACCOUNT.miniProgramAppId,
    mchId: LOCAL_ACCOUNT.mchId,
    fixedEgressAddress: FIXED_EGRESS_ADDRESS,
  }));
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping…');
    stack.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
