/**
 * The audit trail: one document per change (and per sign-in, sign-out and refused sign-in), written
 * before the change is answered. `_id`s sort by time, so the newest entries are one ordered query.
 */
import { randomBytes } from 'node:crypto';
import { clip } from '../echo';
import { COLLECTIONS, type DocumentStore } from '../store/port';
import type { AuditDoc } from './model';

export type AuditEntry = Omit<AuditDoc, '_id' | 'atMs' | 'detail'> & { detail?: AuditDoc['detail'] };

/** Writes one entry and returns it. Fields are clipped: an entry never carries a caller's megabyte. */
export async function writeAudit(store: DocumentStore, entry: AuditEntry, nowMs: number): Promise<AuditDoc> {
  const detail: AuditDoc['detail'] = {};
  for (const [key, value] of Object.entries(entry.detail ?? {}).slice(0, 20)) {
    detail[clip(key, 40)] = typeof value === 'string' ? clip(value, 200) : value;
  }
  const doc: AuditDoc = {
    _id: `${nowMs.toString(36).padStart(9, '0')}-${randomBytes(6).toString('hex')}`,
    atMs: nowMs,
    actor: clip(entry.actor, 64),
    action: clip(entry.action, 64),
    target: clip(entry.target, 160),
    outcome: entry.outcome,
    ip: clip(entry.ip, 64),
    detail,
  };
  await store.insert(COLLECTIONS.consoleAudit, { ...doc });
  return doc;
}

/** The newest entries first. */
export function recentAudit(store: DocumentStore, limit = 100): Promise<AuditDoc[]> {
  return store.find<AuditDoc>(COLLECTIONS.consoleAudit, {}, { limit, orderBy: { field: 'atMs', direction: 'desc' } });
}
