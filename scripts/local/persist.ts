/**
 * Snapshots of a sandbox's whole state object in one JSON file, so that after Ctrl-C and
 * `npm start` the WeChat and Pay sandboxes still know every token, ticket, card, code, packet,
 * balance, clock offset and counter the database refers to.
 *
 * The contract (for everyone who adds a field to a sandbox state):
 *
 * - **Everything persists by default.** The state object is walked as it is: Maps, Sets, arrays,
 *   plain objects (null-prototype ones too), strings, numbers (NaN, ±Infinity, -0), booleans,
 *   bigints, null, undefined (kept as a present key), Dates and Buffers. An object reachable from
 *   two places (a packet in both `packets` and `openPackets`) is restored as ONE object, and
 *   cycles survive. A new field needs no change here.
 * - **What cannot persist is refused, loudly:** functions, symbols, class instances (a KeyObject,
 *   a Timeout, a socket), typed arrays other than Buffer, WeakMaps. A save that meets one is
 *   reported (naming the path, e.g. `state.transfers.get("b1").timer`) and the last good
 *   snapshot stays on disk. Keep such values out of the state, or list their top-level key as
 *   transient. Keys derived from options each start (the sandboxes' `config`) are transient.
 *   Secrets a sandbox makes for itself (a signing key) belong in the state as a Buffer or a
 *   PEM string, so that what was signed before a restart still verifies after it.
 * - **Restoring merges into a fresh state built from today's options:** a top-level or nested
 *   plain-object key missing from the snapshot keeps its fresh default (a field added since the
 *   snapshot was written starts empty); a Map keeps the snapshot's entries and gains the fresh
 *   state's entries for keys the snapshot lacks (an account or merchant added to the options
 *   appears), and an entry both have is merged like a plain object; Sets, arrays and everything
 *   else are the snapshot's. Top-level keys the code no longer has are dropped. A value whose
 *   kind changed (a Map that is now an array; a Map entry the options also fill, once a string,
 *   now an object) makes the snapshot incompatible.
 * - **Records the options do not fill are taken as saved:** a field added to, say, a token record
 *   is `undefined` on records of an older snapshot. Read it with a default, or bump the state's
 *   schema string (`…/2`), which sets old snapshots aside instead of loading them. Bump it too
 *   when the values of a Map change shape (`accounts: Map<appid, secret>` → `Map<appid, Account>`).
 * - A corrupt or incompatible snapshot is reported, renamed to `<file>.rejected-<ms>` and the
 *   sandbox starts empty; it never stops the stack.
 * - Writes are debounced (each API or control call schedules one), atomic (temp file + rename:
 *   a crash leaves the old or the new snapshot, never half of one) and flushed on close and at
 *   process exit. A change made outside a request (a timer) calls {@link markStateChanged}.
 *   Durability is against a killed process, not a power cut (no fsync), like the database's.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The envelope's `format`; anything else in the file is not a sandbox snapshot. */
export const SNAPSHOT_FORMAT = 'local-sandbox-snapshot';
/** Version of the encoding below (not of a sandbox's state: that is the `schema` option). */
export const SNAPSHOT_FORMAT_VERSION = 1;

// The sandboxes' states are a few levels deep; a deeper value is a bug (or client input kept raw), not data.
const MAX_DEPTH = 200;
const DEFAULT_DEBOUNCE_MS = 100;
const DEFAULT_MAX_DELAY_MS = 1000;

/** A value that cannot be saved or a snapshot that cannot be read; the message names the path. */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// ---------------------------------------------------------------------------------------------
// Encoding: JSON with tags. A JSON object whose keys start with `$` is a tag; a plain object that
// has such keys of its own, a shared one, or a null-prototype one is wrapped in `$object`.
// ---------------------------------------------------------------------------------------------

/** Encodes a value graph (see the contract above) into JSON-safe data. */
export function encodeSnapshotValue(value: unknown, rootName = 'state'): Json {
  const counts = new Map<object, number>();
  countReferences(value, counts, new Trail(rootName));
  const ids = new Map<object, number>();
  return encodeValue(value, counts, ids, new Trail(rootName));
}

/** Decodes what {@link encodeSnapshotValue} produced; malformed data throws {@link SnapshotError}. */
export function decodeSnapshotValue(data: unknown, rootName = 'state'): unknown {
  return decodeValue(data, new Map(), new Trail(rootName));
}

