/**
 * The daily workflow of issue 16 through `frostnet`, on real daemons (a 2-of-3 key): a PSBT built the way
 * Bitcoin Core and Sparrow build one from Frostnet's tr() descriptors (an independent builder, @scure/btc-signer:
 * BIP371 tap_bip32_derivation and tap_internal_key with the descriptor's fingerprint, several inputs, change
 * back to the wallet) is shown and signed; a fee out of proportion is not signed without --yes; --out never
 * overwrites without --force; peers have unique names and can be renamed and removed; a keygen with an offline
 * party fails naming it; and a failed init leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { HDKey } from '@scure/bip32';
import { p2tr, p2wpkh, Transaction as ScureTx, SigHash } from '@scure/btc-signer';
import { verifyDescriptorChecksum } from '../../chains/bitcoin/descriptor.ts';
import { G, hexToBytes, pointToBytes } from '../../protocol/curve.ts';
import { fakeTxid, scureNetwork, TEST_VERSIONS } from '../bitcoin/helpers.ts';
import { freePort, Network, PASSPHRASE } from '../helpers/network.ts';
import { assertOneLineError, frostnet, frostnetJson } from './helpers.ts';

const NET = 'testnet';

/** What a watch-only wallet knows from the descriptor: the fingerprint and the xpub of `tr([fp]xpub/0/*)`. */
function fromDescriptor(desc: string): { fingerprint: number; xpub: string } {
  const m = /^tr\(\[([0-9a-f]{8})\]([1-9A-HJ-NP-Za-km-z]+)\/[01]\/\*\)$/.exec(verifyDescriptorChecksum(desc));
  assert.ok(m, desc);
  return { fingerprint: Number.parseInt(m[1], 16), xpub: m[2] };
}

