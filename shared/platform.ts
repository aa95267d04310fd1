import cloud from 'wx-server-sdk';
import { AppError, ErrorCode } from './errors';
import { createCloudBaseStore, type CloudDatabase } from './store/cloudbase';
import type { DocumentStore } from './store/port';

/**
 * The CloudBase platform as the functions see it: wx-server-sdk, initialised once per instance
 * for the current environment. Everything else in the core takes these as arguments.
 */
export interface CloudPlatform {
  store: DocumentStore;
  /** Calls another cloud function of this environment and unwraps its result envelope. */
  callFunction<T>(name: string, data: Record<string, unknown>): Promise<T>;
  getWXContext(): Record<string, unknown>;
}

/** Raised when another function answered with an error envelope; its public code is kept. */
export class RemoteFunctionError extends AppError {
  readonly functionName: string;
  constructor(functionName: string, code: ErrorCode, message: string) {
    super(code, `${functionName}: ${message}`);
    this.functionName = functionName;
  }
}

let platform: CloudPlatform | null = null;

export function cloudPlatform(): CloudPlatform {
  if (platform) return platform;
  cloud.init({ env: cloud.DYNAMIC_CURRENT_ENV as unknown as string });
  const db = cloud.database({ throwOnNotFound: false } as never) as unknown as CloudDatabase;
  platform = {
    store: createCloudBaseStore(db),
    async callFunction<T>(name: string, data: Record<string, unknown>): Promise<T> {
      const response = (await cloud.callFunction({ name, data } as never)) as { result?: unknown } | undefined;
      return unwrapEnvelope<T>(name, response?.result);
    },
    getWXContext: () => cloud.getWXContext() as Record<string, unknown>,
  };
  return platform;
}

/** Turns `{ ok, data }` / `{ ok: false, error }` from one of our functions into a value or a typed error. */
export function unwrapEnvelope<T>(functionName: string, result: unknown): T {
  const envelope = result as { ok?: unknown; data?: unknown; error?: { code?: unknown; message?: unknown } } | undefined;
  if (envelope?.ok === true) return envelope.data as T;
  if (envelope?.ok === false && envelope.error) {
    const code = (Object.values(ErrorCode) as string[]).includes(String(envelope.error.code))
      ? (envelope.error.code as ErrorCode)
      : ErrorCode.INTERNAL;
    throw new RemoteFunctionError(functionName, code, String(envelope.error.message ?? 'failed'));
  }
  throw new RemoteFunctionError(functionName, ErrorCode.INTERNAL, 'answered without a result envelope');
}
