/**
 * `keys erase` and `keys abandon` take the key's name twice: a --confirm that does not repeat --key is a usage
 * error before any daemon is asked (none runs here).
 */
import { test } from 'node:test';
import { assertOneLineError, frostnet } from './helpers.ts';

test('keys erase and keys abandon refuse a --confirm that is not the key name, naming the command', async () => {
  for (const cmd of ['erase', 'abandon']) {
    const r = await frostnet([
      'keys',
      cmd,
      '--key',
      'vault',
      '--confirm',
      'vaul',
      '--data-dir',
      '/nonexistent',
    ]);
    assertOneLineError(
      r,
      2,
      new RegExp(`--confirm must repeat the key name given to --key — see "frostnet keys ${cmd} --help"`),
    );
  }
});
