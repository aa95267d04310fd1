/**
 * One command links a user, with one syntax, whichever operator CLI the operator has open:
 * `link-user --unionid U --openid O` in npm run accounts, cards and campaign.
 */
import { main as accountsCli } from '../../scripts/accounts';
import { main as campaignCli } from '../../scripts/campaign';
import { main as cardsCli } from '../../scripts/cards';
import { userLinkId } from '../../shared/users/links';
import { LOCAL_ACCOUNT, startTestStack, type Stack } from '../helpers/stack';
import { operatorStore } from '../integration/redpacket/support';

describe('link-user', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 1 });
  });
  afterAll(() => stack.close());

  it.each([
    { cli: 'accounts', main: accountsCli },
    { cli: 'cards', main: cardsCli },
    { cli: 'campaign', main: campaignCli },
  ])('npm run $cli -- link-user --unionid U --openid O records the same link, and answers --json', async ({ cli, main }) => {
    const lines: string[] = [];
    const unionid = `u-link-${cli}`;

    const code = await main(['--local', stack.url, '--json', 'link-user', '--unionid', unionid, '--openid', `oOA-link-${cli}`], (line) => lines.push(line));

    expect(code).toBe(0);
    expect(JSON.parse(lines[lines.length - 1]!)).toEqual({ officialAppId: LOCAL_ACCOUNT.officialAppId, unionid, openid: `oOA-link-${cli}` });
    expect(await operatorStore(stack).get('wx_user_links', userLinkId(LOCAL_ACCOUNT.officialAppId, unionid))).toMatchObject({ openid: `oOA-link-${cli}`, source: 'operator' });
  });
});
