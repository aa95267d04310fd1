/**
 * The `MCHTRANSFER.BILL.FINISHED` notify (reference/pay-v3-transfer.md §3): verified over the raw
 * body bytes with the WeChat Pay key its `Wechatpay-Serial` names, within 300 s, probes refused,
 * then the resource decrypted with the APIv3 key. What the notify says is a claim to check
 * against the merchant's own record (and, when in doubt, a query), never an order to pay.
 */
import { CryptoError, InputError, SignatureError } from '../../errors';
import { decryptAeadAesGcm, verifyPayV3Signature, type PayV3VerifyFailure } from '../../signing/pay-v3';
import type { PayV3Keys } from './keys';
import { FINAL_TRANSFER_STATES, isTransferState, type TransferState } from './policy';

/** The event this product subscribes to. */
export const TRANSFER_BILL_FINISHED_EVENT = 'MCHTRANSFER.BILL.FINISHED';

/** A notify that verified and decrypted. */
export interface TransferBillNotice {
  /** The notify id (the same on every retry of one notify). */
  id: string;
  createTime: string;
  summary: string;
  bill: {
    mchId: string;
    outBillNo: string;
    transferBillNo: string;
    /** SUCCESS, FAIL or CANCELLED: only final states are notified. */
    state: TransferState;
    amountFen: number;
    openid: string;
    failReason: string | undefined;
    createTime: string;
    updateTime: string;
  };
}

/** A notify whose signature does not verify; `reason` is for logs, the answer to the sender is the same for all. */
export class PayV3NotifySignatureError extends SignatureError {
  readonly reason: PayV3VerifyFailure;
  constructor(reason: PayV3VerifyFailure) {
    super(`transfer notify signature not verified: ${reason}`);
    this.reason = reason;
  }
}

/**
 * Verifies, decrypts and checks a transfer notify. `headers` as the HTTP layer hands them over
 * (any case); `body` the raw bytes — a re-serialised object never verifies. Throws
 * {@link PayV3NotifySignatureError}, a CryptoError (wrong APIv3 key, tampered resource) or an
 * InputError (not a transfer notify, or fields missing).
 */
export function parseTransferBillNotify(
  input: { headers: Readonly<Record<string, string | string[] | undefined>>; body: string | Buffer },
  keys: PayV3Keys,
  nowMs: number,
): TransferBillNotice {
  const header = (name: string): string | undefined => {
    const entry = Object.entries(input.headers).find(([key]) => key.toLowerCase() === name);
    const value = Array.isArray(entry?.[1]) ? entry[1][0] : entry?.[1];
    return typeof value === 'string' ? value : undefined;
  };
  const verification = verifyPayV3Signature({
    timestamp: header('wechatpay-timestamp'),
    nonce: header('wechatpay-nonce'),
    signature: header('wechatpay-signature'),
    serial: header('wechatpay-serial'),
    body: input.body,
  }, { publicKeys: keys.verifyingKeys, nowMs });
  if (!verification.ok) throw new PayV3NotifySignatureError(verification.reason);

  const notify = parseJsonObject(typeof input.body === 'string' ? input.body : input.body.toString('utf8'), 'the notify body');
  if (notify.event_type !== TRANSFER_BILL_FINISHED_EVENT) throw new InputError(`not a ${TRANSFER_BILL_FINISHED_EVENT} notify`, 'event_type');
  const resource = notify.resource;
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) throw new InputError('the notify has no resource', 'resource');
  const { algorithm, ciphertext, nonce, associated_data: associatedData } = resource as Record<string, unknown>;
  if (algorithm !== 'AEAD_AES_256_GCM') throw new CryptoError(`unsupported resource algorithm ${JSON.stringify(algorithm)}`);
  if (typeof ciphertext !== 'string' || typeof nonce !== 'string') throw new InputError('the resource lacks ciphertext or nonce', 'resource');
  const plaintext = decryptAeadAesGcm({ key: keys.apiV3Key, nonce, associatedData: typeof associatedData === 'string' ? associatedData : '', ciphertext });
  const bill = parseJsonObject(plaintext, 'the decrypted resource');

  const state = bill.state;
  if (!isTransferState(state) || !FINAL_TRANSFER_STATES.has(state)) throw new InputError(`the notify carries state ${JSON.stringify(state)}, not a final one`, 'state');
  const amount = bill.transfer_amount;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount)) throw new InputError('the notify has no whole transfer_amount', 'transfer_amount');
  // IM lists both mch_id and mchid for this resource.
  const mchId = stringField(bill.mch_id) ?? stringField(bill.mchid);
  if (mchId !== keys.mchId) throw new InputError('the notify is for another merchant', 'mch_id');
  const outBillNo = stringField(bill.out_bill_no);
  const transferBillNo = stringField(bill.transfer_bill_no);
  const openid = stringField(bill.openid);
  if (outBillNo === undefined || transferBillNo === undefined || openid === undefined) throw new InputError('the notify lacks the bill numbers or the openid', 'resource');
  return {
    id: stringField(notify.id) ?? '',
    createTime: stringField(notify.create_time) ?? '',
    summary: stringField(notify.summary) ?? '',
    bill: {
      mchId,
      outBillNo,
      transferBillNo,
      state,
      amountFen: amount,
      openid,
      failReason: stringField(bill.fail_reason),
      createTime: stringField(bill.create_time) ?? '',
      updateTime: stringField(bill.update_time) ?? '',
    },
  };
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InputError(`${what} is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InputError(`${what} is not a JSON object`);
  return parsed as Record<string, unknown>;
}

function stringField(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
