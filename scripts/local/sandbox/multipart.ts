/**
 * A small multipart/form-data reader for uploadimg (no parser is installed and the sandbox needs
 * only whole, already-buffered bodies). It follows RFC 7578: parts separated by `--boundary`
 * lines, headers up to an empty line, content up to the CRLF before the next delimiter.
 */

/** One form part. */
export interface FormPart {
  readonly name: string;
  readonly filename: string | undefined;
  readonly data: Buffer;
}

const CRLF = '\r\n';
const HEADER_END = '\r\n\r\n';

/** The form parts of a body, or undefined when it is not well-formed multipart/form-data. */
export function parseMultipart(body: Buffer, contentType: string | undefined): FormPart[] | undefined {
  const boundary = /^multipart\/form-data;.*\bboundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType ?? '');
  const boundaryText = boundary?.[1] ?? boundary?.[2];
  if (boundaryText === undefined) return undefined;
  const delimiter = Buffer.from(`--${boundaryText}`);
  const nextDelimiter = Buffer.from(`${CRLF}--${boundaryText}`);
  let position = body.indexOf(delimiter);
  if (position === -1) return undefined;
  const parts: FormPart[] = [];
  // Every pass moves `position` forward past a delimiter, so the loop ends with the body.
  for (;;) {
    position += delimiter.length;
    if (body.subarray(position, position + 2).toString('latin1') === '--') return parts;
    if (body.subarray(position, position + 2).toString('latin1') !== CRLF) return undefined;
    const headerEnd = body.indexOf(HEADER_END, position);
    if (headerEnd === -1) return undefined;
    const disposition = contentDisposition(body.subarray(position + 2, headerEnd).toString('utf8'));
    const contentStart = headerEnd + HEADER_END.length;
    const contentEnd = body.indexOf(nextDelimiter, contentStart);
    if (disposition === undefined || contentEnd === -1) return undefined;
    parts.push({ ...disposition, data: body.subarray(contentStart, contentEnd) });
    position = contentEnd + CRLF.length;
  }
}

function contentDisposition(headers: string): { name: string; filename: string | undefined } | undefined {
  const line = headers.split(CRLF).find((header) => /^content-disposition:/i.test(header));
  if (line === undefined) return undefined;
  const name = /;\s*name="([^"]*)"/i.exec(line)?.[1];
  if (name === undefined) return undefined;
  return { name, filename: /;\s*filename="([^"]*)"/i.exec(line)?.[1] };
}
