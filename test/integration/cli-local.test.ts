/**
 * The operator CLIs against `--local` when no stack answers: they say so, and how to start one,
 * instead of node-sdk's bare ECONNREFUSED.
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { ROOT } from '../../scripts/lib/cloudbaserc';

/** A port nothing listens on (taken, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('--local without a running stack', () => {
  let url: string;
  beforeAll(async () => {
    url = `http://127.0.0.1:${await freePort()}`;
  });

  it.each([
    { cli: 'cards', args: ['list'] },
    { cli: 'campaign', args: ['list'] },
    { cli: 'console', args: ['operator-list'] },
    { cli: 'accounts', args: ['list'] },
  ])('npm run $cli says that no stack answers and how to start one', ({ cli, args }) => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', `scripts/${cli}.ts`, '--local', url, ...args], { cwd: ROOT, encoding: 'utf8' });

    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`No local stack answers at ${url} (ECONNREFUSED). Start one with \`npm start\` in another terminal, or pass the URL of the one you run: --local http://127.0.0.1:PORT`);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});
