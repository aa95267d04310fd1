import { flagValue, parseArgs, UsageError, type CommandSpec } from '../../scripts/lib/cli';

const SPECS: Record<string, CommandSpec> = {
  create: { values: ['logo'], switches: ['register'] },
  show: {},
};

describe('the operator CLIs\' argument parser', () => {
  it.each([
    { case: 'global flags first', argv: ['--local', '--json', 'create', 'a.json', '--logo', 'l.png'] },
    { case: 'global flags anywhere', argv: ['create', 'a.json', '--logo', 'l.png', '--json', '--local'] },
  ])('reads $case the same way', ({ argv }) => {
    const parsed = parseArgs(argv, SPECS);

    expect(parsed).toMatchObject({ localUrl: `http://127.0.0.1:${process.env.PORT ?? 3000}`, json: true, command: 'create', positional: ['a.json'] });
    expect(flagValue(parsed, 'logo')).toBe('l.png');
  });

  it('takes a URL after --local and drops its trailing slash', () => {
    expect(parseArgs(['--local', 'http://127.0.0.1:3001/', 'show', 'x'], SPECS)).toMatchObject({ localUrl: 'http://127.0.0.1:3001', positional: ['x'] });
  });

  it('keeps a positional that repeats the command name', () => {
    expect(parseArgs(['show', 'show'], SPECS).positional).toEqual(['show']);
  });

  it.each([
    { case: 'an unknown command', argv: ['crate', 'a.json'], message: 'Unknown command crate' },
    { case: 'an unknown flag', argv: ['create', 'a.json', '--regster'], message: 'create has no flag --regster' },
    { case: 'a value flag without its value', argv: ['create', 'a.json', '--logo'], message: '--logo needs a value' },
    { case: 'a value flag followed by a flag', argv: ['create', '--logo', '--register'], message: '--logo needs a value' },
  ])('refuses $case by name', ({ argv, message }) => {
    expect(() => parseArgs(argv, SPECS)).toThrow(new UsageError(message));
  });
});
