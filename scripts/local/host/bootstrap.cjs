'use strict';
/**
 * Worker side of the local function host: one process is one SCF instance. Plain CommonJS so it
 * starts with bare `node` (no tsx) and so a cold start costs what it costs on the platform:
 * node startup plus one require() of the bundle.
 *
 * Protocol over the IPC channel (mirrored in worker.ts):
 *   host → {type:'init', bundlePath, egressAddress}            once, first message
 *   host → {type:'invoke', id, event, context, env}            one at a time
 *   worker → {type:'init_error', message}                        then exits, when the bundle cannot load
 *   worker → {type:'result', id, ok:true, resultJson} | {type:'result', id, ok:false, message}
 * Before each result the worker writes an end marker to stdout and stderr, so the host knows
 * every line the invocation printed has arrived (pipes and IPC are separate channels).
 */
const http = require('node:http');
const https = require('node:https');

/** Keys the previous invocation set in process.env, with the value each had at spawn (undefined = absent). */
let previousContext = new Map();
let main;

// The host owns this process: if its IPC channel goes (host crashed or exited without close()),
// nothing can ever ask this worker for work again, so it must not linger as an orphan.
process.on('disconnect', () => process.exit(0));

process.on('message', (message) => {
  if (message.type === 'init') init(message);
  else if (message.type === 'invoke') void invoke(message);
});

function init({ bundlePath, egressAddress }) {
  // Outbound sockets leave from the instance's address, like an SCF instance's egress IP. got and
  // the SDKs use the global agents, so this is invisible to the bundle. IPv4 only: a v4 source
  // address cannot reach a name that resolves to ::1.
  for (const agent of [http.globalAgent, https.globalAgent]) {
    agent.options.localAddress = egressAddress;
    agent.options.family = 4;
  }
  try {
    const bundle = require(bundlePath);
    if (typeof bundle.main !== 'function') throw new Error(`${bundlePath} does not export main(event, context)`);
    main = bundle.main;
  } catch (error) {
    process.send({ type: 'init_error', message: messageOf(error) }, () => process.exit(1));
  }
}

async function invoke({ id, event, context, env }) {
  // The bundle failed to load and the process is exiting: the host reports that, not a TypeError.
  if (main === undefined) return;
  applyContext(env);
  let reply;
  try {
    const result = await main(event, context);
    // The platform answers with JSON; a value it cannot serialise fails the invocation there too.
    reply = { type: 'result', id, ok: true, resultJson: JSON.stringify(result === undefined ? null : result) };
  } catch (error) {
    reply = { type: 'result', id, ok: false, message: messageOf(error) };
  }
  const marker = `\u001e${id}\u001e\n`;
  process.stdout.write(marker);
  process.stderr.write(marker);
  process.send(reply);
}

/** Removes every key the previous caller set (restoring a spawn-time value it shadowed), then sets this caller's. */
function applyContext(env) {
  for (const [key, spawnValue] of previousContext) {
    if (spawnValue === undefined) delete process.env[key];
    else process.env[key] = spawnValue;
  }
  const next = new Map();
  for (const [key, value] of Object.entries(env)) {
    next.set(key, process.env[key]);
    process.env[key] = value;
  }
  previousContext = next;
}

function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}
