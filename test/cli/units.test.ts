/** The CLI's pure parts: option parsing, error lines, combinations, addresses to share, party names. */
import assert from 'node:assert/strict';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { commandHelp, defineCommand, listOption, parseCommandArgs } from '../../cli/command.ts';
import { concreteListen, freePort, PORT_LEASE_MS, shareableAddrs } from '../../cli/listen.ts';
import { CliError, describeError, UsageError } from '../../cli/output.ts';
import { PartyBook } from '../../cli/parties.ts';
import { combinations, countCombinations, sampleCombinations } from '../../protocol/combinations.ts';
import { FrostnetError } from '../../protocol/errors.ts';

const ALICE = '12D3KooWLB1Quz12DLyu8mMEJBV18aRGGCNQ1dT41KCyCrvXUeLy';
const BOB = '12D3KooWAHcAchJvB6pTxPxcEDnTSq4DLS9KSGsHi9shrd5ccLbe';
const CAROL = '12D3KooWBmA4CLz2PjcHVWtE995pEo8tWsdXUioSqLyj6cE2Qoc3';

describe('command options', () => {
  const cmd = defineCommand({
    name: 'demo run',
    summary: 'A command for the tests.',
    usage: '--name NAME',
    daemon: 'request',
    options: {
      name: { type: 'string', required: true, help: 'a name' },
      count: { type: 'string', env: 'DEMO_COUNT', help: 'a count' },
      flag: { type: 'boolean', help: 'a flag' },
    },
    run: async () => 0,
  });

  test('required options, environment defaults, and the common options', () => {
    const { values } = parseCommandArgs(cmd, ['--name', 'x', '--flag', '--json'], { DEMO_COUNT: '3' });
    assert.deepEqual(
      { name: values.name, count: values.count, flag: values.flag, json: values.json },
      { name: 'x', count: '3', flag: true, json: true },
    );
    const explicit = parseCommandArgs(cmd, ['--name', 'x', '--count', '4'], { DEMO_COUNT: '3' });
    assert.equal(explicit.values.count, '4');
    assert.deepEqual([...explicit.fromEnv], []);
    assert.deepEqual([...parseCommandArgs(cmd, ['--name', 'x'], { DEMO_COUNT: '3' }).fromEnv], ['count']);
    assert.throws(
      () => parseCommandArgs(cmd, [], {}),
      (e: unknown) => e instanceof UsageError && /--name is required/.test(e.message),
    );
    assert.throws(() => parseCommandArgs(cmd, ['--name', 'x', '--nope'], {}), UsageError);
    assert.throws(() => parseCommandArgs(cmd, ['--name', 'x', 'extra'], {}), /unexpected argument "extra"/);
    assert.throws(() => parseCommandArgs(cmd, ['--name', ''], {}), /--name needs a value/);
    // --help wins over missing required options.
    assert.equal(parseCommandArgs(cmd, ['--help'], {}).values.help, true);
  });

  test('the help lists every option with its notes', () => {
    const help = commandHelp(cmd);
    assert.match(help, /^usage: frostnet demo run --name NAME/);
    for (const o of [
      '--name',
      '--count',
      '--flag',
      '--data-dir DIR',
      '--api URL',
      '--token-file FILE',
      '--json',
      '-h, --help',
    ])
      assert.ok(help.includes(o), o);
    assert.match(help, /a count \(env DEMO_COUNT\)/);
    assert.match(help, /token: <data dir>\/tokens\/request, which asks for signatures/);
  });

  test('lists: trimmed, no empties, no repeats', () => {
    assert.deepEqual(listOption('x', 'parties', ' a, b ,c,'), ['a', 'b', 'c']);
    assert.throws(() => listOption('x', 'parties', 'a,b,a'), /lists a twice/);
    assert.throws(() => listOption('x', 'parties', ' , '), /at least one/);
  });
});

