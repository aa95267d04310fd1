import { BSONRegExp, EJSON } from 'bson';
import { CLOUDBASE_ERROR_CODES, CloudBaseError } from './errors';

/** A stored document: plain JS values (numbers, strings, Dates, arrays, objects) with an `_id`. */
export type StoredDocument = Record<string, unknown>;

/** The `_id` types this store accepts (the SDK's `doc(id)` takes a string or a number). */
export type DocumentId = string | number;

/** Flags a JS RegExp understands; BSON's `x` (extended) and `l` (locale) have no JS equivalent. */
const JS_REGEXP_FLAGS = new Set(['i', 'm', 's', 'u']);

/**
 * Parses one EJSON string sent by the SDK into plain JS values.
 * Relaxed parsing turns `$numberInt`/`$numberDouble`/`$numberLong` into numbers so mingo compares them natively.
 * `{"$tcb_server_date":{"offset":N}}` becomes the server's clock plus N ms, as the real service does.
 */
export function parseEjson(text: unknown, field: string, nowMs: number): unknown {
  if (typeof text !== 'string') {
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, `${field} must be an EJSON string`);
  }
  let value: unknown;
  try {
    value = EJSON.parse(text);
  } catch (error) {
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, `${field} is not valid EJSON`, { cause: error });
  }
  return resolveSpecialValues(value, nowMs);
}

/** Serialises a value the way the SDK itself does (canonical EJSON), which its `EJSON.parse` reads back. */
export function stringifyEjson(value: unknown): string {
  return EJSON.stringify(value, { relaxed: false });
}

/** True for `{}`-style objects, as opposed to Dates, RegExps and BSON class instances. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** True when `value` can be a document `_id` here. */
export function isDocumentId(value: unknown): value is DocumentId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

function resolveSpecialValues(value: unknown, nowMs: number): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveSpecialValues(item, nowMs));
  if (value instanceof BSONRegExp) {
    const flags = [...value.options].filter((flag) => JS_REGEXP_FLAGS.has(flag)).join('');
    return new RegExp(value.pattern, flags);
  }
  if (!isPlainObject(value)) return value;
  const serverDate = value.$tcb_server_date;
  if (Object.keys(value).length === 1 && isPlainObject(serverDate)) {
    const offsetMs = Number(serverDate.offset ?? 0);
    return new Date(nowMs + (Number.isFinite(offsetMs) ? offsetMs : 0));
  }
  const resolved: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) resolved[key] = resolveSpecialValues(item, nowMs);
  return resolved;
}
