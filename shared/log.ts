/**
 * Structured logs, one JSON object per line, with two layers of redaction: fields whose names
 * look secret are dropped, and any string containing a value registered with
 * {@link registerSecret} (tokens, tickets, keys seen by this instance) is masked.
 */

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
  if (typeof value === 'string') return maskString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 4) return '[depth]';
  if (value instanceof Error) {
    const error = value as Error & { code?: unknown; errcode?: unknown; errCode?: unknown };
    return sanitize({ name: error.name, message: error.message, code: error.code, errcode: error.errcode ?? error.errCode }, depth + 1);
  }
  if (Array.isArray(value)) return value.slice(0, 20).map((item) => sanitize(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? REDACTED : sanitize(item, depth + 1);
  }
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
    write(JSON.stringify({ level, time: new Date(now()).toISOString(), msg: maskString(message), ...record }), level);
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    child: (fields) => createLogger({ ...base, ...fields }, options),
  };
}
