/**
 * `npm run accounts -- [--local [URL]] <command>`: the operator's official accounts, in the
 * registry (`wx_accounts`) the functions read — no redeploy needed. Secrets (AppSecret, push
 * token, EncodingAESKey) come from a JSON file or environment variables, never from the command
 * line (shell history), and are never printed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { hasCapability, summarizeAccount, type AccountSummary, type OfficialAccount } from '../shared/accounts/model';
import { AccountRegistry } from '../shared/accounts/registry';
import { removeAccount, saveAccount } from '../shared/accounts/store';
import { SECRET_FIELDS } from '../shared/accounts/validate';
import type { CredentialDoc } from '../shared/credentials/model';
import type { CredentialInfo } from '../shared/credentials/services';
import { listChannels, removeChannel, saveChannel, validateChannelInput } from '../shared/follows/channels';
import { readFollowCounts, type FollowCounts } from '../shared/follows/counters';
import { ACCOUNT_CHANNEL } from '../shared/follows/ledger';
import { COLLECTIONS } from '../shared/store/port';
import { createWechatHttp } from '../shared/wechat/http';
import { createQrCode, qrCodeImageUrl } from '../shared/wechat/qrcode';
import { linkUser } from '../shared/users/links';
import { connectAdmin, fileEnv, type AdminContext } from './lib/admin';
import { ensureLocalStack } from './lib/cli';

const USAGE = `usage: npm run accounts -- [--local [URL]] <command>
  list [--json]                     every account: kind, verification, mode, status (secrets: set/missing only)
  show APPID [--json]               one account, its capabilities and its cached credentials
  add [FILE.json] [options]         add an account, or change one (what is not given keeps its value)
      --appid APPID  --kind service|subscription  --verified | --unverified  --name NAME
      --original-id gh_…  --mode plain|compatible|safe
      --secret-env VAR  --push-token-env VAR  --aes-key-env VAR   (secrets from environment variables or .env)
  remove APPID                      stop refreshing and serving it, refuse its pushes, erase its secrets
  link-user --unionid U --openid O [--appid APPID]
                                    record a user's openid under an account (default: the environment's); the same
                                    command as in npm run cards and npm run campaign
FILE.json holds any of: appId, kind, verified, name, originalId, messageMode, appSecret, pushToken, encodingAESKey.

Follows and channels (a channel is a parametric QR code's scene, or "account": every follow without one):
  stats [--day YYYY-MM-DD] [--json] follows, first-time and returning follows, unfollows, net, per account and channel
  qr APPID CHANNEL [--temporary DAYS] [--campaign ID] [--out FILE.png]
                                    a parametric QR code for the channel (verified service accounts), saved as PNG
  channel-add APPID CHANNEL [--campaign ID] [--name NAME]     configure a channel ("account" for the account's own)
  channel-list APPID [--json]       channels, their QR codes and replies
  channel-remove APPID CHANNEL      forget a channel's configuration (its counts stay)
  reply-set APPID CHANNEL (--text TEXT | --news-title T --news-url URL [--news-description D] [--news-pic URL] | --none)
                                    the passive reply to a follow (and a scan) through the channel`;

const CHANNEL_FLAGS: Record<string, string> = {
  '--day': 'day', '--temporary': 'temporary', '--campaign': 'campaign', '--out': 'out', '--text': 'text',
  '--news-title': 'newsTitle', '--news-url': 'newsUrl', '--news-description': 'newsDescription', '--news-pic': 'newsPic',
};

const VALUE_FLAGS: Record<string, string> = {
  '--appid': 'appId', '--kind': 'kind', '--name': 'name', '--original-id': 'originalId', '--mode': 'messageMode',
  '--unionid': 'unionid', '--openid': 'openid',
};
const ENV_FLAGS: Record<string, string> = { '--secret-env': 'appSecret', '--push-token-env': 'pushToken', '--aes-key-env': 'encodingAESKey' };

interface Parsed {
  localUrl?: string;
  command: string | undefined;
  positional: string[];
  json: boolean;
  fields: Record<string, unknown>;
  options: Record<string, string>;
  none: boolean;
}

function parse(argv: string[]): Parsed {
  const parsed: Parsed = { command: undefined, positional: [], json: false, fields: {}, options: {}, none: false };
  const env = fileEnv();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg === '--local') {
      parsed.localUrl = next && /^https?:\/\//.test(next) ? argv[(i += 1)]! : `http://127.0.0.1:${process.env.PORT ?? 3000}`;
    } else if (arg === '--json') parsed.json = true;
    else if (arg === '--help') parsed.command = '--help';
    else if (arg === '--verified' || arg === '--unverified') parsed.fields.verified = arg === '--verified';
    else if (arg === '--none') parsed.none = true;
    else if (arg in CHANNEL_FLAGS) {
      if (next === undefined || next.startsWith('--')) throw new Error(`${arg} needs a value\n\n${USAGE}`);
      parsed.options[CHANNEL_FLAGS[arg]!] = next;
      i += 1;
    }
    else if (arg in VALUE_FLAGS || arg in ENV_FLAGS) {
      if (next === undefined || next.startsWith('--')) throw new Error(`${arg} needs a value\n\n${USAGE}`);
      i += 1;
      if (arg in VALUE_FLAGS) parsed.fields[VALUE_FLAGS[arg]!] = next;
      else {
        const value = env[next];
        if (!value) throw new Error(`${arg}: the environment variable ${next} is not set (in the shell, .env or .env.local)`);
        parsed.fields[ENV_FLAGS[arg]!] = value;
      }
    } else if (arg.startsWith('--')) throw new Error(`Unknown option ${arg}\n\n${USAGE}`);
    else if (parsed.command === undefined) parsed.command = arg;
    else parsed.positional.push(arg);
  }
  return parsed;
}

function readAccountFile(file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file} is not readable JSON: ${(error as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file} must hold one JSON object`);
  return raw as Record<string, unknown>;
}

/** Secrets as set/missing; the environment's AppSecret lives in the functions' environment, which the CLI only knows of. */
function summarize(admin: AdminContext, account: OfficialAccount): AccountSummary {
  const summary = summarizeAccount(account);
  return account.isDefault && account.appSecret === null && admin.environmentHasAppSecret ? { ...summary, appSecret: 'set' } : summary;
}

