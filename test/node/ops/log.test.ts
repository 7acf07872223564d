import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, type LogLevel } from '../../../node/ops/log.ts';
import { FrostnetError } from '../../../protocol/errors.ts';

const capture = (level: LogLevel = 'debug') => {
  const lines: string[] = [];
  const log = createLogger({
    level,
    stream: { write: (s: string) => lines.push(s) },
    now: () => new Date('2025-01-02T03:04:05.000Z'),
  });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
};

test('writes one JSON object per line with level, time, msg and fields', () => {
  const { log, lines, parsed } = capture();
  log.info('hello', { peer: 'p1', n: 3, absent: undefined });
  assert.equal(lines.length, 1);
  assert.ok(lines[0].endsWith('\n'));
  assert.deepEqual(parsed()[0], {
    level: 'info',
    time: '2025-01-02T03:04:05.000Z',
    msg: 'hello',
    peer: 'p1',
    n: 3,
  });
});

test('drops lines below the level', () => {
  const { log, parsed } = capture('warn');
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  assert.deepEqual(
    parsed().map((l) => l.level),
    ['warn', 'error'],
  );
  assert.equal(log.isEnabled('info'), false);
});

test('child loggers bind fields; line fields win; reserved keys cannot be overwritten', () => {
  const { log, parsed } = capture();
  const child = log.child({ session: 's1', peer: 'a' }).child({ round: 2 });
  child.info('m', { peer: 'b', msg: 'spoof', level: 'error' });
  assert.deepEqual(parsed()[0], {
    level: 'info',
    time: '2025-01-02T03:04:05.000Z',
    msg: 'm',
    session: 's1',
    peer: 'b',
    round: 2,
    msg_: 'spoof',
    level_: 'error',
  });
});

test('byte arrays print as a length placeholder, never their content', () => {
  const { log, lines } = capture();
  const bytes = new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x42]);
  log.info('bytes', { payload: bytes, nested: { deep: [Buffer.from(bytes)] }, ab: bytes.buffer });
  const line = JSON.parse(lines[0]);
  assert.equal(line.payload, '[5 bytes]');
  assert.deepEqual(line.nested, { deep: ['[5 bytes]'] });
  assert.equal(line.ab, '[5 bytes]');
  assert.doesNotMatch(lines[0], /dead|222|173|190/);
});

test('secret-looking field names are redacted whatever their type', () => {
  const { log, lines } = capture();
  log.info('x', { passphrase: 'hunter2', apiToken: 't0k', signingShare: 123n, inner: { privateKey: 'k' } });
  const line = JSON.parse(lines[0]);
  assert.equal(line.passphrase, '[redacted]');
  assert.equal(line.apiToken, '[redacted]');
  assert.equal(line.signingShare, '[redacted]');
  assert.deepEqual(line.inner, { privateKey: '[redacted]' });
  assert.doesNotMatch(lines[0], /hunter2|t0k|123/);
});

test('errors, bigints, cycles and odd values serialise safely', () => {
  const { log, lines } = capture();
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const err = new FrostnetError('UNREACHABLE', 'peer p is down', ['p']);
  log.error('boom', { err, big: 2n ** 70n, cyclic, nan: Number.NaN, fn: () => 1, when: new Date(0) });
  const line = JSON.parse(lines[0]);
  assert.deepEqual(line.err, {
    name: 'FrostnetError',
    message: 'peer p is down',
    code: 'UNREACHABLE',
    culprits: ['p'],
  });
  assert.equal(line.big, (2n ** 70n).toString());
  assert.deepEqual(line.cyclic, { a: 1, self: '[circular]' });
  assert.equal(line.nan, 'NaN');
  assert.equal(line.fn, '[function]');
  assert.equal(line.when, '1970-01-01T00:00:00.000Z');
  assert.doesNotMatch(lines[0], /at .*\.ts/); // no stack traces
});

test('a throwing sink does not throw into the caller', () => {
  const log = createLogger({
    stream: {
      write() {
        throw new Error('disk full');
      },
    },
  });
  assert.doesNotThrow(() => log.error('still fine'));
});
