import { buildFunctions } from './build';
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
  const { url } = stack;
  console.log(`
Local stack running at ${url}
  functions        POST ${url}/functions/<name>   {"data": {...}, "caller": {...}}
  function list    GET  ${url}/functions
  WeChat sandbox   ${url}/cgi-bin/...   control API ${url}/__sandbox/stats
  local CloudBase  ${url}/admin (environment "${LOCAL_ACCOUNT.envId}", data in .local/cloudbase)
  sandbox state    .local/sandbox (kept with the database: delete .local/ to start empty)
  fixed outbound IP of getToken: ${FIXED_EGRESS_ADDRESS} (the only address the sandbox whitelists)

Try it:
  curl -s -XPOST ${url}/functions/getToken -H 'content-type: application/json' -d '{"data":{},"caller":{"type":"admin"}}'
  curl -s -XPOST ${url}/functions/getTicket -H 'content-type: application/json' -d '{"data":{"type":"wx_card"},"caller":{"type":"admin"}}'
  curl -s -XPOST ${url}/functions/getToken -H 'content-type: application/json' -d '{"data":{},"caller":{"type":"miniprogram","openid":"o-user-1","appid":"${LOCAL_ACCOUNT.miniProgramAppId}"}}'
  curl -s ${url}/__sandbox/stats

Ctrl-C stops everything.`);
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
