/**
 * `npm run accounts -- [--local [URL]] <command>`: the operator's official accounts, in the
 * registry (`wx_accounts`) the functions read — no redeploy needed. Secrets (AppSecret, push
 * token, EncodingAESKey) come from a JSON file or environment variables, never from the command
 * line (shell history), and are never printed.
 */
import { readFileSync } from 'node:fs';
import { summarizeAccount, type AccountSummary, type OfficialAccount } from '../shared/accounts/model';
import { AccountRegistry } from '../shared/accounts/registry';
import { removeAccount, saveAccount } from '../shared/accounts/store';
import { SECRET_FIELDS } from '../shared/accounts/validate';
import type { CredentialDoc } from '../shared/credentials/model';
import type { CredentialInfo } from '../shared/credentials/services';
import { COLLECTIONS } from '../shared/store/port';
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
FILE.json holds any of: appId, kind, verified, name, originalId, messageMode, appSecret, pushToken, encodingAESKey.`;

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
}

function parse(argv: string[]): Parsed {
  const parsed: Parsed = { command: undefined, positional: [], json: false, fields: {} };
  const env = fileEnv();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg === '--local') {
      parsed.localUrl = next && /^https?:\/\//.test(next) ? argv[(i += 1)]! : `http://127.0.0.1:${process.env.PORT ?? 3000}`;
    } else if (arg === '--json') parsed.json = true;
    else if (arg === '--help') parsed.command = '--help';
    else if (arg === '--verified' || arg === '--unverified') parsed.fields.verified = arg === '--verified';
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
    default:
  }
  print(USAGE);
  return 1;
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
