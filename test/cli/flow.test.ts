/**
 * The CLI as key holders use it, on three real daemons: init -> start -> peers -> keygen -> sign -> refresh ->
 * sign, then the recovery drill, every step through `frostnet ... --json`, every signature verified here.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { keyAtPath, walletRoot } from '../../chains/bitcoin/keys.ts';
import { RAW_BRANCH } from '../../chains/domains.ts';
import { LOG_FILE, type LocalParty, spawnDaemon, stopChild } from '../../deploy/local-network.ts';
import { bytesToHex, hexToBytes, xOnly } from '../../protocol/curve.ts';
import { verifyBip340, verifySignature } from '../../protocol/sign.ts';
import { assertOneLineError, frostnet, frostnetJson, lightStore } from './helpers.ts';

const NAMES = ['alice', 'bob', 'carol'] as const;
const PASSPHRASE = 'cli test passphrase';

describe('frostnet CLI on three daemons', () => {
  let root: string;
  let passphraseFile: string;
  const parties: (LocalParty & { addr: string })[] = [];
  /** The daemons started, in party order. */
  const running: ChildProcess[] = [];
  let groupKey: string;
  let chainCode: string;
  const dir = (i: number) => ({ FROSTNET_DATA_DIR: parties[i].dataDir });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'frostnet-cli-'));
    passphraseFile = join(root, 'passphrase');
    await writeFile(passphraseFile, `${PASSPHRASE}\n`, { mode: 0o600 });
    for (const name of NAMES) await lightStore(join(root, name), PASSPHRASE);
  });
  after(async () => {
    await Promise.all(running.map((proc) => stopChild(proc)));
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('init creates each party and prints its peer id and a shareable address', async () => {
    const inits = await Promise.all(
      NAMES.map((name) =>
        frostnetJson(['init', '--data-dir', join(root, name), '--passphrase-file', passphraseFile]),
      ),
    );
    inits.forEach((r, i) => {
      assert.match(r.peerId, /^12D3KooW/);
      assert.equal(r.addrs.length, 1);
      const m = /^\/ip4\/127\.0\.0\.1\/tcp\/(\d+)\/p2p\/(.+)$/.exec(r.addrs[0]);
      assert.ok(m, r.addrs[0]);
      assert.notEqual(Number(m[1]), 0, 'a concrete port, not 0');
      assert.equal(m[2], r.peerId);
      parties.push({
        name: NAMES[i],
        dataDir: r.dataDir,
        peerId: r.peerId,
        listen: r.listen[0],
        addr: r.addrs[0],
      });
    });
    const again = await frostnet([
      'init',
      '--data-dir',
      parties[0].dataDir,
      '--passphrase-file',
      passphraseFile,
    ]);
    assertOneLineError(again, 1, /already holds a party/);
  });

  test('start runs each daemon in the foreground; status answers for it', async () => {
    // These operators turn raw-message signing on (it is off by default), for the `sign` steps below.
    for (const p of parties)
      await writeFile(
        join(p.dataDir, 'policy.json'),
        JSON.stringify({ version: 1, default: { rawMessages: true } }),
      );
    const daemons = parties.map((p) =>
      spawnDaemon({
        name: p.name,
        configPath: join(p.dataDir, 'config.json'),
        log: join(p.dataDir, LOG_FILE),
      }),
    );
    running.push(...daemons.map((d) => d.proc));
    await Promise.all(daemons.map((d) => d.ready));
    const status = await frostnetJson(['status'], dir(0));
    assert.equal(status.peerId, parties[0].peerId);
    assert.equal(status.keys, 0);
    assert.deepEqual(status.peers, []);
  });

  test('peers add (the peer id taken from the address) and peers list with names', async () => {
    for (const [i, p] of parties.entries())
      for (const q of parties.filter((x) => x !== p)) {
        const added = await frostnetJson(['peers', 'add', '--addr', q.addr, '--name', q.name], dir(i));
        assert.equal(added.id, q.peerId);
      }
    const list = await frostnetJson(['peers', 'list'], dir(0));
    assert.deepEqual(list.map((p: { name: string }) => p.name).sort(), ['bob', 'carol']);
    assert.deepEqual(
      list.map((p: { id: string }) => p.id).sort(),
      [parties[1].peerId, parties[2].peerId].sort(),
    );
  });

  test('keygen 2-of-3 by party names; every party reports the same key and address', async () => {
    const key = await frostnetJson(
      ['keygen', '--name', 'vault', '--threshold', '2', '--parties', 'self,bob,carol'],
      dir(0),
    );
    assert.equal(key.threshold, 2);
    assert.equal(key.state, 'active');
    assert.deepEqual([...key.members].sort(), parties.map((p) => p.peerId).sort());
    assert.match(key.groupKey, /^0[23][0-9a-f]{64}$/);
    assert.match(key.wallet.address, /^bc1p[02-9ac-hj-np-z]{58}$/);
    assert.match(key.wallet.evmKey, /^[0-9a-f]{64}$/);
    groupKey = key.groupKey;
    chainCode = key.chainCode;
    const factory = '0x5fbdb2315678afecb367f032d7b8d3ca3c3180aa';
    const bob = await frostnetJson(['keys', 'vault'], { ...dir(1), FROSTNET_EVM_FACTORY: factory });
    assert.equal(bob.groupKey, groupKey);
    assert.equal(bob.network, 'mainnet');
    assert.equal(bob.wallet.address, key.wallet.address);
    assert.equal(bob.wallet.evmKey, key.wallet.evmKey);
    assert.equal(bob.wallet.evmFactory.toLowerCase(), factory);
    assert.match(bob.wallet.evmAccount, /^0x[0-9a-fA-F]{40}$/);
    // The network is the key's: asking for another is an error, not another key's addresses.
    assertOneLineError(
      await frostnet(['keys', 'vault', '--network', 'regtest'], dir(1)),
      1,
      /key vault is a mainnet key, not regtest/,
    );
    const carol = await frostnetJson(['keys'], dir(2));
    assert.deepEqual(
      carol.map((k: { name: string; groupKey: string }) => [k.name, k.groupKey]),
      [['vault', groupKey]],
    );
    const peers = await frostnetJson(['peers', 'list'], dir(0));
    assert.ok(
      peers.every((p: { connected: boolean }) => p.connected),
      'after a DKG with them, both peers are connected',
    );
  });

  /** The key raw messages sign under at `path` below the raw-message branch (never the group key itself). */
  const rawKey = (path: number[] = []) =>
    keyAtPath(walletRoot(hexToBytes(groupKey), hexToBytes(chainCode)), [RAW_BRANCH, ...path]);

  test('sign --json through another party: the signature verifies under the raw-message key, not the group key', async () => {
    const message = bytesToHex(new TextEncoder().encode('pay the invoice 42'));
    const r = await frostnetJson(['sign', '--key', 'vault', '--message', message], dir(1));
    assert.equal(r.verified, true);
    const raw = xOnly(rawKey().internalKey);
    assert.equal(r.publicKey, bytesToHex(raw));
    assert.equal(r.signers.length, 2);
    assert.ok(verifyBip340(hexToBytes(r.signature), hexToBytes(message), raw));
    assert.ok(!verifyBip340(hexToBytes(r.signature), hexToBytes(message), hexToBytes(groupKey).subarray(1)));
  });

  test('sign a file for the Taproot key of a path, with chosen signers', async () => {
    const file = join(root, 'message.bin');
    const bytes = new TextEncoder().encode('a file to sign');
    await writeFile(file, bytes);
    const r = await frostnetJson(
      ['sign', '--key', 'vault', '--file', file, '--path', '0/7', '--taproot', '--signers', 'bob,carol'],
      dir(0),
    );
    assert.deepEqual([...r.signers].sort(), [parties[1].peerId, parties[2].peerId].sort());
    const { outputKey } = rawKey([0, 7]);
    assert.equal(r.publicKey, bytesToHex(outputKey));
    assert.ok(verifyBip340(hexToBytes(r.signature), bytes, outputKey));
    // Not the wallet's own address key m/0/7: a raw message never signs for the wallet.
    const wallet = keyAtPath(walletRoot(hexToBytes(groupKey), hexToBytes(chainCode)), [0, 7]).outputKey;
    assert.ok(!verifyBip340(hexToBytes(r.signature), bytes, wallet));
  });

  test('refresh keeps the group key and moves to epoch 1; signing works after it, in both schemes', async () => {
    const r = await frostnetJson(['refresh', '--key', 'vault'], dir(2));
    assert.deepEqual(r, { name: 'vault', previousEpoch: 0, epoch: 1, groupKey });
    for (const i of [0, 1]) assert.equal((await frostnetJson(['keys'], dir(i)))[0].epoch, 1);
    const message = 'ab'.repeat(32);
    const bip340 = await frostnetJson(['sign', '--key', 'vault', '--message', message], dir(0));
    assert.ok(verifyBip340(hexToBytes(bip340.signature), hexToBytes(message), xOnly(rawKey().internalKey)));
    const frost = await frostnetJson(
      ['sign', '--key', 'vault', '--message', message, '--scheme', 'rfc9591'],
      dir(0),
    );
    const key = rawKey().internalKey;
    assert.equal(frost.publicKey, bytesToHex(key.toBytes(true)));
    assert.ok(verifySignature('rfc9591', key, hexToBytes(message), hexToBytes(frost.signature)));
  });

  test('drill on the 2-of-3 key: all three combinations sign', async () => {
    const r = await frostnetJson(['drill', '--key', 'vault'], dir(0));
    assert.equal(r.combinations, 3);
    assert.equal(r.tested, 3);
    assert.equal(r.working, 3);
    assert.equal(r.failing, 0);
    const pairs = r.results.map((x: { ok: boolean; signers: string[] }) => {
      assert.equal(x.ok, true);
      return [...x.signers].sort().join(',');
    });
    assert.equal(new Set(pairs).size, 3);
  });

  test('an unknown key name and a wrong token each give one line and exit 1', async () => {
    assertOneLineError(
      await frostnet(['sign', '--key', 'nope', '--message', '00'], dir(0)),
      1,
      /no key named "nope"/,
    );
    assertOneLineError(await frostnet(['keys'], { ...dir(0), FROSTNET_TOKEN: 'not-the-token' }), 1, /token/);
  });

  test('with a party down the drill names the failing combinations and exits 1', async () => {
    const carol = parties[2];
    await stopChild(running.pop()!);
    const r = await frostnet(['drill', '--key', 'vault', '--json'], dir(0));
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.working, 1);
    assert.equal(report.failing, 2);
    for (const x of report.results.filter((y: { ok: boolean }) => !y.ok)) {
      assert.ok(x.signers.includes(carol.peerId));
      assert.ok(
        x.error.culprits.includes(carol.peerId) || x.error.message.includes(carol.peerId),
        JSON.stringify(x.error),
      );
    }
  });
});