function line(summary: AccountSummary): string {
  return [
    summary.appId,
    summary.kind.padEnd(12),
    (summary.verified ? 'verified' : 'unverified').padEnd(10),
    summary.messageMode.padEnd(10),
    (summary.active ? 'active' : 'removed').padEnd(7),
    summary.source.padEnd(20),
    summary.name,
  ].join('  ');
}

/** The cached credentials of an account, without their values. */
async function credentialsOf(admin: AdminContext, appId: string): Promise<Array<Record<string, unknown>>> {
  const docs = await Promise.all(
    ['access_token', 'ticket:wx_card', 'ticket:jsapi'].map((kind) => admin.store.get<CredentialDoc>(COLLECTIONS.credentials, `${appId}:${kind}`)),
  );
  return docs
    .filter((doc): doc is CredentialDoc => doc !== null)
    .map(({ value, leaseOwner: _owner, leaseUntilMs: _until, ...rest }) => ({ ...rest, hasValue: typeof value === 'string' && value !== '' }));
}

/** The CLI; returns the process exit code. Errors are thrown with a message for the operator. */
export async function main(argv: string[], print: (line: string) => void = console.log): Promise<number> {
  const parsed = parse(argv);
  if (parsed.command === undefined || parsed.command === '--help') {
    print(USAGE);
    return parsed.command === undefined ? 1 : 0;
  }
  if (parsed.localUrl !== undefined) await ensureLocalStack(parsed.localUrl);
  const admin = connectAdmin(parsed.localUrl ? { localUrl: parsed.localUrl } : {});
  const registry = new AccountRegistry({ store: admin.store, environment: { appId: admin.officialAppId } });
  switch (parsed.command) {
    case 'link-user': {
      const { unionid, openid, appId } = parsed.fields as { unionid?: string; openid?: string; appId?: string };
      if (typeof unionid !== 'string' || typeof openid !== 'string') throw new Error(`link-user needs --unionid UNIONID --openid OPENID\n\n${USAGE}`);
      const officialAppId = appId ?? admin.officialAppId;
      await linkUser(admin.store, { officialAppId, unionid, openid, source: 'operator' });
      print(parsed.json ? JSON.stringify({ officialAppId, unionid, openid }) : `Linked unionid ${unionid} to openid ${openid} under ${officialAppId}.`);
      return 0;
    }
    case 'list': {
      const summaries = (await registry.listAll()).map((account) => summarize(admin, account));
      if (parsed.json) print(JSON.stringify({ accounts: summaries }));
      else for (const summary of summaries) print(line(summary));
      return 0;
    }
    case 'show': {
      const appId = parsed.positional[0];
      if (!appId || parsed.positional.length !== 1) break;
      const account: OfficialAccount | null = await registry.get(appId);
      if (account === null) throw new Error(`${appId} is not an account of ${admin.describe} (npm run accounts -- list)`);
      const summary = summarize(admin, account);
      const credentials = await credentialsOf(admin, appId);
      const pushUrl = admin.pushUrlOf(appId);
      if (parsed.json) {
        print(JSON.stringify({ account: summary, pushUrl, credentials }));
        return 0;
      }
      print(line(summary));
      print(`  secrets       AppSecret ${summary.appSecret}, push token ${summary.pushToken}, EncodingAESKey ${summary.encodingAESKey}`);
      print(`  can also      ${summary.capabilities.length > 0 ? summary.capabilities.join(', ') : '(only tokens, tickets, pushes and passive replies)'}`);
      print(`  server URL    ${pushUrl}  (公众平台 → 设置与开发 → 基本配置 → 服务器配置)`);
      for (const credential of credentials) {
        const expires = typeof credential.expiresAtMs === 'number' && credential.expiresAtMs > 0 ? new Date(credential.expiresAtMs).toISOString() : '-';
        const error = credential.lastError as { message?: string } | null;
        print(`  ${String(credential.kind).padEnd(14)}version ${credential.version}, ${credential.hasValue ? `expires ${expires}` : 'no value'}${error ? `, last error: ${error.message}` : ''}`);
      }
      return 0;
    }
    case 'add': {
      if (parsed.positional.length > 1) break;
      const raw = { ...(parsed.positional[0] ? readAccountFile(parsed.positional[0]) : {}), ...parsed.fields };
      const plan = await saveAccount(admin.store, raw, { defaultAppId: admin.officialAppId });
      const { doc } = plan;
      print(
        plan.created
          ? `Added ${doc.appId} (${doc.verified ? 'verified' : 'unverified'} ${doc.kind} account, ${doc.messageMode} mode) to ${admin.describe}.`
          : plan.changed.length === 0
            ? `${doc.appId} is unchanged.`
            : `Changed ${doc.appId}: ${plan.changed.map((field) => (SECRET_FIELDS.has(field) ? `${field} (secret)` : field)).join(', ')}. Functions see it within 30 s.`,
      );
      print(`  server URL for WeChat: ${admin.pushUrlOf(doc.appId)}`);
      if (plan.created) {
        // getToken, on the fixed outbound IP, proves the AppSecret and the whitelist; this CLI never asks WeChat itself.
        try {
          const info = await admin.callFunction<CredentialInfo>('getToken', { action: 'get', appid: doc.appId });
          print(`  getToken holds its access_token (version ${info.version}).`);
        } catch (error) {
          print(`  getToken could not get its access_token yet: ${(error as Error).message}`);
        }
      }
      return 0;
    }
    case 'remove': {
      const appId = parsed.positional[0];
      if (!appId || parsed.positional.length !== 1) break;
      await removeAccount(admin.store, appId, { defaultAppId: admin.officialAppId });
      print(`Removed ${appId} from ${admin.describe}: no longer refreshed or served; its pushes are refused (every instance within 30 s); its secrets are erased.`);
      return 0;
    }
    default: {
      const handled = await followCommand(parsed, admin, registry, print);
      if (handled !== null) return handled;
    }
  }
  print(USAGE);
  return 1;
}