describe('the daily workflow through frostnet', () => {
  let net: Network;
  let tmp: string;
  let wallet: { fingerprint: number; xpub: string };
  const env = (i: number) => ({ FROSTNET_DATA_DIR: net.parties[i].dataDir });

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'frostnet-workflow-'));
    // Party 4 exists (init) but never runs: the offline party.
    net = await Network.create(4);
    await Promise.all([0, 1, 2].map((i) => net.start(i)));
    const dkg = await net.keygen(0, 'treasury', 2, net.ids.slice(0, 3), NET);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    const d = await frostnetJson(['btc', 'descriptor', '--key', 'treasury', '--network', NET], env(0));
    wallet = fromDescriptor(d.receive);
    assert.deepEqual(fromDescriptor(d.change), wallet);
  });
  after(async () => {
    await net?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** The key at m/branch/index as the watch-only wallet derives it, and its BIP371 derivation entry. */
  function walletKey(branch: number, index: number) {
    const hd = HDKey.fromExtendedKey(wallet.xpub, TEST_VERSIONS).deriveChild(branch).deriveChild(index);
    const internal = hd.publicKey!.subarray(1);
    const out = p2tr(internal, undefined, scureNetwork(NET));
    const derivation: [Uint8Array, { hashes: Uint8Array[]; der: { fingerprint: number; path: number[] } }] = [
      internal,
      { hashes: [], der: { fingerprint: wallet.fingerprint, path: [branch, index] } },
    ];
    return { out, internal, derivation };
  }

  /** A spend as Core/Sparrow build it: coins at `coins` (receive index, amount), a payment, change to m/1/3. */
  function walletPsbt(coins: [number, bigint][], pay: bigint, change: bigint): string {
    const tx = new ScureTx();
    for (const [i, [index, amount]] of coins.entries()) {
      const k = walletKey(0, index);
      tx.addInput({
        txid: fakeTxid(`wallet coin ${i} ${amount}`),
        index: i,
        witnessUtxo: { script: k.out.script, amount },
        tapInternalKey: k.internal,
        tapBip32Derivation: [k.derivation],
        sequence: 0xfffffffd,
      });
    }
    tx.addOutput({ script: p2wpkh(pointToBytes(G.multiply(77n)), scureNetwork(NET)).script, amount: pay });
    const c = walletKey(1, 3);
    if (change > 0n)
      tx.addOutput({
        script: c.out.script,
        amount: change,
        tapInternalKey: c.internal,
        tapBip32Derivation: [c.derivation],
      });
    return Buffer.from(tx.toPSBT()).toString('base64');
  }

  test('a PSBT built the way Core and Sparrow build it: shown (change marked), signed, finalized; witnesses verify', async () => {
    const coins: [number, bigint][] = [
      [0, 70_000n],
      [4, 50_000n],
    ];
    const psbt = walletPsbt(coins, 90_000n, 29_600n);
    const file = join(tmp, 'from-sparrow.psbt');
    await writeFile(file, psbt);
    const args = ['btc', 'sign-psbt', '--key', 'treasury', '--psbt', file, '--network', NET, '--finalize'];
    const shown = await frostnet(args, env(1));
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stderr, /in {2}#0 {2}70000 sat .* this key m\/0\/0/);
    assert.match(shown.stderr, /in {2}#1 {2}50000 sat .* this key m\/0\/4/);
    assert.match(shown.stderr, /out #0 {2}90000 sat {2}tb1q\S+ {2}PAYMENT/);
    assert.match(
      shown.stderr,
      new RegExp(`out #1 {2}29600 sat {2}${walletKey(1, 3).out.address} {2}change back to this key m/1/3`),
    );
    assert.match(shown.stderr, /sends 90000 sat; fee 400 sat \(\d+\.\d sat\/vB\)/);
    assert.doesNotMatch(shown.stderr, /warning/);
    const r = await frostnetJson(args, env(1));
    const tx = ScureTx.fromRaw(hexToBytes(r.txHex));
    const scripts = coins.map(([index]) => walletKey(0, index).out.script);
    const amounts = coins.map(([, a]) => a);
    for (const [i, [index]] of coins.entries()) {
      const witness = tx.getInput(i).finalScriptWitness!;
      assert.equal(witness.length, 1);
      const sighash = tx.preimageWitnessV1(i, scripts, SigHash.DEFAULT, amounts);
      assert.ok(schnorr.verify(witness[0], sighash, walletKey(0, index).out.tweakedPubkey), `input ${i}`);
    }
    assert.deepEqual(
      r.outputs.map((o: { change: boolean }) => o.change),
      [false, true],
    );
  });

  test('a fee of 99% is warned about and, without a terminal, not signed unless --yes', async () => {
    const psbt = walletPsbt([[2, 100_000n]], 1_000n, 0n);
    const args = ['btc', 'sign-psbt', '--key', 'treasury', '--psbt', psbt, '--network', NET];
    const refused = await frostnet(args, env(0));
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /^warning: the fee of 99000 sat is 9900\.0% of the 1000 sat sent/m);
    assert.match(refused.stderr, /^error: not signing this PSBT with key treasury: .* — .*--yes/m);
    const signed = await frostnetJson([...args, '--yes'], env(0));
    assert.equal(signed.fee, '99000');
    assert.deepEqual(signed.inputs, [0]);
  });

  test('--out never overwrites without --force, checked before anything is signed', async () => {
    const psbt = walletPsbt([[5, 40_000n]], 30_000n, 9_700n);
    const file = join(tmp, 'spend.psbt');
    await writeFile(file, psbt);
    const args = ['btc', 'sign-psbt', '--key', 'treasury', '--psbt', file, '--network', NET, '--out', file];
    assertOneLineError(await frostnet(args, env(0)), 2, /--out .*spend\.psbt exists; give --force/);
    assert.equal(await readFile(file, 'utf8'), psbt, 'the input PSBT is untouched');
    const r = await frostnetJson([...args, '--force'], env(0));
    assert.equal((await readFile(file, 'utf8')).trim(), r.psbt);
    assert.notEqual(r.psbt, psbt);
  });

  test('peers: a name is unique; rename and remove by name', async () => {
    const [, , carol, dave] = net.parties;
    // Party 1 knows party 3 as "party-3"; a second peer under that name is refused, naming the first.
    const dup = await frostnet(
      ['peers', 'add', '--addr', `${dave.listen}/p2p/${dave.peerId}`, '--name', 'party-3'],
      env(0),
    );
    assertOneLineError(dup, 1, new RegExp(`the name party-3 already names peer ${carol.peerId}`));
    const renamed = await frostnetJson(['peers', 'rename', 'party-3', 'carol'], env(0));
    assert.equal(renamed.id, carol.peerId);
    const taken = await frostnet(['peers', 'rename', 'party-4', 'carol'], env(0));
    assertOneLineError(taken, 1, /the name carol already names peer/);
    const list = await frostnetJson(['peers', 'list'], env(0));
    assert.deepEqual(list.map((p: { name: string }) => p.name).sort(), ['carol', 'party-2', 'party-4']);
    const removed = await frostnetJson(['peers', 'remove', 'party-4'], env(0));
    assert.equal(removed.removed.id, dave.peerId);
    assert.deepEqual(removed.memberOf, []);
    const gone = await frostnet(['peers', 'remove', 'party-4'], env(0));
    assertOneLineError(gone, 1, /no peer party-4 in this party's config/);
    // carol is a member of treasury: removing her says so.
    const member = await frostnetJson(['peers', 'remove', 'carol'], env(0));
    assert.deepEqual(member.memberOf, ['treasury']);
    await frostnetJson(
      ['peers', 'add', '--addr', `${carol.listen}/p2p/${carol.peerId}`, '--name', 'carol'],
      env(0),
    );
    await frostnetJson(
      ['peers', 'add', '--addr', `${dave.listen}/p2p/${dave.peerId}`, '--name', 'dave'],
      env(0),
    );
  });

  test('a keygen with an offline party fails naming it, without running a round', async () => {
    const r = await frostnet(['keygen', '--name', 'everyone', '--threshold', '2'], env(0));
    assert.equal(r.code, 1, r.stderr);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0], /the DKG of everyone needs every member, and dave does not answer — start/);
    assert.doesNotMatch(r.stderr, /TIMEOUT|did not answer in time/);
    const keys = await frostnetJson(['keys'], env(0));
    assert.deepEqual(
      keys.map((k: { name: string }) => k.name),
      ['treasury'],
    );
  });

  test('init checks everything first and leaves nothing behind', async () => {
    const busy: Server = createServer();
    const port = await freePort();
    await new Promise<void>((ok) => busy.listen(port, '127.0.0.1', ok));
    try {
      const cases: [string[], Record<string, string>, RegExp][] = [
        [[], { FROSTNET_PASSPHRASE: 'short' }, /the store passphrase has 5 characters; it needs at least 12/],
        [
          ['--listen', `/ip4/127.0.0.1/tcp/${port}`],
          {},
          new RegExp(`port ${port} is in use on this machine`),
        ],
        [['--listen', '/ip4/203.0.113.7/tcp/4001'], {}, /203\.0\.113\.7 is not an address of this machine/],
        [
          ['--api-port', String(port)],
          {},
          new RegExp(`control API 127.0.0.1:${port}: port ${port} is in use`),
        ],
      ];
      for (const [i, [args, extra, what]] of cases.entries()) {
        const dir = join(tmp, `init-${i}`);
        const r = await frostnet(['init', '--data-dir', dir, ...args], {
          FROSTNET_PASSPHRASE: PASSPHRASE,
          ...extra,
        });
        assertOneLineError(r, 1, what);
        await assert.rejects(access(dir), `nothing left at ${dir}`);
      }
    } finally {
      busy.close();
    }
  });
});
