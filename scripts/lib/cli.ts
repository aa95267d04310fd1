/**
 * One syntax for every operator CLI (`npm run campaign|cards|accounts|console -- …`):
 *
 *   npm run <cli> -- [--local [URL]] [--json] <command> [positional…] [--flag VALUE | --switch]…
 *
 * Global flags may stand anywhere. `--local` alone means `npm start`'s stack at
 * http://127.0.0.1:${PORT:-3000}; `--json` prints one JSON document on stdout instead of text, for
 * scripts (`… --json | jq …`). A command declares which flags take a value; an unknown flag, or a
 * value flag without its value, is an error that names it (a typo never silently does nothing).
 */

export interface ParsedArgs {
  localUrl: string | undefined;
  json: boolean;
  help: boolean;
  command: string | undefined;
  positional: string[];
  flags: Map<string, string | true>;
}

export interface CommandSpec {
  /** Flags taking a value (`--openid X`), without the dashes. */
  values?: readonly string[];
  /** Flags standing alone (`--register`). */
  switches?: readonly string[];
}

/** A mistake in how the CLI was called: the message says what, and the usage follows it. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function defaultLocalUrl(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return `http://127.0.0.1:${env.PORT ?? 3000}`;
}

/** Parses argv against each command's flags (`specs[command]`); global flags are taken first. */
export function parseArgs(argv: readonly string[], specs: Readonly<Record<string, CommandSpec>>): ParsedArgs {
  const parsed: ParsedArgs = { localUrl: undefined, json: false, help: false, command: undefined, positional: [], flags: new Map() };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--local') {
      const next = argv[i + 1];
      parsed.localUrl = next !== undefined && /^https?:\/\//.test(next) ? argv[(i += 1)]!.replace(/\/+$/, '') : defaultLocalUrl();
    } else if (arg === '--json') parsed.json = true;
    else if (arg === '--help' || arg === '-h') parsed.help = true;
    else rest.push(arg);
  }
  parsed.command = rest.find((arg) => !arg.startsWith('--'));
  const spec = parsed.command === undefined ? undefined : specs[parsed.command];
  if (parsed.command !== undefined && spec === undefined) throw new UsageError(`Unknown command ${parsed.command}`);
  let commandSeen = false;
  for (let i = 0; i < rest.length; i += 1) {
    const arg = rest[i]!;
    if (!arg.startsWith('--')) {
      if (!commandSeen && arg === parsed.command) commandSeen = true;
      else parsed.positional.push(arg);
      continue;
    }
    const name = arg.slice(2);
    if (spec?.values?.includes(name)) {
      const value = rest[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      parsed.flags.set(name, value);
      i += 1;
    } else if (spec?.switches?.includes(name)) parsed.flags.set(name, true);
    else throw new UsageError(`${parsed.command ?? 'this CLI'} has no flag --${name}`);
  }
  return parsed;
}

/** A value flag's value, or undefined. */
export function flagValue(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.flags.get(name);
  return typeof value === 'string' ? value : undefined;
}

/** The positional argument at `index`, or a UsageError naming what is missing. */
export function positionalAt(parsed: ParsedArgs, index: number, what: string): string {
  const value = parsed.positional[index];
  if (value === undefined) throw new UsageError(`${parsed.command} needs ${what}`);
  return value;
}

/** No local stack answers at the URL (`--local` without `npm start`). */
export class NoLocalStackError extends Error {
  constructor(readonly url: string, detail: string) {
    super(
      `No local stack answers at ${url} (${detail}). Start one with \`npm start\` in another terminal, `
      + `or pass the URL of the one you run: --local http://127.0.0.1:PORT`,
    );
    this.name = 'NoLocalStackError';
  }
}

/**
 * Checks that a local stack answers at `url` before a CLI talks to it, so a missing `npm start`
 * reads as that instead of node-sdk's bare ECONNREFUSED.
 */
export async function ensureLocalStack(url: string, timeoutMs = 3000): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`${url}/__local/stats`, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    throw new NoLocalStackError(url, cause === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : String(cause));
  }
  await response.body?.cancel();
  if (response.status === 503) throw new NoLocalStackError(url, 'it is still starting: try again in a few seconds');
  if (response.status !== 200) throw new NoLocalStackError(url, `${url}/__local/stats answered ${response.status}: is it another program?`);
}

/** What a CLI prints: text lines, or one JSON document with `--json`. */
export interface Output {
  json: boolean;
  /** A line of text (dropped with --json). */
  line(text: string): void;
  /** The command's result: printed as JSON with --json, else rendered by `text`. */
  result(value: unknown, text: (value: any) => string | string[]): void;
}

export function createOutput(json: boolean, write: (line: string) => void = console.log): Output {
  return {
    json,
    line: (text) => {
      if (!json) write(text);
    },
    result: (value, text) => {
      if (json) write(JSON.stringify(value, null, 2));
      else {
        const rendered = text(value);
        for (const line of Array.isArray(rendered) ? rendered : [rendered]) write(line);
      }
    },
  };
}

/**
 * Runs a CLI's `main` as a process: exit code from it, errors printed without a stack (a
 * UsageError with the usage after it).
 */
export function runCli(main: (argv: string[]) => Promise<number>, usage: string): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      if (error instanceof UsageError) console.error(`\n${usage}`);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
