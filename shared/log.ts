/**
 * Structured logs, one JSON object per line, with two layers of redaction: fields whose names
 * look secret are dropped, and any string containing a value registered with
 * {@link registerSecret} (tokens, tickets, keys seen by this instance) is masked. Lines are
 * bounded too: a value a caller sent (a 1 MB field name in an error message, say) is cut, so one
 * request cannot write a megabyte into the logs.
 */
import { clip } from './echo';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const SECRET_KEY = /token|ticket|secret|key|sign|password|passphrase|cert|pfx|p12|authorization|cookie/i;
const REDACTED = '[redacted]';
/** Bounds of one line: any string value, any field name, fields per object, the whole line. */
const MAX_STRING_CHARS = 2_000;
const MAX_KEY_CHARS = 64;
const MAX_KEYS = 50;
export const MAX_LOG_LINE_CHARS = 16_384;

// Secrets this instance has handled. Short strings are not registered: masking "1" would mask everything.
const secretValues = new Set<string>();

/** Registers a value that must never appear in a log line (masked wherever it shows up). */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value === 'string' && value.length >= 8) secretValues.add(value);
}

function maskString(text: string): string {
  let out = text;
  for (const secret of secretValues) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

function sanitize(value: unknown, depth = 0): unknown {
  // Masked first, then cut: a cut must not leave part of a secret behind unmasked.
  if (typeof value === 'string') return clip(maskString(value), MAX_STRING_CHARS);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 4) return '[depth]';
  if (value instanceof Error) {
    const error = value as Error & { code?: unknown; errcode?: unknown; errCode?: unknown };
    return sanitize({ name: error.name, message: error.message, code: error.code, errcode: error.errcode ?? error.errCode }, depth + 1);
  }
  if (Array.isArray(value)) return value.slice(0, 20).map((item) => sanitize(item, depth + 1));
  const out: Record<string, unknown> = {};
  const entries = Object.entries(value);
  for (const [key, item] of entries.slice(0, MAX_KEYS)) {
    out[clip(maskString(key), MAX_KEY_CHARS)] = SECRET_KEY.test(key) ? REDACTED : sanitize(item, depth + 1);
  }
  if (entries.length > MAX_KEYS) out['[more]'] = entries.length - MAX_KEYS;
  return out;
}

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to console (stdout/stderr), which CloudBase collects. */
  write?: (line: string, level: LogLevel) => void;
  now?: () => number;
}

function defaultWrite(line: string, level: LogLevel): void {
  if (level === 'error' || level === 'warn') console.error(line);
  else console.log(line);
}

/** Creates a logger whose every line is sanitised before it is written. */
export function createLogger(base: LogFields = {}, options: LoggerOptions = {}): Logger {
  const minLevel = LEVEL_ORDER[options.level ?? 'info'];
  const write = options.write ?? defaultWrite;
  const now = options.now ?? Date.now;
  const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (LEVEL_ORDER[level] < minLevel) return;
    const record = sanitize({ ...base, ...fields }) as LogFields;
    const head = { level, time: new Date(now()).toISOString(), msg: clip(maskString(message), MAX_STRING_CHARS) };
    const line = JSON.stringify({ ...head, ...record });
    // Many fields at their bounds can still add up: the line keeps its head and a cut copy of the rest.
    write(line.length <= MAX_LOG_LINE_CHARS ? line : JSON.stringify({ ...head, ...(sanitize(base) as LogFields), truncated: clip(line, MAX_LOG_LINE_CHARS / 2) }), level);
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    child: (fields) => createLogger({ ...base, ...fields }, options),
  };
}
