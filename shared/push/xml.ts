/**
 * The XML of official-account pushes and passive replies (reference/official-accounts.md §2.3,
 * §2.6, §3): `<xml>` with one element per field, strings in CDATA. Pushes come from the internet
 * before (plain mode) or right after (safe mode) their signature is checked, so the parser is
 * hardened like WxJava's (`disallow-doctype-decl`): no DTD, no entity WeChat does not write, one
 * root and nothing after it, a bounded size, no repeated field.
 */
import { Parser } from 'xml2js';
import { InputError } from '../errors';

/** Largest push accepted. Events are well under 2 KB; a compatible-mode push is about three times its plain size. */
export const MAX_PUSH_XML_CHARS = 64 * 1024;

/** A parsed push: each top-level text field by element name. Nested containers (menu events' ScanCodeInfo…) are left out. */
export type PushFields = Readonly<Record<string, string>>;

// XML 1.0 forbids these characters; a reply carrying one would be refused by WeChat.
const XML_FORBIDDEN_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
const TEXT_KEY = '#text';
const ATTRIBUTES_KEY = '@attributes';
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** A push body that is not the XML WeChat writes (400; nothing is stored). */
export class PushXmlError extends InputError {
  constructor(message: string) {
    super(message, 'body');
  }
}

/**
 * The top-level fields of a push document. Refused with {@link PushXmlError}: empty or garbled
 * input, DOCTYPE/ENTITY declarations (no entity is ever expanded), entity references XML does not
 * define, a root other than `<xml>`, anything after the root, attributes, a repeated field, stray
 * text, a document over {@link MAX_PUSH_XML_CHARS}.
 */
export function parsePushXml(xml: string): PushFields {
  if (typeof xml !== 'string') throw new PushXmlError('The push must be XML text');
  const body = xml.replace(/^\uFEFF/, '').trim();
  if (body.length === 0) throw new PushXmlError('The push body is empty');
  if (body.length > MAX_PUSH_XML_CHARS) throw new PushXmlError('The push body is too large');
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.test(body)) throw new PushXmlError('The push must not carry a DTD');
  // sax (under xml2js) would decode HTML entities XML does not define; WeChat never writes them.
  const markup = body.replace(/<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->/g, '');
  if (/&(?!(?:amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});)/.test(markup)) throw new PushXmlError('The push has an entity reference XML does not define');
  if (/<\?(?!xml[\s?])/i.test(markup)) throw new PushXmlError('The push has a processing instruction');
  // xml2js stops at the end of the first root and ignores what follows: require one root, closed last.
  const closing = markup.trim();
  if (closing.indexOf('</xml>') !== closing.length - '</xml>'.length) throw new PushXmlError('The push must be one <xml> root with nothing after it');

  const parsed = parseStrict(body);
  if (typeof parsed !== 'object' || parsed === null || Object.keys(parsed).length !== 1 || !('xml' in parsed)) {
    throw new PushXmlError('The push root must be <xml>');
  }
  const root: unknown = (parsed as Record<string, unknown>).xml;
  if (typeof root === 'string') {
    if (root.trim() !== '') throw new PushXmlError('The push root holds text instead of fields');
    return {};
  }
  if (typeof root !== 'object' || root === null) throw new PushXmlError('The push root is malformed');
  const fields: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(root)) {
    if (name === TEXT_KEY) {
      if (typeof value === 'string' && value.trim() === '') continue;
      throw new PushXmlError('The push root holds stray text between fields');
    }
    if (name === ATTRIBUTES_KEY) throw new PushXmlError('The push root must not carry attributes');
    if (!FIELD_NAME.test(name)) throw new PushXmlError('The push has an element name WeChat does not write');
    // Two FromUserName elements would let a forger pick which one a reader takes.
    if (!Array.isArray(value) || value.length !== 1) throw new PushXmlError(`The push repeats <${name}>`);
    const item: unknown = value[0];
    if (typeof item === 'string') fields.push([name, item]);
    else if (typeof item === 'object' && item !== null && !(ATTRIBUTES_KEY in item)) continue; // a nested container: not read here
    else throw new PushXmlError(`<${name}> is malformed`);
  }
  return Object.fromEntries(fields);
}

