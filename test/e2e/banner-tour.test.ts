import { execFile } from 'node:child_process';
import { main as campaignCli } from '../../scripts/campaign';
import { startBanner } from '../../scripts/lib/banner';
import { loadCloudbaseRc } from '../../scripts/lib/cloudbaserc';
import { startTestStack, type Stack } from '../helpers/stack';

/**
 * The start banner's follow-to-claim tour is copy-and-paste runnable: its three command lines, run
 * by bash as a user would paste them against a stack that holds the demo follow campaign, end with
 * the claim paid.
 */
describe("the start banner's follow-to-claim tour", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack();
    await campaignCli(['--local', stack.url, 'create', 'scripts/campaign-templates/follow.json'], () => undefined);
  }, 60_000);
  afterAll(() => stack.close());

  it('runs as printed and pays amy', async () => {
    const banner = startBanner({
      url: stack.url, payUrl: stack.pay.url, functions: loadCloudbaseRc({}).functions, envId: 'local-dev',
      officialAppId: 'wx10ca1000000000a1', miniProgramAppId: 'wx10ca1000000000b2', mchId: '1900000109', fixedEgressAddress: '127.0.0.2',
      followDemo: { campaignId: 'follow-demo', open: true },
    });
    const tour = banner.slice(banner.indexOf('Follow-to-claim'));
    const commands = tour.split('\n').map((line) => line.trim()).filter((line) => /^(LINK=|CSRF=|curl )/.test(line)).slice(0, 3);
    expect(commands.map((command) => command.slice(0, 5))).toEqual(['LINK=', 'CSRF=', 'curl ']);

    const stdout = await new Promise<string>((resolve, reject) => {
      execFile('bash', ['-euo', 'pipefail', '-c', commands.join('\n')], { timeout: 30_000 }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)));
    });
    expect(stdout.trim()).toBe('paid');
  }, 60_000);
});
