import { readFileSync } from 'node:fs';
import path from 'node:path';
import tcb from '@cloudbase/node-sdk';
import { createNodeSdkStore } from '../shared/store/nodeSdk';
import { COLLECTIONS } from '../shared/store/port';
import { buildFunctions } from './build';
import { createCampaign } from './campaign';
import { ROOT } from './lib/cloudbaserc';
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
  const followDemo = await seedFollowDemo(stack.url);
  console.log(startBanner({
    followDemo,
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

/**
 * The demo follow campaign (scripts/campaign-templates/follow.json: the three local accounts' own
 * channels, 广东省 and loopback) the banner's tour uses: created on the first start, kept after.
 */
async function seedFollowDemo(url: string): Promise<{ campaignId: string; open: boolean }> {
  process.env.TENCENTCLOUD = 'true';
  const store = createNodeSdkStore(tcb.init({ env: LOCAL_ACCOUNT.envId, secretId: 'local', secretKey: 'local', serviceUrl: `${url}/admin` } as never).database());
  const template = JSON.parse(readFileSync(path.join(ROOT, 'scripts', 'campaign-templates', 'follow.json'), 'utf8')) as { id: string };
  const existing = await store.get<{ _id: string; endsAtMs: number }>(COLLECTIONS.redPacketCampaigns, template.id);
  if (existing !== null) return { campaignId: template.id, open: existing.endsAtMs > Date.now() };
  await createCampaign(store, template);
  return { campaignId: template.id, open: true };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