function parseStrict(body: string): unknown {
  const parser = new Parser({ explicitRoot: true, explicitArray: true, charkey: TEXT_KEY, attrkey: ATTRIBUTES_KEY, trim: false, normalize: false, strict: true, async: false });
  const outcomes: Array<{ error: unknown; result: unknown }> = [];
  // With async:false xml2js answers synchronously, possibly twice (an error after a result): any error wins.
  parser.parseString(body, (error: unknown, result: unknown) => {
    outcomes.push({ error, result });
  });
  if (outcomes.some((outcome) => outcome.error) || outcomes.length === 0) throw new PushXmlError('The push is not well-formed XML');
  return outcomes[0]!.result;
}

/** A passive reply (被动回复): text, or one news article (WeChat limits news replies to one since 2018, 45008 beyond). */
export type PassiveReply =
  | { type: 'text'; content: string }
  | { type: 'news'; title: string; description: string; picUrl: string; url: string };

/** Longest text reply accepted: WeChat documents 2048 bytes for customer-service text; passive replies are kept under it. */
export const MAX_REPLY_TEXT_BYTES = 2048;

/**
 * The reply XML (reference/official-accounts.md §2.6): the user and the account swap places, strings
 * in CDATA (`]]>` split across two sections), CreateTime in seconds.
 */
export function passiveReplyXml(reply: PassiveReply, to: { userOpenid: string; accountOriginalId: string; createTimeSeconds: number }): string {
  const head = [
    `<ToUserName>${cdata(to.userOpenid)}</ToUserName>`,
    `<FromUserName>${cdata(to.accountOriginalId)}</FromUserName>`,
    `<CreateTime>${Math.floor(to.createTimeSeconds)}</CreateTime>`,
  ];
  if (reply.type === 'text') {
    return ['<xml>', ...head, `<MsgType>${cdata('text')}</MsgType>`, `<Content>${cdata(reply.content)}</Content>`, '</xml>'].join('');
  }
  const item = [
    `<Title>${cdata(reply.title)}</Title>`,
    `<Description>${cdata(reply.description)}</Description>`,
    `<PicUrl>${cdata(reply.picUrl)}</PicUrl>`,
    `<Url>${cdata(reply.url)}</Url>`,
  ].join('');
  return ['<xml>', ...head, `<MsgType>${cdata('news')}</MsgType>`, '<ArticleCount>1</ArticleCount>', `<Articles><item>${item}</item></Articles>`, '</xml>'].join('');
}

/** Checks a reply an operator configures: lengths WeChat accepts, characters XML can carry, http(s) links. */
export function validatePassiveReply(value: unknown): PassiveReply {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InputError('A reply must be an object', 'reply');
  const reply = value as Record<string, unknown>;
  const text = (field: string, maxChars: number, required = true): string => {
    const item = reply[field];
    if (item === undefined && !required) return '';
    if (typeof item !== 'string' || (required && item.trim() === '')) throw new InputError(`reply.${field} must be text`, field);
    if (item.length > maxChars) throw new InputError(`reply.${field} must be at most ${maxChars} characters`, field);
    if (XML_FORBIDDEN_CHARS.test(item)) throw new InputError(`reply.${field} has characters XML cannot carry`, field);
    return item;
  };
  const link = (field: string, required: boolean): string => {
    const item = text(field, 1024, required);
    if (item !== '' && !/^https?:\/\/[^\s<>"]+$/.test(item)) throw new InputError(`reply.${field} must be an http(s) URL`, field);
    return item;
  };
  if (reply.type === 'text') {
    const allowed = ['type', 'content'];
    const unknown = Object.keys(reply).filter((key) => !allowed.includes(key));
    if (unknown.length > 0) throw new InputError(`A text reply has only type and content`, unknown[0]);
    const content = text('content', MAX_REPLY_TEXT_BYTES);
    if (Buffer.byteLength(content, 'utf8') > MAX_REPLY_TEXT_BYTES) throw new InputError(`reply.content must be at most ${MAX_REPLY_TEXT_BYTES} bytes`, 'content');
    return { type: 'text', content };
  }
  if (reply.type === 'news') {
    const allowed = ['type', 'title', 'description', 'picUrl', 'url'];
    const unknown = Object.keys(reply).filter((key) => !allowed.includes(key));
    if (unknown.length > 0) throw new InputError(`A news reply has only type, title, description, picUrl and url`, unknown[0]);
    return { type: 'news', title: text('title', 64), description: text('description', 120, false), picUrl: link('picUrl', false), url: link('url', true) };
  }
  throw new InputError('reply.type must be text or news', 'type');
}

function cdata(value: string): string {
  if (XML_FORBIDDEN_CHARS.test(value)) throw new InputError('A reply field has characters XML cannot carry');
  return `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}
