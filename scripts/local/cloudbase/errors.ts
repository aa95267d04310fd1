/** Error codes the local CloudBase answers with, spelled as the real service spells them. */
export const CLOUDBASE_ERROR_CODES = {
  INVALID_PARAM: 'INVALID_PARAM',
  SYS_ERR: 'SYS_ERR',
  DATABASE_REQUEST_FAILED: 'DATABASE_REQUEST_FAILED',
  DATABASE_COLLECTION_NOT_EXIST: 'DATABASE_COLLECTION_NOT_EXIST',
  // Not in wx-server-sdk's TCB_ERR_CODE table (so it surfaces there as -501001); the spelling is a guess.
  DATABASE_COLLECTION_ALREADY_EXIST: 'DATABASE_COLLECTION_ALREADY_EXIST',
  DATABASE_DUPLICATE_WRITE: 'DATABASE_DUPLICATE_WRITE',
  DATABASE_TRANSACTION_CONFLICT: 'DATABASE_TRANSACTION_CONFLICT',
  DATABASE_TRANSACTION_FAIL: 'DATABASE_TRANSACTION_FAIL',
  FUNCTIONS_EXECUTE_FAIL: 'FUNCTIONS_EXECUTE_FAIL',
} as const;

/** One of {@link CLOUDBASE_ERROR_CODES}. */
export type CloudBaseErrorCode = (typeof CLOUDBASE_ERROR_CODES)[keyof typeof CLOUDBASE_ERROR_CODES];

/** A failure answered to the SDK as `{code, message, requestId}` with HTTP 200, like the real service. */
export class CloudBaseError extends Error {
  override readonly name = 'CloudBaseError';

  constructor(
    readonly code: CloudBaseErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
