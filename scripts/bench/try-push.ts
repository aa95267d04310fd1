import { benchCountsRead, benchPushBurst, benchPushLatency } from './push';
(async () => {
  const which = process.argv[2];
  if (which === 'latency') console.log(JSON.stringify(await benchPushLatency(), null, 1));
  if (which === 'counts') console.log(JSON.stringify(await benchCountsRead(), null, 1));
  if (which === 'burst') console.log(JSON.stringify(await benchPushBurst(), null, 1));
})();
