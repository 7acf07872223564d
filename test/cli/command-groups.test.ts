/** The command groups (cli/command-groups.ts): a call finds its command by the first word alone. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allCommands, commandsStartingWith, GROUPS } from '../../cli/command-groups.ts';
import { frostnet } from './helpers.ts';

const firstWord = (name: string) => name.split(' ')[0] ?? '';

test('each group lists exactly the first words of its commands', async () => {
  for (const g of GROUPS) {
    const { commands } = await g.load();
    assert.ok(commands.length > 0);
    assert.deepEqual(
      [...new Set(commands.map((c) => firstWord(c.name)))].sort(),
      [...g.words].sort(),
      commands.map((c) => c.name).join(', '),
    );
  }
});

test('the groups of a first word hold every command that starts with it; any other word loads them all', async () => {
  const all = await allCommands();
  assert.equal(new Set(all.map((c) => c.name)).size, all.length, 'no command name twice');
  for (const word of new Set(all.map((c) => firstWord(c.name)))) {
    const found = await commandsStartingWith(word);
    assert.deepEqual(
      found.filter((c) => firstWord(c.name) === word).map((c) => c.name),
      all.filter((c) => firstWord(c.name) === word).map((c) => c.name),
      word,
    );
    assert.ok(found.length < all.length, `${word} loads only its groups`);
  }
  assert.equal((await commandsStartingWith('no-such-command')).length, all.length);
});

test('a command split over two groups (keys, btc) is found whichever module defines it', async () => {
  for (const args of [
    ['keys', 'erase', '--help'],
    ['btc', 'recovery-status', '--help'],
    ['btc', '--help'],
  ]) {
    const r = await frostnet(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const group = await frostnet(['btc', '--help']);
  for (const verb of ['address', 'sign-psbt', 'recovery-status'])
    assert.match(group.stdout, new RegExp(`btc ${verb} `), 'the group help lists both modules');
});
