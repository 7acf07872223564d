/**
 * The CLI's failure contract without a working daemon: wrong arguments exit 2, an unreachable daemon and a
 * daemon that will not start exit 1, and every failure is one line "error: <what> — <what to do>".
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../cli/listen.ts';
import { assertOneLineError, frostnet, lightStore } from './helpers.ts';

const COMMANDS = [
  'init',
  'start',
  'status',
  'peers list',
  'peers add',
  'peers remove',
  'peers rename',
  'keygen',
  'keys',
  'sign',
  'refresh',
  'drill',
];
// Every command's help comes from the same code (cli/command.ts commandHelp, unit-tested); a few suffice here.
const HELP_SAMPLE = ['init', 'peers add', 'sign', 'drill'];

describe('frostnet errors', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'frostnet-cli-errors-'));
  });
  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  test("the general help lists every command; a command's --help shows its usage (exit 0)", async () => {
    const general = await frostnet(['--help']);
    assert.equal(general.code, 0);
    for (const c of COMMANDS) assert.match(general.stdout, new RegExp(`\\n  ${c} `));
    const helps = await Promise.all(HELP_SAMPLE.map((c) => frostnet([...c.split(' '), '--help'])));
    for (const [i, r] of helps.entries()) {
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.startsWith(`usage: frostnet ${HELP_SAMPLE[i]}`), r.stdout);
      assert.match(r.stdout, /--json/);
    }
    assert.equal((await frostnet(['help', 'keygen'])).stdout, (await frostnet(['keygen', '-h'])).stdout);
  });

  test("a group's --help lists its commands, one line each (exit 0)", async () => {
    const groups: Record<string, string[]> = {
      peers: ['list', 'add', 'remove', 'rename'],
      btc: ['address', 'descriptor', 'card', 'sign-psbt'],
      backup: ['export', 'import'],
      approvals: ['list', 'show', 'approve', 'reject', 'cancel'],
      evm: ['address', 'deploy', 'send', 'sign-typed-data'],
    };
    for (const [group, verbs] of Object.entries(groups)) {
      const r = await frostnet([group, '--help']);
      assert.equal(r.code, 0, `${group}: ${r.stderr}`);
      assert.ok(r.stdout.startsWith(`usage: frostnet ${group} <command>`), r.stdout);
      for (const v of verbs) assert.match(r.stdout, new RegExp(`\\n  ${group} ${v} +\\S`), `${group} ${v}`);
    }
  });

  test('wrong arguments: one line, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['peers'], /needs one of: list, add, remove, rename/],
      // A negative number is a value, not an option ("ambiguous" before): the option says what it must be.
      [
        ['keygen', '--name', 'k', '--threshold', '-1', '--data-dir', root],
        /--threshold must be ≥ 2, not "-1"/,
      ],
      [
        [
          'evm',
          'send',
          '--key',
          'k',
          '--to',
          `0x${'ab'.repeat(20)}`,
          '--value',
          '-5',
          '--rpc',
          'http://127.0.0.1:9',
          '--data-dir',
          root,
        ],
        /--value -5: must be ≥ 0/,
      ],
      [['keygen', '--threshold', '2', '--data-dir', root], /--name is required/],
      [
        ['keygen', '--name', 'k', '--threshold', 'two', '--data-dir', root],
        /--threshold must be a whole number/,
      ],
      [['sign', '--key', 'k', '--data-dir', root], /exactly one of --message HEX or --file FILE/],
      [['sign', '--key', 'k', '--message', 'xyz', '--data-dir', root], /--message must be hex/],
      [['sign', '--key', 'k', '--message', '00', '--path', "0/1'", '--data-dir', root], /hardened/],
      [['sign', '--key', 'k', '--message', '00', '--scheme', 'ecdsa', '--data-dir', root], /--scheme ecdsa/],
      [['keys', '--colour'], /--colour/],
      [
        [
          'keygen',
          '--name',
          'k',
          '--threshold',
          '2',
          '--evm-factory',
          '0x5FbDB2315678afecb367f032d7b8d3ca3c3180aa',
        ],
        /--factory .*checksum/, // --evm-factory: the older name, still accepted
      ],
      [['status'], /which party\? give --data-dir/],
      [['init', '--data-dir', root, '--passphrase-env', 'A', '--passphrase-file', 'B'], /not both/],
    ];
    const runs = await Promise.all(cases.map(([args]) => frostnet(args)));
    for (const [i, r] of runs.entries()) assertOneLineError(r, 2, cases[i][1]);
    // The general help goes to stderr when no command is given.
    const bare = await frostnet([]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^usage: frostnet <command>/);
  });

  test('--json errors are also JSON on stdout', async () => {
    const r = await frostnet(['keygen', '--json']);
    assertOneLineError(r, 2, /--name is required/);
    assert.deepEqual(JSON.parse(r.stdout).error.code, 'USAGE');
  });

  test('no party, a stopped daemon, an unreachable daemon: one line, exit 1, saying what to do', async () => {
    const empty = join(root, 'empty');
    assertOneLineError(
      await frostnet(['status', '--data-dir', empty]),
      1,
      /no party in .*empty — create one/,
    );

    const stopped = join(root, 'stopped');
    await mkdir(stopped);
    await writeFile(join(stopped, 'config.json'), '{}');
    await mkdir(join(stopped, 'tokens'));
    await writeFile(join(stopped, 'tokens', 'request'), 'token\n');
    assertOneLineError(await frostnet(['keys'], { FROSTNET_DATA_DIR: stopped }), 1, /not running — start it/);
    // An explicit --data-dir wins over FROSTNET_API from the environment.
    assertOneLineError(
      await frostnet(['keys', '--data-dir', stopped], { FROSTNET_API: 'http://127.0.0.1:9' }),
      1,
      /party in .*stopped is not running/,
    );

    // A daemon that died without cleaning up: its runtime file names a port nobody listens on.
    const port = await freePort();
    await writeFile(
      join(stopped, 'daemon.json'),
      JSON.stringify({ pid: 1, api: `http://127.0.0.1:${port}` }),
    );
    assertOneLineError(
      await frostnet(['status', '--data-dir', stopped]),
      1,
      new RegExp(`cannot reach the daemon at http://127.0.0.1:${port}.* — check that it runs`),
    );
    assertOneLineError(
      await frostnet(['peers', 'list', '--api', `http://127.0.0.1:${port}`], { FROSTNET_TOKEN: 't' }),
      1,
      /cannot reach the daemon/,
    );
  });

  test('start with the wrong passphrase: one line naming the party, exit 1', async () => {
    const dataDir = join(root, 'party');
    await lightStore(dataDir, 'right passphrase');
    const init = await frostnet(['init', '--data-dir', dataDir, '--passphrase-env', 'PARTY_PASS'], {
      PARTY_PASS: 'right passphrase',
    });
    assert.equal(init.code, 0, init.stderr);
    const r = await frostnet(['start', '--data-dir', dataDir], { PARTY_PASS: 'wrong passphrase' });
    assertOneLineError(r, 1, new RegExp(`cannot start the party of ${dataDir}/config.json: .*passphrase`));
    const missing = await frostnet(['start', '--data-dir', dataDir]);
    assertOneLineError(missing, 1, /PARTY_PASS/);
  });

  test('start on a listen address or API port it cannot bind: one error line with a hint, exit 1, no stack frames', async () => {
    const dataDir = join(root, 'unbindable');
    await lightStore(dataDir, 'right passphrase');
    const env = { PARTY_PASS: 'right passphrase' };
    const init = await frostnet(['init', '--data-dir', dataDir, '--passphrase-env', 'PARTY_PASS'], env);
    assert.equal(init.code, 0, init.stderr);
    const configFile = join(dataDir, 'config.json');
    const config = JSON.parse(await readFile(configFile, 'utf8'));
    const busy: Server = createServer();
    const port = await freePort();
    await new Promise<void>((ok) => busy.listen(port, '127.0.0.1', ok));
    try {
      const cases: [Record<string, unknown>, RegExp][] = [
        // Taken since init checked it.
        [
          { listen: [`/ip4/127.0.0.1/tcp/${port}`] },
          new RegExp(
            `cannot listen on /ip4/127\\.0\\.0\\.1/tcp/${port}: port ${port} is in use on this machine — another program listens there`,
          ),
        ],
        // TEST-NET-1 (RFC 5737): never an address of this machine.
        [
          { listen: ['/ip4/192.0.2.1/tcp/4001'] },
          /cannot listen on \/ip4\/192\.0\.2\.1\/tcp\/4001: 192\.0\.2\.1 is not an address of this machine — listen on an address of this machine/,
        ],
      ];
      // The control API's port, taken since init checked it.
      cases.push([
        { api: { host: '127.0.0.1', port } },
        new RegExp(
          `the control API cannot listen on 127\\.0\\.0\\.1:${port}: port ${port} is in use on this machine — another program listens there`,
        ),
      ]);
      for (const [change, what] of cases) {
        await writeFile(configFile, JSON.stringify({ ...config, ...change }));
        const r = await frostnet(['start', '--data-dir', dataDir], env);
        // The daemon's log lines (JSON) may come first; the failure is one line, the last, and nothing else.
        assert.equal(r.code, 1, r.stderr);
        const lines = r.stderr.trim().split('\n');
        const errors = lines.filter((l) => !l.startsWith('{'));
        assert.equal(errors.length, 1, r.stderr);
        assert.equal(errors[0], lines.at(-1));
        assert.match(errors[0]!, new RegExp(`^error: cannot start the party of ${dataDir}/config\\.json: `));
        assert.match(errors[0]!, what);
        assert.doesNotMatch(r.stderr, /\bat \S+ \(|node:net|Some configured addresses/, 'no stack frames');
      }
    } finally {
      busy.close();
    }
  });
});
