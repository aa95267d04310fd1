/**
 * CSV for spreadsheets, safe against formula injection: a cell that starts with `=`, `+`, `-`, `@`,
 * a tab or a carriage return is run as a formula by Excel, LibreOffice and Google Sheets (OWASP
 * "CSV Injection"), and openids, remarks and err_codes come from outside. Such a cell is prefixed
 * with `'`, which the spreadsheet shows as text; every cell is quoted, quotes doubled. The file
 * starts with a UTF-8 byte-order mark so that Excel reads Chinese text as UTF-8.
 */

const FORMULA_START = /^[=+\-@\t\r]/;

export type CsvCell = string | number | boolean | null | undefined;

/** One cell. Numbers stay numbers (a negative amount is a number, not a formula). */
export function csvCell(value: CsvCell): string {
  if (value === null || value === undefined) return '""';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '""';
  const text = String(value);
  const safe = FORMULA_START.test(text) ? `'${text}` : text;
  return `"${safe.replace(/"/g, '""')}"`;
}

/** A whole file: header row, then rows, CRLF line ends (RFC 4180). */
export function toCsv(header: readonly string[], rows: ReadonlyArray<readonly CsvCell[]>): string {
  const lines = [header.map((name) => csvCell(name)).join(','), ...rows.map((row) => row.map((cell) => csvCell(cell)).join(','))];
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
