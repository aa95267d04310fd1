import { readFileSync } from 'node:fs';
import path from 'node:path';
import Mustache from 'mustache';

/** The parts of a `cloudbaserc.json` function entry this project uses. */
export interface FunctionEntry {
  name: string;
  runtime: string;
  handler: string;
  installDependency: boolean;
  memorySize: number;
  timeout: number;
  envVariables: Record<string, string>;
  triggers: Array<{ name: string; type: 'timer'; config: string }>;
  publicNetConfig?: { publicNetStatus?: string; eipConfig?: { eipStatus?: string } };
  /** HTTP-access path (e.g. "/wx/push"): `tcb fn deploy` creates the route (createAccessPath); the local host serves it. */
  path?: string;
  ignore?: string[];
}

export interface CloudbaseRc {
  envId: string;
  functionRoot: string;
  functions: FunctionEntry[];
}

export const ROOT = path.resolve(__dirname, '..', '..');
export const RC_PATH = path.join(ROOT, 'cloudbaserc.json');

/** Names every `{{env.X}}` the file uses, so deploy can insist on them before calling tcb. */
export function templateVariables(rawText: string = readFileSync(RC_PATH, 'utf8')): string[] {
  return [...new Set([...rawText.matchAll(/\{\{\s*env\.([A-Za-z0-9_]+)\s*\}\}/g)].map((match) => match[1]!))];
}

function merge(base: unknown, over: unknown): unknown {
  if (base && over && typeof base === 'object' && typeof over === 'object' && !Array.isArray(base) && !Array.isArray(over)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [key, value] of Object.entries(over)) out[key] = merge(out[key], value);
    return out;
  }
  return over === undefined ? base : over;
}

/**
 * Renders the file the way tcb CLI 2.x does (reference/cloudbase.md §1.1): mustache over the raw
 * text, no HTML escaping, view `{ env }`; then `functionDefaultConfig` merged under every function.
 */
export function loadCloudbaseRc(env: Record<string, string | undefined>, rawText: string = readFileSync(RC_PATH, 'utf8')): CloudbaseRc {
  const rendered = Mustache.render(rawText, { env }, {}, { escape: (value: string) => value });
  const parsed = JSON.parse(rendered) as {
    envId: string;
    functionRoot?: string;
    functionDefaultConfig?: Record<string, unknown>;
    functions?: Array<Record<string, unknown>>;
  };
  const functions = (parsed.functions ?? []).map((entry) => {
    const merged = merge(parsed.functionDefaultConfig ?? {}, entry) as Partial<FunctionEntry> & { name: string };
    return {
      runtime: 'Nodejs18.15',
      handler: 'index.main',
      installDependency: true,
      memorySize: 256,
      timeout: 10,
      envVariables: {},
      triggers: [],
      ...merged,
    } as FunctionEntry;
  });
  return { envId: parsed.envId, functionRoot: parsed.functionRoot ?? './functions', functions };
}

/** Whether the entry asks for the environment's fixed outbound IP (固定出口IP). */
export function hasFixedEgressIp(entry: FunctionEntry): boolean {
  return entry.publicNetConfig?.eipConfig?.eipStatus === 'ENABLE';
}

/** esbuild target for a CloudBase runtime name such as "Nodejs20.19". */
export function nodeTargetOf(runtime: string): string {
  const match = /^Nodejs(\d+)\.(\d+)$/.exec(runtime);
  if (!match) throw new Error(`Unsupported runtime "${runtime}" in cloudbaserc.json (expected e.g. Nodejs20.19)`);
  return `node${match[1]}.${match[2]}`;
}
