import { createLogger, registerSecret } from '../../shared/log';

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
});
