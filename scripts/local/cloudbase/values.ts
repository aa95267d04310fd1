import { BSONRegExp, EJSON } from 'bson';
import { CLOUDBASE_ERROR_CODES, CloudBaseError } from './errors';

/** A stored document: plain JS values (numbers, strings, Dates, arrays, objects) with an `_id`. */
export type StoredDocument = Record<string, unknown>;

/** The `_id` types this store accepts (the SDK's `doc(id)` takes a string or a number). */
export type DocumentId = string | number;

/**
 * MongoDB's limit, which CloudBase's database inherits: "no more than 100 levels of nesting for BSON documents".
 * A bound here also keeps every recursive step after parsing (bson's reviver, mingo, cloneDeep) far from the stack's end.
 */
export const MAX_DOCUMENT_DEPTH = 100;
// EJSON spells some leaves with up to two more levels (`{"$date":{"$numberLong":"…"}}`), so text may go two deeper.
const EJSON_LEAF_LEVELS = 2;

/** Flags a JS RegExp understands; BSON's `x` (extended) and `l` (locale) have no JS equivalent. */
const JS_REGEXP_FLAGS = new Set(['i', 'm', 's', 'u']);

/**
 * Parses one EJSON string sent by the SDK into plain JS values.
 * Relaxed parsing turns `$numberInt`/`$numberDouble`/`$numberLong` into numbers so mingo compares them natively.
 * `{"$tcb_server_date":{"offset":N}}` becomes the server's clock plus N ms, as the real service does.
 */
export function parseEjson(text: unknown, field: string, nowMs: number, maxDepth = MAX_DOCUMENT_DEPTH): unknown {
  if (typeof text !== 'string') {
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, `${field} must be an EJSON string`);
  }
  // Counted on the text first, so nothing recursive ever sees a value too deep for it.
  assertNestingDepth(text, field, maxDepth + EJSON_LEAF_LEVELS);
  let value: unknown;
  try {
    value = EJSON.parse(text);
  } catch (error) {
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, `${field} is not valid EJSON`, { cause: error });
  }
  const resolved = resolveSpecialValues(value, nowMs);
  if (isNestedDeeperThan(resolved, maxDepth)) {
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, `${field} is nested deeper than ${maxDepth} levels`);
  }
  return resolved;
}

/**
 * Refuses JSON text nested deeper than `maxDepth` objects and arrays, counted without parsing (one pass, no
 * recursion), so a 10,000-level value is an `INVALID_PARAM` instead of a stack overflow somewhere later.
 */
export function assertNestingDepth(text: string, field: string, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c) index += 1; // a backslash escapes the next character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x7b || code === 0x5b) {
      depth += 1;
      if (depth > maxDepth) {
        throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, `${field} is nested deeper than ${maxDepth} levels`);
      }
    } else if (code === 0x7d || code === 0x5d) {
      depth -= 1;
    }
  }
}

/** Whether a parsed value nests more than `maxDepth` objects and arrays (walked without recursion). */
export function isNestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  while (pending.length > 0) {
    const { value: current, depth } = pending.pop()!;
    if (typeof current !== 'object' || current === null || !(Array.isArray(current) || isPlainObject(current))) continue;
    if (depth > maxDepth) return true;
    for (const child of Object.values(current)) pending.push({ value: child, depth: depth + 1 });
  }
  return false;
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