/** The path being walked, kept as a stack so that only an error pays for the string. */
class Trail {
  readonly #segments: string[];

  constructor(root: string) {
    this.#segments = [root];
  }

  get depth(): number {
    return this.#segments.length;
  }

  push(segment: string): void {
    if (this.#segments.length > MAX_DEPTH) throw new SnapshotError(`${this.toString()}: nested deeper than ${MAX_DEPTH} levels`);
    this.#segments.push(segment);
  }

  pop(): void {
    this.#segments.pop();
  }

  toString(): string {
    return this.#segments.join('');
  }
}

function key(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

function mapKey(entryKey: unknown): string {
  return `.get(${typeof entryKey === 'string' ? JSON.stringify(entryKey.slice(0, 40)) : String(entryKey).slice(0, 40)})`;
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function describeUnsupported(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  const name = (value as object).constructor?.name;
  return name ? `a ${name}` : 'an object of unknown class';
}

function unsupported(value: unknown, trail: Trail): SnapshotError {
  return new SnapshotError(
    `${trail.toString()}: ${describeUnsupported(value)} cannot be persisted; keep it out of the state or make its key transient`,
  );
}

/** Pass 1: how often each object is reached, so shared ones get an id (and cycles end). */
function countReferences(value: unknown, counts: Map<object, number>, trail: Trail): void {
  if (typeof value === 'function' || typeof value === 'symbol') throw unsupported(value, trail);
  if (typeof value !== 'object' || value === null) return;
  const seen = counts.get(value) ?? 0;
  counts.set(value, seen + 1);
  if (seen > 0) return;
  const walk = (segment: string, child: unknown): void => {
    trail.push(segment);
    countReferences(child, counts, trail);
    trail.pop();
  };
  if (Array.isArray(value)) value.forEach((item, index) => walk(`[${index}]`, item));
  else if (value instanceof Map && Object.getPrototypeOf(value) === Map.prototype) {
    for (const [entryKey, entryValue] of value) {
      walk('.keys()', entryKey);
      walk(mapKey(entryKey), entryValue);
    }
  } else if (value instanceof Set && Object.getPrototypeOf(value) === Set.prototype) {
    let index = 0;
    for (const item of value) walk(`.values()[${index++}]`, item);
  } else if (Buffer.isBuffer(value) || value instanceof Date) {
    // Leaves.
  } else if (isPlainObject(value)) {
    for (const [name, child] of Object.entries(value)) walk(key(name), child);
  } else {
    throw unsupported(value, trail);
  }
}

function encodeNumber(value: number): Json {
  if (Number.isNaN(value)) return { $number: 'NaN' };
  if (value === Number.POSITIVE_INFINITY) return { $number: 'Infinity' };
  if (value === Number.NEGATIVE_INFINITY) return { $number: '-Infinity' };
  if (Object.is(value, -0)) return { $number: '-0' };
  return value;
}

function encodeValue(value: unknown, counts: Map<object, number>, ids: Map<object, number>, trail: Trail): Json {
  switch (typeof value) {
    case 'undefined':
      return { $undefined: true };
    case 'number':
      return encodeNumber(value);
    case 'bigint':
      return { $bigint: value.toString() };
    case 'string':
    case 'boolean':
      return value;
    default:
      break;
  }
  if (value === null) return null;
  const object = value as object;
  const knownId = ids.get(object);
  if (knownId !== undefined) return { $ref: knownId };
  const shared = (counts.get(object) ?? 0) > 1;
  const id = shared ? ids.size + 1 : undefined;
  if (id !== undefined) ids.set(object, id);
  const withId = (tagged: { [key: string]: Json }): Json => (id === undefined ? tagged : { $id: id, ...tagged });
  const child = (segment: string, item: unknown): Json => {
    trail.push(segment);
    const encoded = encodeValue(item, counts, ids, trail);
    trail.pop();
    return encoded;
  };

  if (Array.isArray(object)) {
    const items = Array.from(object, (item, index) => child(`[${index}]`, item));
    return id === undefined ? items : { $id: id, $array: items };
  }
  if (object instanceof Map) {
    return withId({ $map: [...object].map(([entryKey, entryValue]) => [child('.keys()', entryKey), child(mapKey(entryKey), entryValue)]) });
  }
  if (object instanceof Set) {
    let index = 0;
    return withId({ $set: [...object].map((item) => child(`.values()[${index++}]`, item)) });
  }
  if (Buffer.isBuffer(object)) return withId({ $buffer: object.toString('base64') });
  if (object instanceof Date) return withId({ $date: encodeNumber(object.getTime()) });
  const fields: { [key: string]: Json } = {};
  for (const [name, item] of Object.entries(object)) defineField(fields, name, child(key(name), item));
  const nullPrototype = Object.getPrototypeOf(object) === null;
  const needsWrapper = id !== undefined || nullPrototype || Object.keys(fields).some((name) => name.startsWith('$'));
  if (!needsWrapper) return fields;
  return withId({ $object: fields, ...(nullPrototype ? { $nullPrototype: true } : {}) });
}

/** Sets a key even when it is `__proto__`, which plain assignment would turn into a prototype change. */
function defineField(target: Record<string, unknown>, name: string, value: unknown): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, writable: true, enumerable: true, configurable: true });
  else target[name] = value;
}

