/**
 * `npm run console -- …`: the console's operators. Only this CLI creates, resets and removes them
 * (with the environment's admin keys, or `--local` for npm start's stack); the console itself can
 * only sign them in.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { listOperators, addOperator, removeOperator, resetOperatorPassword, unlockSignIn } from '../shared/console/operators';
import { MIN_PASSWORD_CHARS, passwordProblem } from '../shared/console/passwords';
import { connectAdmin } from './lib/admin';
import { createOutput, ensureLocalStack, flagValue, parseArgs, positionalAt, runCli, UsageError, type CommandSpec } from './lib/cli';

export const USAGE = `Usage: npm run console -- [--local [URL]] [--json] <command>
  operator-add NAME [--password-stdin | --generate]   create an operator (asks for the password on a terminal)
  operator-reset NAME [--password-stdin | --generate] new password; their sessions end, a lock-out is lifted
  operator-remove NAME                                remove an operator; their sessions end
  operator-list                                       operators and when their password was set
  operator-unlock NAME [--ip IP]                      lift a sign-in lock-out now (it also ends by itself after 15 min)
  url                                                 where the console is
Passwords: at least ${MIN_PASSWORD_CHARS} characters. --password-stdin reads one line (e.g. from a secret manager);
--generate makes a random one and prints it once.`;

const PASSWORD_FLAGS: CommandSpec = { switches: ['password-stdin', 'generate'] };
const SPECS: Record<string, CommandSpec> = {
  'operator-add': PASSWORD_FLAGS,
  'operator-reset': PASSWORD_FLAGS,
  'operator-remove': {},
  'operator-list': {},
  'operator-unlock': { values: ['ip'] },
  url: {},
};

/** Who the audit says made a CLI change. */
function actor(): string {
  let name = 'unknown';
  try {
    name = os.userInfo().username;
  } catch {
    // No passwd entry (some containers): the audit still says it was the CLI.
  }
  return `cli:${name}`;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Reads a password on the terminal without echoing it. */
async function prompt(question: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) throw new UsageError('No terminal to ask for the password on: pass --password-stdin (and pipe it) or --generate');
  process.stderr.write(question);
  input.setRawMode(true);
  input.resume();
  let typed = '';
  return new Promise((resolve, reject) => {
    const onData = (data: Buffer) => {
      for (const char of data.toString('utf8')) {
        if (char === '\u0003') {
          cleanup();
          reject(new Error('cancelled'));
          return;
        }
        if (char === '\r' || char === '\n') {
          cleanup();
          process.stderr.write('\n');
          resolve(typed);
          return;
        }
        if (char === '\u007f') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    const cleanup = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
    };
    input.on('data', onData);
  });
}

async function passwordFrom(flags: Map<string, string | true>): Promise<{ password: string; generated: boolean }> {
  if (flags.get('generate') === true) return { password: randomBytes(18).toString('base64url'), generated: true };
  if (flags.get('password-stdin') === true) return { password: await readStdin(), generated: false };
  const password = await prompt('Password: ');
  const problem = passwordProblem(password);
  if (problem !== null) throw new UsageError(problem);
  if ((await prompt('Again: ')) !== password) throw new UsageError('The two passwords differ');
  return { password, generated: false };
}

export async function main(argv: string[], write: (line: string) => void = console.log): Promise<number> {
  const args = parseArgs(argv, SPECS);
  if (args.help || args.command === undefined) {
    write(USAGE);
    return args.command === undefined && !args.help ? 2 : 0;
  }
  const out = createOutput(args.json, write);
  if (args.command === 'url') {
    const base = args.localUrl ?? 'https://<your HTTP access domain>';
    out.result({ url: `${base}/console` }, ({ url }) => `The console: ${url}/sign-in`);
    return 0;
  }
  if (args.localUrl !== undefined) await ensureLocalStack(args.localUrl);
  const admin = connectAdmin(args.localUrl === undefined ? {} : { localUrl: args.localUrl });
  const nowMs = Date.now();
  switch (args.command) {
    case 'operator-add':
    case 'operator-reset': {
      const name = positionalAt(args, 0, 'an operator NAME');
      const { password, generated } = await passwordFrom(args.flags);
      if (args.command === 'operator-add') await addOperator(admin.store, name, password, actor(), nowMs);
      else await resetOperatorPassword(admin.store, name, password, actor(), nowMs);
      out.result(
        { operator: name, ...(generated ? { password } : {}), console: args.localUrl === undefined ? null : `${args.localUrl}/console/sign-in` },
        () => [
          `${args.command === 'operator-add' ? 'Created' : 'Reset the password of'} operator ${name} on ${admin.describe}.`,
          ...(generated ? [`PASSWORD=${password}   # shown once; store it now`] : []),
          ...(args.localUrl === undefined ? [] : [`Sign in at ${args.localUrl}/console/sign-in`]),
        ],
      );
      return 0;
    }
    case 'operator-remove': {
      const name = positionalAt(args, 0, 'an operator NAME');
      await removeOperator(admin.store, name, actor(), nowMs);
      out.result({ removed: name }, () => `Removed operator ${name}; their sessions are closed.`);
      return 0;
    }
    case 'operator-list': {
      const operators = await listOperators(admin.store);
      out.result(
        { operators: operators.map(({ _id, createdAtMs, passwordChangedAtMs, changedBy }) => ({ name: _id, createdAtMs, passwordChangedAtMs, changedBy })) },
        () => (operators.length === 0
          ? [`No operators on ${admin.describe}: npm run console -- operator-add NAME`]
          : operators.map((operator) => `${operator._id.padEnd(24)} password set ${new Date(operator.passwordChangedAtMs).toISOString()} by ${operator.changedBy}`)),
      );
      return 0;
    }
    case 'operator-unlock': {
      const name = positionalAt(args, 0, 'an operator NAME');
      const ip = flagValue(args, 'ip');
      await unlockSignIn(admin.store, { name, ...(ip === undefined ? {} : { ip }) }, actor(), nowMs);
      out.result({ unlocked: name, ...(ip === undefined ? {} : { ip }) }, () => `Sign-in of ${name}${ip === undefined ? '' : ` and from ${ip}`} unlocked.`);
      return 0;
    }
    default:
      throw new UsageError(`Unknown command ${args.command}`);
  }
}

if (require.main === module) runCli(main, USAGE);
