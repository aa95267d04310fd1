/**
 * Text a caller sent, as it may be echoed back in an error or written in a log line: cut to a
 * short prefix. Without this a 1 MB field name came back as a 1 MB answer and a 1 MB log line
 * (every instance, every retry), which is both a cost and a way to flood the logs.
 */

/** Longest caller-sent fragment quoted in an error message (field names, values). */
export const ECHO_MAX_CHARS = 48;
/**
 * Longest message an input error carries, whatever was put into it: a safety net behind the
 * clipped fragments, long enough for a validation that names twenty problems at once.
 */
export const ERROR_MESSAGE_MAX_CHARS = 2_000;

/**
 * `text` itself when short, else its first `maxChars` characters and how long it was. A
 * surrogate pair is never cut in half (the cut would not be valid UTF-16 in a JSON answer).
 */
export function clip(text: string, maxChars: number = ECHO_MAX_CHARS): string {
  if (text.length <= maxChars) return text;
  let end = maxChars;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…(${text.length} chars)`;
}

/**
 * A short, safe rendering of any caller value for a message: strings clipped, objects named by
 * kind only (serialising a caller's object could be huge, or nested deep enough to overflow).
 */
export function echo(value: unknown, maxChars: number = ECHO_MAX_CHARS): string {
  if (typeof value === 'string') return JSON.stringify(clip(value, maxChars));
  if (value === null || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'undefined') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return `a ${typeof value}`;
}

/** "a, b, c and 4 more", each name clipped: the message for fields a caller may not send. */
export function listNames(names: readonly string[], maxListed = 5): string {
  const shown = names.slice(0, maxListed).map((name) => clip(name));
  const more = names.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}
