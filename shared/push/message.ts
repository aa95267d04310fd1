/**
 * A verified push as the product reads it (reference/official-accounts.md §3; wechat-api.md §3
 * card events): the common header, what kind of event it is, and the key that makes a retry or a
 * replay of the same push recognisable.
 * https://developers.weixin.qq.com/doc/service/Account_Management/Wechat_Accreditation_Event_Push.html
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors';
import type { PushFields } from './xml';

/** What the receiver does something with; anything else is recorded and answered `success`. */
export type PushEvent =
  /** A follow; `scene` is the parametric QR code's scene (EventKey `qrscene_…` without the prefix). */
  | { kind: 'subscribe'; scene: string | null; ticket: string | null }
  | { kind: 'unsubscribe' }
  /** A follower scanned a parametric QR code (EventKey is the raw scene). */
  | { kind: 'scan'; scene: string; ticket: string | null }
  | {
      kind: 'user_get_card';
      cardId: string;
      code: string;
      unionId: string | null;
      outerStr: string | null;
      /** Received from a friend (转赠): the friend's openid. */
      friendOpenid: string | null;
      /** The giver's code when the card was given by a friend. */
      oldCode: string | null;
    }
  | { kind: 'user_del_card'; cardId: string; code: string }
  | { kind: 'user_gifting_card'; cardId: string; code: string }
  | { kind: 'user_consume_card'; cardId: string; code: string; consumeSource: string | null; outerStr: string | null }
  /** A user's message (text, image…): deduplicated by MsgId, answered `success`. */
  | { kind: 'message'; msgType: string }
  | { kind: 'other'; event: string };

export interface PushMessage {
  /** The account's 原始ID (gh_…). */
  toUserName: string;
  /** The user's openid under the account. */
  fromUserName: string;
  /** WeChat's time of the event, in seconds. */
  createTimeSeconds: number;
  msgType: string;
  /** 64-bit message id of user messages, as text. */
  msgId: string | null;
  event: PushEvent;
  /**
   * Identifies this push among the account's pushes: MsgId for messages; for events FromUserName +
   * CreateTime (WeChat's documented rule) plus Event, EventKey and the card code, because CreateTime
   * has one-second resolution and one wx.addCard of two cards sends two events in the same second.
   */
  dedupeKey: string;
}

const OPENID = /^[A-Za-z0-9_-]{1,64}$/;
const ORIGINAL_ID = /^gh_[0-9a-f]{12}$/;
const TOKEN_LIKE = /^[\x21-\x7e]{1,128}$/;

/** Reads the header and the event; missing or malformed header fields are an InputError (400, nothing stored). */
export function readPushMessage(fields: PushFields): PushMessage {
  const toUserName = required(fields, 'ToUserName', ORIGINAL_ID);
  const fromUserName = required(fields, 'FromUserName', OPENID);
  const createTime = required(fields, 'CreateTime', /^\d{1,12}$/);
  const msgType = required(fields, 'MsgType', /^[a-z_]{1,32}$/);
  const msgId = fields.MsgId === undefined || fields.MsgId === '' ? null : required(fields, 'MsgId', /^\d{1,20}$/);
  const event = msgType === 'event' ? readEvent(fields) : ({ kind: 'message', msgType } as const);
  const material = msgId !== null
    ? ['msg', msgId]
    : ['evt', fromUserName, createTime, fields.Event ?? '', fields.EventKey ?? '', fields.CardId ?? '', fields.UserCardCode ?? ''];
  return {
    toUserName,
    fromUserName,
    createTimeSeconds: Number(createTime),
    msgType,
    msgId,
    event,
    dedupeKey: createHash('sha256').update(material.join('\n')).digest('base64url').slice(0, 32),
  };
}

function readEvent(fields: PushFields): PushEvent {
  const name = required(fields, 'Event', /^[A-Za-z_]{1,64}$/);
  const eventKey = optional(fields, 'EventKey');
  const ticket = optional(fields, 'Ticket');
  switch (name) {
    case 'subscribe':
      // A plain follow has no EventKey or an empty one; a follow through a parametric code carries qrscene_<scene>.
      return { kind: 'subscribe', scene: eventKey?.startsWith('qrscene_') ? sceneOf(eventKey.slice('qrscene_'.length)) : null, ticket };
    case 'unsubscribe':
      return { kind: 'unsubscribe' };
    case 'SCAN':
      return { kind: 'scan', scene: sceneOf(eventKey ?? ''), ticket };
    case 'user_get_card':
      return {
        kind: 'user_get_card',
        cardId: cardIdOf(fields),
        code: codeOf(fields, 'UserCardCode'),
        unionId: optional(fields, 'UnionId', OPENID),
        outerStr: optional(fields, 'OuterStr', TOKEN_LIKE),
        friendOpenid: fields.IsGiveByFriend === '1' ? optional(fields, 'FriendUserName', OPENID) : null,
        oldCode: fields.IsGiveByFriend === '1' ? optional(fields, 'OldUserCardCode', /^[0-9A-Za-z]{1,32}$/) : null,
      };
    case 'user_del_card':
      return { kind: 'user_del_card', cardId: cardIdOf(fields), code: codeOf(fields, 'UserCardCode') };
    case 'user_gifting_card':
      return { kind: 'user_gifting_card', cardId: cardIdOf(fields), code: codeOf(fields, 'UserCardCode') };
    case 'user_consume_card':
      return {
        kind: 'user_consume_card',
        cardId: cardIdOf(fields),
        code: codeOf(fields, 'UserCardCode'),
        consumeSource: optional(fields, 'ConsumeSource', /^[A-Z_]{1,32}$/),
        outerStr: optional(fields, 'OuterStr', TOKEN_LIKE),
      };
    default:
      return { kind: 'other', event: name };
  }
}

/** Scenes are scene_str (1–64 characters) or scene_id digits; anything else is not one of WeChat's. */
function sceneOf(value: string): string {
  if (!/^[\x21-\x7e]{1,64}$/.test(value)) throw new InputError('EventKey is not a QR scene', 'EventKey');
  return value;
}

function cardIdOf(fields: PushFields): string {
  return required(fields, 'CardId', /^[0-9A-Za-z_-]{1,64}$/);
}

function codeOf(fields: PushFields, name: string): string {
  return required(fields, name, /^[0-9A-Za-z]{1,32}$/);
}

function required(fields: PushFields, name: string, pattern: RegExp): string {
  const value = fields[name];
  if (value === undefined || !pattern.test(value)) throw new InputError(`The push has no valid ${name}`, name);
  return value;
}

function optional(fields: PushFields, name: string, pattern?: RegExp): string | null {
  const value = fields[name];
  if (value === undefined || value === '') return null;
  if (pattern !== undefined && !pattern.test(value)) throw new InputError(`The push has a malformed ${name}`, name);
  return value;
}