const TAGS = new Set(['$id', '$ref', '$undefined', '$number', '$bigint', '$array', '$map', '$set', '$buffer', '$date', '$object', '$nullPrototype']);

function decodeValue(data: unknown, byId: Map<number, object>, trail: Trail): unknown {
  if (data === null || typeof data === 'string' || typeof data === 'boolean' || typeof data === 'number') return data;
  const child = (segment: string, item: unknown): unknown => {
    trail.push(segment);
    const decoded = decodeValue(item, byId, trail);
    trail.pop();
    return decoded;
  };
  const bad = (what: string): SnapshotError => new SnapshotError(`${trail.toString()}: ${what}`);
  if (Array.isArray(data)) return data.map((item, index) => child(`[${index}]`, item));
  if (typeof data !== 'object') throw bad('not JSON data');
  const record = data as Record<string, unknown>;
  const names = Object.keys(record);
  if (!names.some((name) => name.startsWith('$'))) {
    const decoded: Record<string, unknown> = {};
    for (const name of names) defineField(decoded, name, child(key(name), record[name]));
    return decoded;
  }
  const unknownTag = names.find((name) => !TAGS.has(name));
  if (unknownTag !== undefined) throw bad(`unknown tag ${JSON.stringify(unknownTag.slice(0, 40))}`);
  if ('$ref' in record) {
    const target = byId.get(record.$ref as number);
    if (target === undefined || names.length !== 1) throw bad(`dangling reference ${String(record.$ref).slice(0, 20)}`);
    return target;
  }
  const register = <T extends object>(object: T): T => {
    if (record.$id === undefined) return object;
    if (typeof record.$id !== 'number' || byId.has(record.$id)) throw bad('invalid or repeated $id');
    byId.set(record.$id, object);
    return object;
  };
  if ('$undefined' in record) return undefined;
  if ('$number' in record) return decodeNumber(record.$number, bad);
  if ('$bigint' in record) {
    if (typeof record.$bigint !== 'string' || !/^-?\d+$/.test(record.$bigint)) throw bad('invalid $bigint');
    return BigInt(record.$bigint);
  }
  if ('$buffer' in record) {
    if (typeof record.$buffer !== 'string') throw bad('invalid $buffer');
    return register(Buffer.from(record.$buffer, 'base64'));
  }
  if ('$date' in record) return register(new Date(decodeNumber(record.$date, bad)));
  if ('$array' in record) {
    if (!Array.isArray(record.$array)) throw bad('invalid $array');
    const array = register([] as unknown[]);
    record.$array.forEach((item, index) => array.push(child(`[${index}]`, item)));
    return array;
  }
  if ('$map' in record) {
    if (!Array.isArray(record.$map)) throw bad('invalid $map');
    const map = register(new Map<unknown, unknown>());
    for (const entry of record.$map) {
      if (!Array.isArray(entry) || entry.length !== 2) throw bad('invalid $map entry');
      const entryKey = child('.keys()', entry[0]);
      map.set(entryKey, child(mapKey(entryKey), entry[1]));
    }
    return map;
  }
  if ('$set' in record) {
    if (!Array.isArray(record.$set)) throw bad('invalid $set');
    const set = register(new Set<unknown>());
    record.$set.forEach((item, index) => set.add(child(`.values()[${index}]`, item)));
    return set;
  }
  if ('$object' in record) {
    const fields = record.$object;
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw bad('invalid $object');
    const object = register((record.$nullPrototype === true ? Object.create(null) : {}) as Record<string, unknown>);
    for (const [name, item] of Object.entries(fields)) defineField(object, name, child(key(name), item));
    return object;
  }
  throw bad('a tag without a value');
}

