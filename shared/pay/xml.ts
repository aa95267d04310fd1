/**
 * The WeChat Pay v2 XML codec and reply-signature check (reference/wechat-api.md §6).
 * https://pay.weixin.qq.com/wiki/doc/api/tools/cash_coupon.php?chapter=4_3
 */
import { Parser } from 'xml2js';
import { InputError, PayXmlError } from '../errors';
import { safeEqual } from '../signing/compare';
import { isPayFieldName, payScalarText, payV2Sign, type PayV2Params, type PayV2SignType } from '../signing/pay';

/** A parsed Pay v2 document: every field's text, by element name. */
export type PayXmlFields = Record<string, string>;

/** A Pay v2 document whose named containers hold lists of flat records (gethbinfo's `hblist`). */
export interface PayXmlDocument {
  fields: PayXmlFields;
  lists: Record<string, PayXmlFields[]>;
}

/** Outcome of {@link verifyPayReplySign}. */
export type PayReplySignStatus =
  /** `sign` matches. */
  | 'valid'
  /** `sign` (or `sign_type`) is present but wrong: treat the reply as forged or corrupted. */
  | 'invalid'
  /** No `sign` at all: normal for red-packet replies (sendredpack, sendminiprogramhb, gethbinfo). */
  | 'unsigned';

/**
 * Largest document accepted. Pay replies are under 2 KB (a group packet's gethbinfo a few KB);
 * the bound stops a misrouted HTML page or a hostile body from costing a large parse.
 */
export const MAX_PAY_XML_CHARS = 64 * 1024;

// XML 1.0 forbids these; WeChat answers XML_ERROR for them, so refuse before sending.
const XML_FORBIDDEN_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

// '#' and '@' cannot start an XML name, so no element can collide with these xml2js keys.
const TEXT_KEY = '#text';
const ATTRIBUTES_KEY = '@attributes';

/**
 * `<xml>` with one element per field in the object's order: strings in CDATA, whole numbers
 * bare, `undefined` fields left out. Anything else (objects, arrays, booleans, null,
 * fractional numbers, invalid names or XML-illegal characters) is an {@link InputError}. The
 * layout (`<xml>\n<k>…</k>\n…</xml>`) is wechatpy's `dict_to_xml`.
 */
export function toPayXml(fields: PayV2Params): string {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new InputError('Pay XML fields must be an object', 'fields');
  }
  const lines = ['<xml>'];
  for (const [name, value] of Object.entries(fields)) {
    if (!isPayFieldName(name)) throw new InputError(`Pay field name ${JSON.stringify(name)} is not a valid XML name`, name);
    if (value === undefined) continue;
    const text = payScalarText(value, name);
    if (typeof value === 'number') {
      lines.push(`<${name}>${text}</${name}>`);
      continue;
    }
    if (XML_FORBIDDEN_CHARS.test(text)) throw new InputError(`Pay field ${name} contains characters XML cannot carry`, name);
    // "]]>" would end the CDATA section early; split it across two sections.
    lines.push(`<${name}><![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]></${name}>`);
  }
  lines.push('</xml>');
  return lines.join('\n');
}

/**
 * Signs `params` and serialises the very same object with its `sign`, so no field can be added
 * between signing and sending (JeffreySu/WeiXinMPSDK#285: scene_id added after signing).
 */
export function signedPayXml(params: PayV2Params, apiKey: string, signType: PayV2SignType = 'MD5'): string {
  if (typeof params === 'object' && params !== null && 'sign' in params) {
    throw new InputError('params must not contain sign: it is computed here', 'sign');
  }
  return toPayXml({ ...params, sign: payV2Sign(params, apiKey, signType) });
}

/**
 * A flat Pay v2 document as `{ name: text }`. Rejects, with a {@link PayXmlError}: empty or
 * garbled input, DOCTYPE/ENTITY declarations, a root other than `<xml>`, content after the
 * root, attributes, nested or repeated elements, stray text in the root.
 */
export function parsePayXml(xml: string): PayXmlFields {
  const root = parseRoot(xml);
  return flatRecord(root, 'xml');
}

/**
 * Like {@link parsePayXml}, but the containers named in `lists` (container → item element,
 * e.g. `{ hblist: 'hbinfo' }` for gethbinfo) may hold repeated flat records.
 */
export function parsePayXmlWithLists(xml: string, lists: Readonly<Record<string, string>>): PayXmlDocument {
  const root = parseRoot(xml);
  const listed: Record<string, PayXmlFields[]> = {};
  const rest: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(root)) {
    const itemName = Object.hasOwn(lists, name) ? lists[name] : undefined;
    if (itemName === undefined) {
      rest[name] = value;
      continue;
    }
    listed[name] = listItems(value, name, itemName);
  }
  return { fields: flatRecord(rest, 'xml'), lists: listed };
}

/**
 * Checks a reply's `sign` in constant time. The algorithm is the reply's `sign_type` when it
 * has one, else `signType` (a reply to an HMAC-SHA256 request is signed with HMAC-SHA256 without
 * saying so). A reply whose `sign_type` contradicts the expected `signType` is 'invalid' rather
 * than verified with the weaker algorithm.
 */
export function verifyPayReplySign(reply: Readonly<PayXmlFields>, apiKey: string, signType?: PayV2SignType): PayReplySignStatus {
  const { sign, ...signed } = reply;
  if (sign === undefined || sign === '') return 'unsigned';
  const declared = reply.sign_type;
  if (declared !== undefined && declared !== 'MD5' && declared !== 'HMAC-SHA256') return 'invalid';
  if (declared !== undefined && signType !== undefined && declared !== signType) return 'invalid';
  const expected = payV2Sign(signed, apiKey, declared ?? signType ?? 'MD5');
  return safeEqual(expected, sign) ? 'valid' : 'invalid';
}

