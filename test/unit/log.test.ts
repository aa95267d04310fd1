import { createLogger, MAX_LOG_LINE_CHARS, registerSecret } from '../../shared/log';

describe('createLogger', () => {
  function capture() {
    const lines: string[] = [];
    const log = createLogger({ fn: 'test' }, { write: (line) => void lines.push(line), now: () => 0 });
    return { lines, log };
  }

  it('drops fields whose names look secret', () => {
    const { lines, log } = capture();
    log.info('x', { accessToken: 'abc', apiKey: 'k', appSecret: 's', nested: { ticket: 't', ok: 1 }, version: 3 });
    const record = JSON.parse(lines[0]!);
    expect(record).toMatchObject({ accessToken: '[redacted]', apiKey: '[redacted]', appSecret: '[redacted]', nested: { ticket: '[redacted]', ok: 1 }, version: 3 });
  });

  it('masks a registered secret wherever it appears, errors and messages included', () => {
    const secret = 'TOKEN-0123456789-abcdefghij';
    registerSecret(secret);
    const { lines, log } = capture();
    log.error(`call with ${secret} failed`, { error: new Error(`upstream said ${secret}`), detail: [`x${secret}y`] });
    expect(lines.join('\n')).not.toContain(secret);
    expect(lines[0]).toContain('[redacted]');
  });

  it('respects the level', () => {
    const lines: string[] = [];
    const log = createLogger({}, { level: 'warn', write: (line) => void lines.push(line) });
    log.info('hidden');
    log.warn('shown');
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(['shown']);
  });

  it('cuts a 1 MB value, a 1 MB field name and a 1 MB message to bounded lengths', () => {
    const { lines, log } = capture();
    const huge = 'x'.repeat(1024 * 1024);
    log.warn(huge, { [huge]: 1, value: huge, error: new Error(`bad ${huge}`) });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(MAX_LOG_LINE_CHARS);
    const record = JSON.parse(lines[0]!);
    expect(record.value).toMatch(/^x{2000}…\(1048576 chars\)$/);
    expect(Object.keys(record).some((key) => key.startsWith('xxxx') && key.length < 100)).toBe(true);
  });

  it('keeps a line bounded when many fields are each at their bound', () => {
    const { lines, log } = capture();
    const fields = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}`, 'y'.repeat(5_000)]));
    log.info('many', fields);
    expect(lines[0]!.length).toBeLessThanOrEqual(MAX_LOG_LINE_CHARS);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', msg: 'many', fn: 'test', truncated: expect.any(String) });
  });

  it('masks a secret before cutting, so no part of it survives at the cut', () => {
    const secret = 'SECRET-abcdefghijklmnopqrstuvwxyz';
    registerSecret(secret);
    const { lines, log } = capture();
    log.info('x', { value: `${'z'.repeat(1_990)}${secret}` });
    expect(lines[0]).not.toContain('SECRET-abc');
  });
});
