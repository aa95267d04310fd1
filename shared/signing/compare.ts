/** Constant-time comparison for signatures. */
import { timingSafeEqual } from 'node:crypto';

/**
 * Compares two strings in time independent of where they differ, so a caller probing a
 * signature byte by byte learns nothing (wechatpy's `==` is the slip this avoids). Strings of
 * different byte length, or values that are not strings (a missing XML field), are simply
 * unequal: only the length can leak, and every signature of one kind has a fixed length.
 */
export function safeEqual(a: string, b: string): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}