describe('error lines', () => {
  test('one line with what failed and what to do; usage errors exit 2, others 1', () => {
    const usage = describeError(new UsageError('sign', 'bad\nvalue'));
    assert.equal(usage.exitCode, 2);
    assert.equal(usage.line, 'error: bad; value — see "frostnet sign --help"');
    const node = describeError(
      new FrostnetError('NOT_ENOUGH_SIGNERS', 'key k needs 2 signers, 1 left', [BOB]),
    );
    assert.equal(node.exitCode, 1);
    assert.match(
      node.line,
      new RegExp(`^error: key k needs 2 signers, 1 left \\(parties: ${BOB}\\) — start the named parties`),
    );
    const named = describeError(new CliError('X', `party ${BOB} refused`, 'ask its operator', [BOB]));
    assert.equal(
      named.line,
      `error: party ${BOB} refused — ask its operator`,
      'a party already named is not repeated',
    );
    // A daemon's message calls the parties by name: the name counts as naming them; blame is by name too.
    const byName = describeError(new CliError('X', 'bob refused', 'ask', [BOB], { [BOB]: 'bob' }));
    assert.equal(byName.line, 'error: bob refused — ask');
    assert.deepEqual([byName.json.culprits, byName.json.names], [[BOB], { [BOB]: 'bob' }]);
    const blamed = describeError(new CliError('X', 'no answer', 'start them', [BOB], { [BOB]: 'bob' }));
    assert.equal(blamed.line, 'error: no answer (parties: bob) — start them');
    const bug = describeError(new TypeError('x is undefined'));
    assert.match(bug.line, /^error: x is undefined — this is a bug/);
    assert.equal(bug.json.code, 'INTERNAL');
  });
});

