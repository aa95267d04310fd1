/** Pay v2 XML: the flat `<xml>` request parsed with xml2js, and replies written with CDATA. */
import { parseStringPromise } from 'xml2js';

/** The body is not a Pay v2 `<xml>` document; the reply is return_code FAIL. */
export class PayXmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayXmlError';
  }
}

/** A reply value: strings go in CDATA, numbers bare (WeChat's own style), nested nodes for `hblist`. */
export type XmlValue = string | number | XmlNode | XmlNode[];
/** An element's children in document order. */
export type XmlNode = { [name: string]: XmlValue | undefined };

// A DOCTYPE can declare entities (billion laughs, external files); Pay requests never carry one.
const FORBIDDEN_DECLARATION = /<!\s*(DOCTYPE|ENTITY)/i;

/**
 * Parses a request: one `<xml>` root of leaf elements. Duplicate fields, nested elements and
 * DOCTYPE/ENTITY declarations are refused, since each would let the signed and the used
 * values differ.
 */
export async function parsePayXml(body: Buffer): Promise<Record<string, string>> {
  const text = body.toString('utf8');
  if (text.trim() === '') throw new PayXmlError('post数据为空');
  if (FORBIDDEN_DECLARATION.test(text)) throw new PayXmlError('XML格式错误: DOCTYPE/ENTITY not allowed');
  let parsed: unknown;
  try {
    parsed = await parseStringPromise(text, { explicitArray: true, ignoreAttrs: true, explicitRoot: true, trim: false });
  } catch {
    throw new PayXmlError('XML格式错误');
  }
  const root = (parsed as Record<string, unknown> | null)?.xml;
  if (root === undefined) throw new PayXmlError('XML格式错误: the root element must be <xml>');
  // `<xml></xml>` parses to an empty string.
  if (typeof root === 'string') {
    if (root.trim() !== '') throw new PayXmlError('XML格式错误: text directly under <xml>');
    return {};
  }
  const fields: Record<string, string> = {};
  for (const [name, values] of Object.entries(root as Record<string, unknown>)) {
    if (!Array.isArray(values) || values.length !== 1) throw new PayXmlError(`XML格式错误: field ${name} appears more than once`);
    const value: unknown = values[0];
    if (typeof value !== 'string') throw new PayXmlError(`XML格式错误: field ${name} is not a plain value`);
    // Own property on a fresh object: a field named __proto__ stays data.
    Object.defineProperty(fields, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return fields;
}

/** A reply document: `<xml>` with one child per defined field, in the given order. */
export function buildPayXml(fields: XmlNode): string {
  return `<xml>\n${children(fields)}</xml>`;
}

function children(node: XmlNode): string {
  return Object.entries(node)
    .filter((entry): entry is [string, XmlValue] => entry[1] !== undefined)
    .map(([name, value]) => element(name, value))
    .join('');
}

function element(name: string, value: XmlValue): string {
  if (typeof value === 'number') return `<${name}>${value}</${name}>\n`;
  if (typeof value === 'string') return `<${name}>${cdata(value)}</${name}>\n`;
  // Repeated elements, like `<hbinfo>` under `<hblist>`.
  if (Array.isArray(value)) return value.map((item) => `<${name}>\n${children(item)}</${name}>\n`).join('');
  return `<${name}>\n${children(value)}</${name}>\n`;
}

// "]]>" cannot appear inside CDATA: close the section and reopen it around the ">".
function cdata(value: string): string {
  return `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}