function decodeNumber(data: unknown, bad: (what: string) => SnapshotError): number {
  if (typeof data === 'number') return data;
  const special: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY, '-0': -0 };
  const record = data as { $number?: unknown } | null;
  const name = typeof data === 'string' ? data : typeof record === 'object' && record !== null ? record.$number : undefined;
  if (typeof name === 'string' && Object.hasOwn(special, name)) return special[name]!;
  throw bad('invalid number');
}

// ---------------------------------------------------------------------------------------------
// Restoring into a fresh state.
// ---------------------------------------------------------------------------------------------

type Kind = 'any' | 'number' | 'string' | 'boolean' | 'bigint' | 'array' | 'map' | 'set' | 'buffer' | 'date' | 'object';

function kindOf(value: unknown): Kind {
  if (value === undefined || value === null) return 'any';
  if (typeof value !== 'object') return typeof value as Kind;
  if (Array.isArray(value)) return 'array';
  if (value instanceof Map) return 'map';
  if (value instanceof Set) return 'set';
  if (Buffer.isBuffer(value)) return 'buffer';
  if (value instanceof Date) return 'date';
  return 'object';
}

/** Throws when a saved value's kind differs from the fresh one's (plain objects are compared key by key). */
function checkCompatible(fresh: unknown, saved: unknown, trail: Trail, checked = new Set<unknown>()): void {
  if (typeof fresh === 'object' && fresh !== null) {
    if (checked.has(fresh)) return;
    checked.add(fresh);
  }
  const freshKind = kindOf(fresh);
  const savedKind = kindOf(saved);
  if (freshKind === 'any' || savedKind === 'any') return;
  if (freshKind !== savedKind) throw new SnapshotError(`${trail.toString()} was saved as ${savedKind}, this version keeps ${freshKind}`);
  if (freshKind === 'map') {
    // Entries the options put in both (accounts, merchants) show whether the values still have their old shape.
    for (const [entryKey, value] of fresh as Map<unknown, unknown>) {
      if (!(saved as Map<unknown, unknown>).has(entryKey)) continue;
      trail.push(mapKey(entryKey));
      checkCompatible(value, (saved as Map<unknown, unknown>).get(entryKey), trail, checked);
      trail.pop();
    }
    return;
  }
  if (freshKind !== 'object') return;
  for (const [name, value] of Object.entries(fresh as object)) {
    if (!Object.hasOwn(saved as object, name)) continue;
    trail.push(key(name));
    checkCompatible(value, (saved as Record<string, unknown>)[name], trail, checked);
    trail.pop();
  }
}

/** The saved value completed with the fresh state's defaults (see the contract); `merged` ends cycles. */
function mergeDefaults(fresh: unknown, saved: unknown, merged = new Set<unknown>()): unknown {
  if (typeof saved !== 'object' || saved === null || merged.has(saved)) return saved;
  merged.add(saved);
  if (fresh instanceof Map && saved instanceof Map) {
    for (const [entryKey, entryValue] of fresh) {
      saved.set(entryKey, saved.has(entryKey) ? mergeDefaults(entryValue, saved.get(entryKey), merged) : entryValue);
    }
    return saved;
  }
  if (kindOf(fresh) !== 'object' || kindOf(saved) !== 'object') return saved;
  const target = saved as Record<string, unknown>;
  for (const [name, value] of Object.entries(fresh as object)) {
    if (Object.hasOwn(target, name)) defineField(target, name, mergeDefaults(value, target[name], merged));
    else defineField(target, name, value);
  }
  // Keys only the snapshot has stay: a nested plain object may be a dictionary whose fresh value is `{}`.
  return target;
}

// ---------------------------------------------------------------------------------------------
// The file.
// ---------------------------------------------------------------------------------------------

