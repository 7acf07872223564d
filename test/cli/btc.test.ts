/**
 * `frostnet btc ...` as an operator uses it against real daemons: descriptors and addresses that an independent
 * BIP32/Taproot implementation derives alike, the wallet card, and a PSBT signed and finalized by the network.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { p2wpkh, Transaction as ScureTx, SigHash } from '@scure/btc-signer';
import { buildWalletPsbt } from '../../chains/bitcoin/build.ts';
import { verifyDescriptorChecksum } from '../../chains/bitcoin/descriptor.ts';
import { walletRoot } from '../../chains/bitcoin/keys.ts';
import { G, hexToBytes, pointToBytes } from '../../protocol/curve.ts';
import { fakeTxid, independentP2tr, scureNetwork } from '../bitcoin/helpers.ts';
import { Network } from '../helpers/network.ts';
import { assertOneLineError, frostnet, frostnetJson } from './helpers.ts';

const NET = 'testnet';

describe('frostnet btc on three daemons', () => {
  let net: Network;
  let tmp: string;
  const env = (i: number) => ({ FROSTNET_DATA_DIR: net.parties[i].dataDir });
  let key: { groupKey: string; chainCode: string };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'frostnet-btc-cli-'));
    net = await Network.create(3);
    await net.startAll();
    const dkg = await net.keygen(0, 'savings', 2, net.ids, NET);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    key = dkg.result;
  });
  after(async () => {
    await net?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test("every btc command uses the key's own network by default, and refuses another", async () => {
    const [plain] = (await frostnetJson(['btc', 'address', '--key', 'savings'], env(2))).addresses;
    assert.match(plain.address, /^tb1p/);
    const card = await frostnetJson(['btc', 'card', '--key', 'savings'], env(1));
    assert.equal(card.network, NET);
    assert.match(card.xpub, /^tpub/);
    assertOneLineError(
      await frostnet(['btc', 'address', '--key', 'savings', '--network', 'mainnet'], env(0)),
      1,
      /key savings is a testnet key, not mainnet/,
    );
  });

  test('descriptors carry valid checksums; their addresses 0..9 match an independent derivation', async () => {
    const d = await frostnetJson(['btc', 'descriptor', '--key', 'savings', '--network', NET], env(1));
    for (const [branch, desc] of [
      [0, d.receive],
      [1, d.change],
    ] as const) {
      const payload = verifyDescriptorChecksum(desc);
      const xpub = /\]([a-zA-Z0-9]+)\//.exec(payload)![1];
      const listed = await frostnetJson(
        [
          'btc',
          'address',
          '--key',
          'savings',
          '--network',
          NET,
          '--count',
          '10',
          ...(branch ? ['--change'] : []),
        ],
        env(2),
      );
      assert.equal(listed.addresses.length, 10);
      listed.addresses.forEach((a: { path: string; address: string }, i: number) => {
        assert.equal(a.path, `m/${branch}/${i}`);
        assert.equal(a.address, independentP2tr(xpub, NET, branch, i).address);
      });
    }
  });

  test('the wallet card lists threshold, parties, xpub, descriptors and first addresses, and no secret', async () => {
    const card = await frostnetJson(['btc', 'card', '--key', 'savings', '--network', NET], env(0));
    assert.equal(card.threshold, 2);
    assert.deepEqual(card.parties, net.ids);
    assert.equal(card.groupKey, key.groupKey);
    assert.equal(card.firstAddresses.length, 3);
    const human = await frostnet(['btc', 'card', '--key', 'savings', '--network', NET], env(0));
    assert.equal(human.code, 0);
    assert.match(human.stdout, /2-of-3/);
    assert.doesNotMatch(human.stdout, /signingShare|passphrase/i);
  });

  test('sign-psbt signs and finalizes a spend; the witness verifies under an independent sighash', async () => {
    const wallet = {
      root: walletRoot(hexToBytes(key.groupKey), hexToBytes(key.chainCode)),
      network: NET,
    } as const;
    const utxos = [{ txid: fakeTxid('cli'), vout: 0, amount: 60_000n, change: false, index: 0 }];
    const outside = p2wpkh(pointToBytes(G.multiply(99n)), scureNetwork(NET)).address!;
    const { psbt } = buildWalletPsbt(wallet, {
      utxos,
      payments: [{ address: outside, amount: 40_000n }],
      changeIndex: 0,
      feeRate: 2,
    });
    const file = join(tmp, 'spend.psbt');
    await writeFile(file, psbt.toBase64());
    const r = await frostnetJson(
      ['btc', 'sign-psbt', '--key', 'savings', '--psbt', file, '--network', NET, '--finalize'],
      env(1),
    );
    const tx = ScureTx.fromRaw(hexToBytes(r.txHex));
    const spent = independentP2tr(
      (await frostnetJson(['btc', 'card', '--key', 'savings', '--network', NET], env(0))).xpub,
      NET,
      0,
      0,
    );
    const sighash = tx.preimageWitnessV1(0, [spent.script], SigHash.DEFAULT, [60_000n]);
    const witness = tx.getInput(0).finalScriptWitness!;
    assert.equal(witness.length, 1);
    assert.equal(witness[0].length, 64);
    assert.ok(schnorr.verify(witness[0], sighash, spent.tweakedPubkey));
    assert.equal(r.vsize, tx.vsize);
  });

  test('a malformed PSBT and an unknown key are one-line errors', async () => {
    assertOneLineError(
      await frostnet(['btc', 'sign-psbt', '--key', 'savings', '--psbt', 'cHNidP8BAAo='], env(0)),
      1,
      /PSBT/i,
    );
    assertOneLineError(await frostnet(['btc', 'descriptor', '--key', 'nope'], env(0)), 1, /nope/);
    assertOneLineError(
      await frostnet(['btc', 'address', '--key', 'savings', '--network', 'moon'], env(0)),
      2,
      /network/,
    );
  });
});
