/**
 * Strict validation of control-API input and sandbox options: a typo or a wrong type is an
 * error naming the field, never silently ignored (a test that mistypes `advanceMs` must fail
 * loudly, not run against an unadvanced clock).
 */
import { isIP } from 'node:net';
import { normalizeRemoteAddress } from './http';

/** Bad input to the sandbox's control API or options; the HTTP control API answers it with 400. */
export class SandboxInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxInputError';
  }
}

/** A plain object whose keys are all in `allowedKeys`. */
export function expectRecord(value: unknown, what: string, allowedKeys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SandboxInputError(`${what} must be a JSON object`);
  }
  const unknownKeys = Object.keys(value).filter((key) => !allowedKeys.includes(key));
  if (unknownKeys.length > 0) {
    throw new SandboxInputError(`${what} has unknown field(s) ${unknownKeys.join(', ')}; allowed: ${allowedKeys.join(', ')}`);
  }
  return value as Record<string, unknown>;
}

/** A non-empty string. */
export function expectString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new SandboxInputError(`${what} must be a non-empty string`);
  return value;
}

export function expectOptionalBoolean(value: unknown, what: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw new SandboxInputError(`${what} must be a boolean`);
  return value;
}

/** A finite number in [0, maxValue]. */
export function expectNonNegativeNumber(value: unknown, what: string, maxValue: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > maxValue) {
    throw new SandboxInputError(`${what} must be a number from 0 to ${maxValue}`);
  }
  return value;
}

/** An integer in [1, maxValue]. */
export function expectPositiveInteger(value: unknown, what: string, maxValue: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > maxValue) {
    throw new SandboxInputError(`${what} must be an integer from 1 to ${maxValue}`);
  }
  return value;
}

/** An IP address, normalised like a socket's remote address (see {@link normalizeRemoteAddress}). */
export function expectIp(value: unknown, what: string): string {
  const ip = normalizeRemoteAddress(expectString(value, what));
  if (isIP(ip) === 0) throw new SandboxInputError(`${what} must be an IP address, got ${JSON.stringify(value)}`);
  return ip;
}