/** Where a sandbox keeps its state between runs; what its `create…`/`start…` function takes. */
export interface SnapshotFileOptions {
  /** The snapshot file, e.g. `.local/sandbox/wechat.json`. */
  file: string;
  /** Where problems (a rejected snapshot, a failed save) go; default `console.warn`. */
  report?: (message: string) => void;
}

/** Options of {@link persistState}. */
export interface PersistStateOptions<T extends object> {
  /** The snapshot file, e.g. `.local/sandbox/wechat.json`; its folder is created. */
  file: string;
  /** Names the state's shape, e.g. `wechat-sandbox/1`; a snapshot of another schema is set aside. */
  schema: string;
  /** Top-level keys never saved nor restored (functions, config derived from options). */
  transientKeys: readonly (keyof T & string)[];
  /** Who is speaking in reports, e.g. "WeChat sandbox". */
  label: string;
  /** Where problems go; default `console.warn`. */
  report?: (message: string) => void;
  /** Quiet time after the last change before a write (default 100 ms)… */
  debounceMs?: number;
  /** …but never later than this after the first unsaved change (default 1000 ms). */
  maxDelayMs?: number;
}

/** What became of the snapshot at start. */
export type SnapshotLoad =
  | { outcome: 'none' }
  | { outcome: 'restored'; savedAtMs: number }
  | { outcome: 'rejected'; reason: string; movedTo: string };

/** A state bound to its snapshot file. */
export interface StatePersistence {
  readonly file: string;
  readonly load: SnapshotLoad;
  /** The state may have changed: schedules a debounced write. */
  touch(): void;
  /** Writes now if the state differs from the file; a problem is reported, not thrown. */
  flush(): void;
  /** Flushes, then stops watching (later touches do nothing). */
  close(): void;
}

const bound = new WeakMap<object, StatePersistence>();

/** For state changes made outside a request or control call (a timer): schedules a write. No-op in memory. */
export function markStateChanged(state: object): void {
  bound.get(state)?.touch();
}

/**
 * Restores `state` (built fresh from today's options) from its snapshot, if any, and keeps the
 * snapshot up to date from then on. Call it before anything captures parts of the state.
 */
export function persistState<T extends object>(state: T, options: PersistStateOptions<T>): StatePersistence {
  const report = options.report ?? ((message: string) => console.warn(message));
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const transient = new Set<string>(options.transientKeys);
  const { file } = options;
  fs.mkdirSync(path.dirname(file), { recursive: true });

  const load = restore(state, options, transient);
  if (load.outcome === 'rejected') {
    report(`${options.label}: its saved state ${file} could not be used (${load.reason}); it was moved to ${load.movedTo} and the `
      + 'sandbox starts empty, so what the database refers to may not exist upstream any more (delete .local/ to start over).');
  }

  let lastWritten: string | undefined = fs.existsSync(file) ? safeRead(file) : undefined;
  let lastProblem: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let firstUnsavedAtMs: number | undefined;
  let closed = false;

  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    firstUnsavedAtMs = undefined;
    let text: string;
    try {
      text = snapshotText(state, options.schema, transient);
    } catch (error) {
      const message = `${options.label}: state not saved to ${file}: ${error instanceof Error ? error.message : String(error)}`;
      if (message !== lastProblem) report(message);
      lastProblem = message;
      return;
    }
    // savedAtMs changes every time, so the comparison ignores the envelope line that carries it.
    if (lastWritten !== undefined && bodyOf(lastWritten) === bodyOf(text)) return;
    try {
      writeAtomically(file, text);
      lastWritten = text;
      lastProblem = undefined;
    } catch (error) {
      const message = `${options.label}: could not write ${file}: ${error instanceof Error ? error.message : String(error)}`;
      if (message !== lastProblem) report(message);
      lastProblem = message;
    }
  };
  const onExit = (): void => flush();
  process.on('exit', onExit);

  const persistence: StatePersistence = {
    file,
    load,
    touch() {
      if (closed) return;
      const nowMs = Date.now();
      firstUnsavedAtMs ??= nowMs;
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(flush, Math.max(0, Math.min(debounceMs, firstUnsavedAtMs + maxDelayMs - nowMs)));
      // A pending write never keeps a process alive; exit and close() flush it.
      timer.unref();
    },
    flush,
    close() {
      if (closed) return;
      flush();
      closed = true;
      process.off('exit', onExit);
      bound.delete(state);
    },
  };
  bound.set(state, persistence);
  return persistence;
}

