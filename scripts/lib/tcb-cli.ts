/**
 * The tcb CLI as deploy finds it: where it is, which version, and whether that version applies
 * `functionDefaultConfig` — checked in the CLI's own source, not assumed. In 2.12.10 the command
 * runner loads the config through `getCloudBaseConfig`, which merges it under every function with
 * lodash (`config.functions.map((rawConfig) => lodash_1.default.merge({}, config.functionDefaultConfig,
 * rawConfig))`, dist/standalone/cli.js:326760; reference/cloudbase.md §1.1). Another version may
 * not: then deploy writes the defaults into each function entry itself (see perFunctionConfig).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

export interface TcbCli {
  /** The command to run. */
  bin: string;
  /** The @cloudbase/cli package folder, when the command is one. */
  packageDir: string | null;
  version: string | null;
}

/** `node_modules/.bin/tcb` of the project first, then `tcb` on PATH. */
export function findTcbCli(root: string, pathEnv: string | undefined = process.env.PATH): TcbCli | null {
  const local = path.join(root, 'node_modules', '.bin', 'tcb');
  let bin: string | null = existsSync(local) ? local : null;
  if (bin === null) {
    for (const folder of (pathEnv ?? '').split(path.delimiter)) {
      const candidate = path.join(folder, 'tcb');
      if (folder !== '' && existsSync(candidate)) {
        bin = candidate;
        break;
      }
    }
  }
  if (bin === null) return null;
  const packageDir = cliPackageOf(bin);
  return { bin, packageDir, version: packageDir === null ? versionFromCommand(bin) : readVersion(packageDir) };
}

/** The @cloudbase/cli folder behind a `tcb` command (npm links bin/tcb into .bin or a global bin folder). */
function cliPackageOf(bin: string): string | null {
  let folder: string;
  try {
    folder = path.dirname(realpathSync(bin));
  } catch {
    return null;
  }
  for (let depth = 0; depth < 4; depth += 1) {
    const manifest = path.join(folder, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === '@cloudbase/cli') return folder;
      } catch {
        return null;
      }
    }
    folder = path.dirname(folder);
  }
  return null;
}

function readVersion(packageDir: string): string | null {
  try {
    return (JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

/** `tcb --version` prints `CloudBase CLI 2.12.10` first (cli.js, before any command runs). */
function versionFromCommand(bin: string): string | null {
  const result = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return /CloudBase CLI (\d+\.\d+\.\d+)/.exec(`${result.stdout ?? ''}${result.stderr ?? ''}`)?.[1] ?? null;
}

export type DefaultConfigSupport =
  | { applied: true; file: string; line: number }
  | { applied: false; reason: string };

/** The merge statement as 2.x ships it (webpack output keeps the source's names). */
const MERGE = /config\.functions\s*=\s*config\.functions\.map\(\(?rawConfig\)?\s*=>\s*[\w.$]*merge\(\{\},\s*config\.functionDefaultConfig,\s*rawConfig\)\)/;

/** Whether the installed CLI merges `functionDefaultConfig` under every function, read from its source. */
export function functionDefaultConfigSupport(cli: TcbCli): DefaultConfigSupport {
  if (cli.packageDir === null) return { applied: false, reason: `${cli.bin} is not an npm install of @cloudbase/cli, so its source cannot be read` };
  const file = path.join(cli.packageDir, 'dist', 'standalone', 'cli.js');
  if (!existsSync(file)) return { applied: false, reason: `${path.relative(cli.packageDir, file)} is not in this CLI version` };
  const text = readFileSync(file, 'utf8');
  const match = MERGE.exec(text);
  if (match === null) return { applied: false, reason: `no merge of functionDefaultConfig in ${file}` };
  return { applied: true, file, line: text.slice(0, match.index).split('\n').length };
}

/**
 * cloudbaserc.json with `functionDefaultConfig` written into every function (under the
 * function's own settings, as the CLI would merge it), for a CLI that does not apply it. Templates
 * (`{{env.X}}`) stay as they are: the CLI renders them.
 */
export function perFunctionConfig(rawText: string): string {
  const config = JSON.parse(rawText) as { functionDefaultConfig?: Record<string, unknown>; functions?: Array<Record<string, unknown>> } & Record<string, unknown>;
  const { functionDefaultConfig: defaults = {}, ...rest } = config;
  return `${JSON.stringify({ ...rest, functions: (config.functions ?? []).map((entry) => deepMerge(defaults, entry)) }, null, 2)}\n`;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