/** stats, qr and the channel commands; null when the command or its arguments are not one of them. */
async function followCommand(parsed: Parsed, admin: AdminContext, registry: AccountRegistry, print: (line: string) => void): Promise<number | null> {
  const [appId, channel] = parsed.positional;
  switch (parsed.command) {
    case 'stats': {
      if (parsed.positional.length > 0) return null;
      const day = parsed.options.day;
      if (day !== undefined && !/^\d{4}-\d\d-\d\d$/.test(day)) throw new Error('--day must be YYYY-MM-DD (Beijing time)');
      const accounts = await registry.listAll();
      const counts = await Promise.all(accounts.map((account) => readFollowCounts(admin.store, account.appId, day === undefined ? {} : { day })));
      if (parsed.json) {
        print(JSON.stringify({
          accounts: counts.map((account) => ({
            appid: account.appId, follows: account.follows, firstFollows: account.firstFollows, unfollows: account.unfollows,
            channels: account.channels.map((row) => ({ channel: row.channel, follows: row.follows, firstFollows: row.firstFollows, unfollows: row.unfollows })),
          })),
        }));
        return 0;
      }
      print(`${day === undefined ? 'All time' : `On ${day} (Beijing time)`}: follows (first + returning), unfollows, net, scans`);
      for (const account of counts) {
        print(`${account.appId}  ${countsLine(account)}${account.truncated ? '  (more channels than one read shows)' : ''}`);
        for (const row of account.channels) print(`  ${row.channel.padEnd(24)}${countsLine(row)}`);
      }
      return 0;
    }
    case 'qr': {
      if (!appId || !channel || parsed.positional.length !== 2) return null;
      const account = await registry.require(appId);
      if (!hasCapability(account, 'qrcode')) {
        throw new Error(`${appId} cannot make parametric QR codes (only a verified service account can, reference §1): count its follows with its own channel, channel-add ${appId} ${ACCOUNT_CHANNEL}`);
      }
      const days = parsed.options.temporary === undefined ? undefined : Number(parsed.options.temporary);
      if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 30)) throw new Error('--temporary takes 1 to 30 days (WeChat keeps temporary codes at most 30 days)');
      validateChannelInput({ appId, channel, ...(parsed.options.campaign === undefined ? {} : { campaignId: parsed.options.campaign }) });
      if (channel === ACCOUNT_CHANNEL) throw new Error(`"${ACCOUNT_CHANNEL}" is the account's own channel: it has no QR code`);
      const http = createWechatHttp({ baseUrl: admin.apiBaseUrl });
      const request = days === undefined ? { permanent: true as const, sceneStr: channel } : { permanent: false as const, sceneStr: channel, expireSeconds: days * 86_400 };
      const created = await admin.withAccessToken((token) => createQrCode(http, token, request), appId);
      await saveChannel(admin.store, {
        appId, channel,
        qr: { permanent: request.permanent, ticket: created.ticket, url: created.url, expiresAtMs: created.expire_seconds === undefined ? null : Date.now() + created.expire_seconds * 1000 },
        ...(parsed.options.campaign === undefined ? {} : { campaignId: parsed.options.campaign }),
      });
      const imageBase = parsed.localUrl ?? 'https://mp.weixin.qq.com';
      const image = await fetch(qrCodeImageUrl(created.ticket, imageBase));
      if (image.status !== 200) throw new Error(`showqrcode answered HTTP ${image.status}: the channel is saved, run qr again for its image`);
      const out = parsed.options.out ?? `qr-${appId}-${channel}.png`;
      writeFileSync(out, Buffer.from(await image.arrayBuffer()));
      print(`${request.permanent ? 'Permanent' : `Temporary (${days} days)`} QR code for channel ${channel} of ${appId}: ${out} (encodes ${created.url}).`);
      return 0;
    }
    case 'channel-add': {
      if (!appId || !channel || parsed.positional.length !== 2) return null;
      await registry.require(appId);
      const doc = await saveChannel(admin.store, {
        appId, channel,
        ...(parsed.options.campaign === undefined ? {} : { campaignId: parsed.options.campaign }),
        ...(typeof parsed.fields.name === 'string' ? { name: parsed.fields.name } : {}),
      });
      print(`Channel ${doc.channel} of ${appId} saved${doc.campaignId ? ` (campaign ${doc.campaignId})` : ''}. Functions see it within 30 s.`);
      return 0;
    }
    case 'channel-list': {
      if (!appId || parsed.positional.length !== 1) return null;
      const channels = await listChannels(admin.store, appId);
      if (parsed.json) {
        print(JSON.stringify({ channels: channels.map(({ _id: _ignored, ...rest }) => rest) }));
        return 0;
      }
      if (channels.length === 0) print(`${appId} has no configured channels (follows are still counted per scene and as "${ACCOUNT_CHANNEL}").`);
      for (const doc of channels) {
        const qr = doc.qr === null ? 'no QR code' : `${doc.qr.permanent ? 'permanent' : `temporary until ${new Date(doc.qr.expiresAtMs ?? 0).toISOString()}`} QR ${doc.qr.url}`;
        const reply = doc.reply === null ? 'reply: success' : doc.reply.type === 'text' ? `reply: text (${doc.reply.content.length} chars)` : `reply: news "${doc.reply.title}"`;
        print(`${doc.channel.padEnd(24)}${qr}; ${reply}${doc.campaignId ? `; campaign ${doc.campaignId}` : ''}`);
      }
      return 0;
    }
    case 'channel-remove': {
      if (!appId || !channel || parsed.positional.length !== 2) return null;
      await removeChannel(admin.store, appId, channel);
      print(`Channel ${channel} of ${appId} removed (its counts stay). A QR code already printed keeps working and is counted under its scene.`);
      return 0;
    }
    case 'reply-set': {
      if (!appId || !channel || parsed.positional.length !== 2) return null;
      await registry.require(appId);
      const { text, newsTitle, newsUrl, newsDescription, newsPic } = parsed.options;
      const chosen = [parsed.none, text !== undefined, newsTitle !== undefined || newsUrl !== undefined].filter(Boolean).length;
      if (chosen !== 1) throw new Error('reply-set takes exactly one of --text, --news-title/--news-url, --none');
      const reply = parsed.none
        ? null
        : text !== undefined
          ? { type: 'text', content: text }
          : { type: 'news', title: newsTitle ?? '', url: newsUrl ?? '', ...(newsDescription === undefined ? {} : { description: newsDescription }), ...(newsPic === undefined ? {} : { picUrl: newsPic }) };
      const doc = await saveChannel(admin.store, { appId, channel, reply });
      print(`Channel ${doc.channel} of ${appId} now answers a follow with ${doc.reply === null ? 'success (no message)' : `a ${doc.reply.type} reply`}. Functions see it within 30 s.`);
      return 0;
    }
    default:
      return null;
  }
}

function countsLine(counts: FollowCounts): string {
  return `follows ${counts.follows} (${counts.firstFollows} first, ${counts.returningFollows} returning), unfollows ${counts.unfollows}, net ${counts.net}, scans ${counts.scans}`;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