describe('combinations', () => {
  test('all k-subsets in order, and their count', () => {
    assert.deepEqual(
      [...combinations(3, 2)],
      [
        [0, 1],
        [0, 2],
        [1, 2],
      ],
    );
    assert.equal([...combinations(7, 4)].length, 35);
    assert.equal(countCombinations(7, 4), 35n);
    assert.equal(countCombinations(255, 128), countCombinations(255, 127));
    assert.deepEqual([...combinations(2, 3)], []);
  });

  test('a sample is distinct sorted subsets; all of them when the sample is not smaller', () => {
    assert.deepEqual(sampleCombinations(4, 2, 10), [...combinations(4, 2)]);
    let seed = 7;
    const pick = (max: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % max;
    const sample = sampleCombinations(20, 7, 25, pick);
    assert.equal(sample.length, 25);
    assert.equal(new Set(sample.map((s) => s.join(','))).size, 25);
    for (const s of sample) {
      assert.equal(s.length, 7);
      assert.ok(s.every((x, i) => x >= 0 && x < 20 && (i === 0 || s[i - 1] < x)));
    }
  });
});

describe('listen addresses', () => {
  test('port 0 becomes a concrete port, outside the outgoing-connection range; others stay as given', async () => {
    const [a, b] = await concreteListen(['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/4001']);
    const port = Number(/^\/ip4\/127\.0\.0\.1\/tcp\/(\d+)$/.exec(a)?.[1]);
    assert.ok(port >= 10_000, a);
    const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => undefined);
    if (range !== undefined)
      assert.ok(port < Number(range.trim().split(/\s+/)[0]), `${port} is below ${range}`);
    assert.equal(b, '/ip4/127.0.0.1/tcp/4001');
  });

  test('a port handed out is leased: no later call hands it out again until the lease has run out', async () => {
    const leaseDir = await mkdtemp(join(tmpdir(), 'frostnet-leases-'));
    try {
      let clock = Date.now();
      const free = await freePort('127.0.0.1', { leaseDir: join(leaseDir, 'probe') });
      const same = { pick: () => free - 10_000, leaseDir, now: () => clock };
      const first = await freePort('127.0.0.1', same);
      assert.equal(first, free);
      const lease = join(leaseDir, String(first));
      // The lease is dated by the file system's clock, which may lag Date.now by a tick: read its own date.
      const takenAt = (await stat(lease)).mtimeMs;
      const second = await freePort('127.0.0.1', same);
      assert.notEqual(second, first, 'the same random pick must not hand out a leased port');
      clock = takenAt + PORT_LEASE_MS - 1;
      assert.notEqual(await freePort('127.0.0.1', same), first, 'a lease lasts its full time');
      await utimes(lease, new Date(clock - PORT_LEASE_MS), new Date(clock - PORT_LEASE_MS));
      assert.equal(await freePort('127.0.0.1', same), first, 'an expired lease is taken over');
    } finally {
      await rm(leaseDir, { recursive: true, force: true });
    }
  });

  test('a lease directory another could steer is not used, and odd entries never fail the choice', async () => {
    const root = await mkdtemp(join(tmpdir(), 'frostnet-leases-'));
    try {
      const free = await freePort('127.0.0.1', { leaseDir: join(root, 'probe') });
      const same = (leaseDir: string) => ({ pick: () => free - 10_000, leaseDir, now: () => 1_000_000 });
      // A symlink in place of the directory (another user's trap): not followed, nothing written through it.
      const victim = join(root, 'victim');
      await mkdir(victim);
      await writeFile(join(victim, String(free)), 'keep');
      await symlink(victim, join(root, 'link'));
      assert.equal(await freePort('127.0.0.1', same(join(root, 'link'))), free);
      assert.equal(await readFile(join(victim, String(free)), 'utf8'), 'keep');
      // A directory others may write to: unused (ports count as unleased).
      const open = join(root, 'open');
      await mkdir(open);
      await chmod(open, 0o777);
      assert.equal(await freePort('127.0.0.1', same(open)), free);
      assert.deepEqual(await readdir(open), []);
      // An entry that is a directory, or a lease dated in the future: no error, the port is passed over.
      const odd = join(root, 'odd');
      await mkdir(odd, { mode: 0o700 });
      await mkdir(join(odd, String(free)));
      assert.notEqual(await freePort('127.0.0.1', same(odd)), free);
      const future = join(root, 'future');
      await mkdir(future, { mode: 0o700 });
      await writeFile(join(future, String(free)), '');
      const later = new Date(1_000_000 + PORT_LEASE_MS * 10);
      await utimes(join(future, String(free)), later, later);
      assert.equal(await freePort('127.0.0.1', same(future)), free, 'a lease from the future has run out');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('shared addresses carry the peer id; a wildcard host becomes real interface addresses', () => {
    assert.deepEqual(shareableAddrs(['/ip4/127.0.0.1/tcp/4001'], ALICE), [
      `/ip4/127.0.0.1/tcp/4001/p2p/${ALICE}`,
    ]);
    const wild = shareableAddrs(['/ip4/0.0.0.0/tcp/4001'], ALICE);
    assert.ok(wild.length > 0);
    for (const a of wild)
      assert.match(a, new RegExp(`^/ip4/(?!0\\.0\\.0\\.0)[\\d.]+/tcp/4001/p2p/${ALICE}$`));
  });
});

describe('party names', () => {
  const book = new PartyBook(ALICE, [
    { id: BOB, addrs: [], name: 'bob' },
    { id: CAROL, addrs: [] },
  ]);

  test('"self", names and peer ids resolve to peer ids; anything else is a usage error', () => {
    assert.deepEqual(book.resolve(['self', 'bob', CAROL], 'keygen', 'parties'), [ALICE, BOB, CAROL]);
    assert.throws(() => book.resolve(['dave'], 'keygen', 'parties'), UsageError);
    assert.throws(() => book.resolve(['bob', BOB], 'keygen', 'parties'), /names party bob .* twice/);
    assert.deepEqual(book.all, [ALICE, BOB, CAROL]);
    assert.equal(book.short(BOB), 'bob');
    assert.equal(book.short(CAROL), CAROL);
    assert.equal(book.label(ALICE), `self (${ALICE})`);
  });
});