/** The children of `<xml>` as xml2js gives them (each an array), after the structural checks. */
function parseRoot(xml: unknown): Record<string, unknown> {
  if (typeof xml !== 'string') throw new PayXmlError('Pay XML must be a string');
  const body = xml.replace(/^\uFEFF/, '').trim();
  if (body.length === 0) throw new PayXmlError('Pay XML is empty');
  if (body.length > MAX_PAY_XML_CHARS) throw new PayXmlError('Pay XML is too large');
  // xml2js (sax) does not expand external entities, but a Pay reply never has a DTD, so any
  // declaration is hostile or a misrouted document; refuse before parsing.
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) throw new PayXmlError('Pay XML must not contain DOCTYPE or ENTITY declarations');
  // sax, as xml2js drives it, silently decodes HTML entities (&nbsp;, &copy;) that XML does not
  // define. Outside CDATA and comments only the five XML entities and character references are
  // legal; anything else means the body is not the XML WeChat writes.
  const markup = body.replace(/<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->/g, '');
  if (/&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)/.test(markup)) {
    throw new PayXmlError('Pay XML contains an entity reference XML does not define');
  }
  // xml2js stops at the end of the root and ignores what follows; require that nothing does
  // (a value holding the text </xml> is refused too: no Pay field carries one).
  const selfClosed = /^(?:<\?xml[^>]*\?>\s*)?<xml\s*\/>$/.test(body);
  if (!selfClosed && body.indexOf('</xml>') !== body.length - '</xml>'.length) {
    throw new PayXmlError('Pay XML must be a single <xml> root with nothing after it');
  }

  const parsed = parseWithXml2js(body);
  if (typeof parsed !== 'object' || parsed === null) throw new PayXmlError('Pay XML has no root element');
  const rootNames = Object.keys(parsed);
  if (rootNames.length !== 1 || rootNames[0] !== 'xml') throw new PayXmlError('Pay XML root must be <xml>');
  const root: unknown = (parsed as Record<string, unknown>).xml;
  if (typeof root === 'string') {
    if (root.trim() !== '') throw new PayXmlError('Pay XML root holds text instead of fields');
    return {};
  }
  if (typeof root !== 'object' || root === null) throw new PayXmlError('Pay XML root is malformed');
  return root as Record<string, unknown>;
}

function parseWithXml2js(body: string): unknown {
  const parser = new Parser({
    explicitRoot: true,
    explicitArray: true,
    charkey: TEXT_KEY,
    attrkey: ATTRIBUTES_KEY,
    trim: false,
    normalize: false,
    strict: true,
    async: false,
  });
  const outcomes: Array<{ error: unknown; result: unknown }> = [];
  // With async:false xml2js calls back synchronously; it may call twice (an error after a
  // result), so every call is recorded and any error wins.
  parser.parseString(body, (error: unknown, result: unknown) => {
    outcomes.push({ error, result });
  });
  const failed = outcomes.find((outcome) => outcome.error);
  if (failed) throw new PayXmlError('Pay XML is not well-formed', { cause: failed.error });
  const first = outcomes[0];
  if (first === undefined) throw new PayXmlError('Pay XML parser did not finish');
  return first.result;
}

/** A container of `{ element: [text] }` as a flat record; anything else is a PayXmlError. */
function flatRecord(node: Record<string, unknown>, where: string): PayXmlFields {
  const entries: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(node)) {
    if (name === TEXT_KEY) {
      if (typeof value === 'string' && value.trim() === '') continue;
      throw new PayXmlError(`<${where}> holds stray text between fields`);
    }
    if (name === ATTRIBUTES_KEY) throw new PayXmlError(`<${where}> must not carry attributes`);
    // A name that is not a Pay field name cannot be signed or re-sent.
    if (!isPayFieldName(name)) throw new PayXmlError(`<${where}> has an element name that is not a Pay field name`);
    // xml2js appends to an inherited property (constructor, toString…) instead of replacing
    // it, which also shows up here as a length other than 1.
    if (!Array.isArray(value) || value.length !== 1) throw new PayXmlError(`<${name}> is repeated or reserved`);
    const text: unknown = value[0];
    if (typeof text !== 'string') throw new PayXmlError(`<${name}> must hold text, not nested elements or attributes`);
    entries.push([name, text]);
  }
  // fromEntries defines own properties, so a field named __proto__ cannot reach the prototype.
  return Object.fromEntries(entries);
}

function listItems(value: unknown, container: string, itemName: string): PayXmlFields[] {
  if (!Array.isArray(value) || value.length !== 1) throw new PayXmlError(`<${container}> is repeated`);
  const inner: unknown = value[0];
  if (typeof inner === 'string' && inner.trim() === '') return [];
  if (typeof inner !== 'object' || inner === null) throw new PayXmlError(`<${container}> must hold <${itemName}> records`);
  const items: PayXmlFields[] = [];
  for (const [name, children] of Object.entries(inner)) {
    if (name === TEXT_KEY && typeof children === 'string' && children.trim() === '') continue;
    if (name !== itemName || !Array.isArray(children)) throw new PayXmlError(`<${container}> must hold only <${itemName}> records`);
    for (const child of children) {
      if (typeof child !== 'object' || child === null) throw new PayXmlError(`<${itemName}> must hold fields`);
      items.push(flatRecord(child as Record<string, unknown>, itemName));
    }
  }
  return items;
}