/**
 * Wraps every method of `target` (a control object) so that each call schedules a write once
 * it has returned or settled. New methods are covered without a change here.
 */
export function touchingMethods<T extends object>(target: T, persistence: StatePersistence | undefined): T {
  if (persistence === undefined) return target;
  const wrapped = { ...target } as Record<string, unknown>;
  for (const [name, value] of Object.entries(target)) {
    if (typeof value !== 'function') continue;
    wrapped[name] = (...args: unknown[]): unknown => {
      try {
        const result: unknown = value.apply(target, args);
        if (result instanceof Promise) return result.finally(() => persistence.touch());
        persistence.touch();
        return result;
      } catch (error) {
        persistence.touch();
        throw error;
      }
    };
  }
  return wrapped as T;
}

/** Wraps a request handler so that each request schedules a write once it has been answered. */
export function touchingHandler<A extends unknown[]>(
  handler: (...args: A) => Promise<void>,
  persistence: StatePersistence | undefined,
): (...args: A) => Promise<void> {
  if (persistence === undefined) return handler;
  return (...args) => handler(...args).finally(() => persistence.touch());
}

function restore<T extends object>(state: T, options: PersistStateOptions<T>, transient: ReadonlySet<string>): SnapshotLoad {
  const { file } = options;
  if (!fs.existsSync(file)) return { outcome: 'none' };
  let savedAtMs: number;
  let saved: Record<string, unknown>;
  try {
    ({ savedAtMs, saved } = readSnapshot(file, options.schema));
    const trail = new Trail('state');
    for (const [name, value] of Object.entries(state)) {
      if (transient.has(name) || !Object.hasOwn(saved, name)) continue;
      trail.push(key(name));
      checkCompatible(value, saved[name], trail);
      trail.pop();
    }
  } catch (error) {
    const movedTo = `${file}.rejected-${Date.now()}`;
    fs.renameSync(file, movedTo);
    return { outcome: 'rejected', reason: error instanceof Error ? error.message : String(error), movedTo };
  }
  const target = state as Record<string, unknown>;
  for (const [name, value] of Object.entries(state)) {
    if (transient.has(name) || !Object.hasOwn(saved, name)) continue;
    defineField(target, name, mergeDefaults(value, saved[name]));
  }
  return { outcome: 'restored', savedAtMs };
}

function readSnapshot(file: string, schema: string): { savedAtMs: number; saved: Record<string, unknown> } {
  let envelope: unknown;
  try {
    envelope = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SnapshotError(`not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof envelope !== 'object' || envelope === null || (envelope as Record<string, unknown>).format !== SNAPSHOT_FORMAT) {
    throw new SnapshotError(`not a ${SNAPSHOT_FORMAT} file`);
  }
  const { formatVersion, schema: savedSchema, savedAtMs, state } = envelope as Record<string, unknown>;
  if (formatVersion !== SNAPSHOT_FORMAT_VERSION) {
    throw new SnapshotError(`written in format version ${String(formatVersion)}, this version reads ${SNAPSHOT_FORMAT_VERSION}`);
  }
  if (savedSchema !== schema) throw new SnapshotError(`written for ${String(savedSchema)}, this sandbox is ${schema}`);
  const saved = decodeSnapshotValue(state);
  if (typeof saved !== 'object' || saved === null || kindOf(saved) !== 'object') throw new SnapshotError('the state is not an object');
  return { savedAtMs: typeof savedAtMs === 'number' ? savedAtMs : 0, saved: saved as Record<string, unknown> };
}

function snapshotText(state: object, schema: string, transient: ReadonlySet<string>): string {
  const kept: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(state)) if (!transient.has(name)) defineField(kept, name, value);
  const header = JSON.stringify({ format: SNAPSHOT_FORMAT, formatVersion: SNAPSHOT_FORMAT_VERSION, schema, savedAtMs: Date.now() });
  // One header line, then the state: readable with `jq .state`, and the header is cheap to tell apart.
  return `${header.slice(0, -1)},\n"state":${JSON.stringify(encodeSnapshotValue(kept))}}\n`;
}

function bodyOf(text: string): string {
  return text.slice(text.indexOf('\n') + 1);
}

function safeRead(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temporary, text);
  fs.renameSync(temporary, file);
}
