/**
 * Recovery after inactivity on real daemons (issue 20), attacked by a member. Three parties make a 2-of-3 regtest
 * key with a recovery policy, "after 144 blocks without moving, the lawyer's key can spend", through the CLI's
 * `keygen --recovery`. Party A runs in this process and plays the attacker (a transform on what it sends lets it
 * lie as an initiator or coordinator); B and C are `frostnet start` processes.
 *
 * - The policy is a property of the key: every party stores the same, keeps it across a restart, and shows the
 *   tree's addresses and descriptors (the CLI's `btc address` / `btc descriptor` / `keys`).
 * - A key-path spend of a recovery-enabled coin, signed by the network: the signature verifies against a sighash
 *   computed by @scure/btc-signer under the output key @scure derives (internal key tweaked with the tree).
 * - As an attack: a coordinator that sends the signers a PSBT claiming no tree, or another tree, for the same
 *   coin is refused by every honest signer, naming the input; an initiator that tells one member another tree
 *   at keygen gets no key made; a reshare's newcomer or a repaired party told another tree stores nothing.
 * - The recovery path: `btc recovery-status` says when each coin's path opens; `btc recovery-psbt` builds the
 *   spend, an in-test key standing in for the lawyer's wallet signs it, `btc recovery-finalize` finalizes it, and
 *   the witness and nSequence are checked by @scure (the chain-level check of test/bitcoin/recovery-spend.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { p2wpkh, Transaction as ScureTx, SigHash } from '@scure/btc-signer';
import { Psbt } from 'bitcoinjs-lib';
import { descriptorAddress, p2trScript, walletAddress } from '../../chains/bitcoin/address.ts';
import { buildWalletPsbt, type WalletUtxo } from '../../chains/bitcoin/build.ts';
import { descriptorKey, type Wallet, walletKey, walletRoot } from '../../chains/bitcoin/keys.ts';
import { parseRecoveryPolicy, recoveryPolicyJson, recoveryTreeAt } from '../../chains/bitcoin/recovery.ts';
import { commands as btcCommands } from '../../cli/commands/btc.ts';
import { commands as recoveryCommands } from '../../cli/commands/btc-recovery.ts';
import { commands as keyCommands } from '../../cli/commands/keys.ts';
import { PartyPolicy } from '../../node/policy/party-policy.ts';
import { codecs } from '../../node/session/messages.ts';
import type { Envelope } from '../../node/transport/wire.ts';
import { bytesToHex, G, hexToBytes, pointToBytes } from '../../protocol/curve.ts';
import { fakeTxid, recoveryHolder, scureNetwork } from '../bitcoin/helpers.ts';
import {
  checkRecoveryWithScure,
  holderSigns,
  recoveryHolderAddress,
  scureRecoveryOutput,
} from '../bitcoin/recovery-helpers.ts';
import { Network, PASSPHRASE } from '../helpers/network.ts';
import {
  holders,
  refusalParts,
  runCommand,
  settledViews,
  UNATTENDED_CUSTODY,
  wipeKey,
  writePolicy,
} from '../helpers/network-extra.ts';
import { onSignRequest } from '../helpers/sign-attack.ts';

const [A, B, C] = [0, 1, 2];
const NET = 'regtest';
const OLDER = 144;
const lawyer = recoveryHolder('lawyer', NET);
const stranger = recoveryHolder('stranger', NET);
const POLICY = recoveryPolicyJson(
  parseRecoveryPolicy({ version: 1, leaves: [{ key: lawyer.keyText, older: OLDER }] }),
);
const OTHER = recoveryPolicyJson(
  parseRecoveryPolicy({ version: 1, leaves: [{ key: stranger.keyText, older: OLDER }] }),
);
/** The malicious member's own key, which no honest party's policy accepts. */
const thief = recoveryHolder('thief', NET);
/**
 * A policy whose rules accept the lawyer's and the stranger's keys (the stranger's so that the attacks below
 * reach the ceremony's own check of the tree) after at least OLDER blocks: a key holder agrees to a recovery
 * path in its own policy. `also` widens it, as a malicious member's operator would for itself.
 */
const accepting = (rest: object = {}, also: { keys?: string[]; minOlder?: number } = {}) => ({
  version: 1,
  default: {
    ...rest,
    recovery: {
      keys: [lawyer.keyText, stranger.keyText, ...(also.keys ?? [])],
      minOlder: also.minOlder ?? OLDER,
    },
  },
});
const outside = p2wpkh(pointToBytes(G.multiply(4242n)), scureNetwork(NET)).address!;
const COIN: WalletUtxo = { txid: fakeTxid('heir coin'), vout: 1, amount: 200_000n, change: false, index: 1 };

type Attack = (to: string, env: Envelope) => Envelope | undefined;
const honestly: Attack = (_to, env) => env;

describe('recovery after inactivity: a key carries its recovery tree through the daemons', () => {
  let net: Network;
  let attack: Attack = honestly;
  let wallet: Wallet;
  let dir: string;
  const cli = (i: number, commands: Parameters<typeof runCommand>[0], args: string[]) =>
    runCommand(commands, [...args, '--json'], { FROSTNET_DATA_DIR: net.parties[i].dataDir });

  before(async () => {
    net = await Network.create(3);
    dir = await mkdtemp(join(tmpdir(), 'frostnet-recovery-'));
    await writePolicy(net, A, accepting({}, { keys: [thief.keyText], minOlder: 1 }));
    for (const i of [B, C]) await writePolicy(net, i, accepting());
    await Promise.all([
      net.startInProcess(A, { transformOutbound: (to, env) => attack(to, env) }),
      net.start(B),
      net.start(C),
    ]);
    const made = await cli(B, keyCommands, [
      'keygen',
      '--name',
      'heir',
      '--threshold',
      '2',
      '--network',
      NET,
      '--recovery',
      `${lawyer.keyText},older=${OLDER}`,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const key = JSON.parse(made.stdout);
    wallet = {
      root: walletRoot(hexToBytes(key.groupKey), hexToBytes(key.chainCode)),
      network: NET,
      recovery: parseRecoveryPolicy(key.recovery),
    };
    assert.equal(key.wallet.address, descriptorAddress(wallet, { change: false, index: 0 }));
  });
  after(async () => {
    await net?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('every party stores the same policy, keeps it across a restart, and shows the tree in every address', async () => {
    await net.stop(C);
    await net.start(C);
    for (const i of [A, B, C]) {
      const v = await net.call(i, 'GET', '/v1/keys/heir');
      assert.deepEqual(v.json.recovery, POLICY, `party ${i + 1}`);
    }
    const addresses = await cli(C, btcCommands, ['btc', 'address', '--key', 'heir', '--count', '3']);
    assert.equal(addresses.code, 0, addresses.stderr);
    const rows = JSON.parse(addresses.stdout).addresses;
    for (const [i, row] of rows.entries()) {
      assert.equal(row.address, descriptorAddress(wallet, { change: false, index: i }));
      assert.notEqual(row.address, walletAddress(wallet.root, { change: false, index: i }, NET));
    }
    const d = JSON.parse((await cli(A, btcCommands, ['btc', 'descriptor', '--key', 'heir'])).stdout);
    assert.match(
      d.receive,
      /^tr\(\[[0-9a-f]{8}\]tpub[^,]+\/0\/\*,and_v\(v:pk\(\[[0-9a-f]{8}\/86h\/1h\/0h\]tpub[^)]+\/0\/\*\),older\(144\)\)\)#[a-z0-9]{8}$/,
    );
    assert.match(d.multipath, /\/<0;1>\/\*,and_v\(v:pk\(.+\/<0;1>\/\*\),older\(144\)\)\)#[a-z0-9]{8}$/);
    const card = JSON.parse((await cli(B, btcCommands, ['btc', 'card', '--key', 'heir'])).stdout);
    assert.equal(card.descriptors.receive, d.receive);
    assert.deepEqual(
      card.firstAddresses,
      rows.map((r: { address: string }) => r.address),
    );
    assert.match(
      card.recovery[0],
      /^after 144 blocks \(about 24 hours\) without moving, \[[0-9a-f]{8}\/86h\/1h\/0h\]tpub\w+ can spend$/,
    );
    const shown = await runCommand(keyCommands, ['keys', 'heir'], {
      FROSTNET_DATA_DIR: net.parties[B].dataDir,
    });
    assert.match(
      shown.stdout,
      /recovery path +after 144 blocks \(about 24 hours\) without moving, \[[0-9a-f]{8}\/86h\/1h\/0h\]tpub\w+ can spend/,
    );
  });

  /** A spend of COIN to an outside address with change, as the key's own wallet builds it. */
  const spend = () =>
    buildWalletPsbt(wallet, {
      utxos: [COIN],
      payments: [{ address: outside, amount: 120_000n }],
      changeIndex: 0,
      feeRate: 2,
    }).psbt;

  test('a key-path spend of a recovery-enabled coin: the network signs under the output key of the tree', async () => {
    const psbt = spend();
    const r = await net.run(B, '/v1/keys/heir/sign', { psbt: psbt.toBase64(), finalize: true });
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    const tx = ScureTx.fromRaw(hexToBytes(r.result.txHex));
    // The coin's output key as @scure derives it from the xpubs alone: K/0/1 tweaked with the lawyer's leaf.
    const theirs = scureRecoveryOutput(wallet.root, NET, COIN, [{ holder: lawyer, older: OLDER }]);
    assert.deepEqual(theirs.script, p2trScript(descriptorKey(wallet, [0, 1]).outputKey));
    const witness = tx.getInput(0).finalScriptWitness!;
    assert.equal(witness.length, 1, 'a key-path spend: one signature, no script revealed');
    const sighash = tx.preimageWitnessV1(0, [theirs.script], SigHash.DEFAULT, [COIN.amount]);
    assert.ok(
      schnorr.verify(witness[0]!, sighash, theirs.tweakedPubkey),
      'verifies under the tweaked output key',
    );
    const bare = walletKey(wallet.root, { change: false, index: 1 }).outputKey;
    assert.ok(!schnorr.verify(witness[0]!, sighash, bare), 'and not under the key-path-only output key');
  });

  /** The same coin, as a lying coordinator presents it: its script and merkle root rewritten by `edit`. */
  function forged(edit: (p: Psbt) => void) {
    attack = (_to, env) =>
      onSignRequest(env, net.ids[A], (req) => {
        if (!('psbt' in req.payload)) return req;
        const p = Psbt.fromBuffer(Buffer.from(req.payload.psbt.psbt));
        edit(p);
        return { ...req, payload: { psbt: { ...req.payload.psbt, psbt: p.toBuffer() } } };
      });
  }
  const refusedByAll = (
    r: { state: string; error?: { code: string; message: string }; names?: Record<string, string> },
    why: RegExp,
  ) => {
    assert.equal(r.state, 'failed', JSON.stringify(r));
    assert.equal(r.error?.code, 'NOT_ENOUGH_SIGNERS');
    const parts = refusalParts(r, net.ids);
    for (const p of [B, C]) {
      const part = parts.get(net.ids[p]!);
      assert.ok(part, `party ${p + 1} did not refuse: ${r.error!.message}`);
      assert.match(part, why, `party ${p + 1}`);
    }
  };

  test('attack: a coordinator claims no tree for the same coin; every honest signer refuses, naming the input', async () => {
    const bare = walletKey(wallet.root, { change: false, index: 1 });
    forged((p) => {
      const input = p.data.inputs[0]!;
      input.witnessUtxo = { script: p2trScript(bare.outputKey), value: COIN.amount };
      delete input.tapMerkleRoot;
    });
    try {
      const r = await net.run(A, '/v1/keys/heir/sign', {
        psbt: spend().toBase64(),
        signers: [net.ids[A], net.ids[B], net.ids[C]],
      });
      refusedByAll(r, /input 0 does not belong to this key: .*under the recovery policy this key holds/);
    } finally {
      attack = honestly;
    }
  });

  test('attack: a coordinator claims another tree for the same coin; every honest signer refuses, naming the input', async () => {
    const tree = recoveryTreeAt(parseRecoveryPolicy(OTHER), 0, 1);
    forged((p) => {
      const input = p.data.inputs[0]!;
      input.tapMerkleRoot = tree.merkleRoot;
    });
    try {
      const r = await net.run(A, '/v1/keys/heir/sign', {
        psbt: spend().toBase64(),
        signers: [net.ids[A], net.ids[B], net.ids[C]],
      });
      refusedByAll(
        r,
        new RegExp(
          `input 0 names the script tree with merkle root ${bytesToHex(tree.merkleRoot)}, but m/0/1 of this key commits to the agreed recovery tree`,
        ),
      );
    } finally {
      attack = honestly;
    }
    // The honest request still signs: the refusals were the forgery's.
    const ok = await net.run(A, '/v1/keys/heir/sign', { psbt: spend().toBase64() });
    assert.equal(ok.state, 'done', JSON.stringify(ok.error));
  });

  test('attack: an initiator that tells one member another recovery tree gets no key made', async () => {
    attack = (to, env) => {
      if (to !== net.ids[C] || env.ceremony !== 'DKG' || env.round !== 0) return env;
      const invite = codecs.invite.decode(env.payload, { from: net.ids[A] });
      return { ...env, payload: codecs.invite.encode({ ...invite, recovery: JSON.stringify(OTHER) }) };
    };
    try {
      const r = await net.run(A, '/v1/keys', {
        name: 'split',
        threshold: 2,
        parties: net.ids,
        network: NET,
        recovery: POLICY,
      });
      assert.equal(r.state, 'failed', JSON.stringify(r));
    } finally {
      attack = honestly;
    }
    for (const i of [A, B, C]) {
      const v = await net.call(i, 'GET', '/v1/keys/split');
      assert.equal(v.status, 404, `party ${i + 1} holds a key made under two recovery trees`);
    }
  });

  test('attack: a member that gives a new key a recovery path the others never accepted gets no key made', async () => {
    // A's operator accepts its own key and any N; B's and C's policies accept neither.
    const cases: [string, string, RegExp][] = [
      ['stolen', thief.keyText, /leaf 0: recovery key \S+ is not one this party's policy accepts/],
      ['soon', lawyer.keyText, /leaf 0: it opens after 6 blocks .* wants at least 144/],
    ];
    for (const [name, key, why] of cases) {
      const older = name === 'soon' ? 6 : OLDER;
      const r = await net.run(A, '/v1/keys', {
        name,
        threshold: 2,
        parties: net.ids,
        network: NET,
        recovery: recoveryPolicyJson(parseRecoveryPolicy({ version: 1, leaves: [{ key, older }] })),
      });
      assert.equal(r.state, 'failed', JSON.stringify(r));
      assert.match(r.error.message, /refuses its recovery path/, name);
      assert.match(r.error.message, why, name);
      for (const i of [A, B, C]) {
        const v = await net.call(i, 'GET', `/v1/keys/${name}`);
        assert.equal(
          v.status,
          404,
          `party ${i + 1} holds ${name}, a key with a recovery path it never accepted`,
        );
      }
    }
    // And through an honest party's own API, its own policy refuses before anything is sent.
    const own = await net.run(B, '/v1/keys', {
      name: 'own',
      threshold: 2,
      parties: net.ids,
      network: NET,
      recovery: recoveryPolicyJson(
        parseRecoveryPolicy({ version: 1, leaves: [{ key: thief.keyText, older: OLDER }] }),
      ),
    });
    assert.notEqual(own.state, 'done');
    assert.match(own.error.message, /policy for key own refuses its recovery path/);
  });

  test('the recovery path: status, the PSBT built by the CLI, signed by the lawyer, finalized and valid', async () => {
    const coins = [
      { ...COIN, txid: fakeTxid('recover a'), index: 2 },
      { ...COIN, txid: fakeTxid('recover b'), change: true, index: 0, amount: 50_000n },
    ];
    const file = join(dir, 'coins.json');
    const listed = coins.map((c, i) => ({
      txid: c.txid,
      vout: c.vout,
      amount: c.amount.toString(),
      address: descriptorAddress(wallet, c),
      height: 1000 + i * 100,
    }));
    await writeFile(file, JSON.stringify(listed));
    const status = await cli(B, recoveryCommands, [
      'btc',
      'recovery-status',
      '--key',
      'heir',
      '--coins',
      file,
      '--height',
      '1143',
      '--margin',
      '10',
    ]);
    assert.equal(status.code, 0, status.stderr);
    const states = JSON.parse(status.stdout).coins;
    // Confirmed at 1000: its leaf opens at 1144, the next block. At 1100: 1244, 100 blocks later.
    assert.deepEqual(
      states.map((s: { state: string; opensAt: number; path: string }) => [s.state, s.opensAt, s.path]),
      [
        ['open', 1144, 'm/0/2'],
        ['locked', 1244, 'm/1/0'],
      ],
    );
    // The refresh of the coin due, built by the CLI, is signed by the network as any key-path spend.
    const withRefresh = await cli(B, recoveryCommands, [
      'btc',
      'recovery-status',
      '--key',
      'heir',
      '--coins',
      file,
      '--height',
      '1143',
      '--margin',
      '10',
      '--refresh-fee-rate',
      '2',
      '--change-index',
      '5',
    ]);
    assert.equal(withRefresh.code, 0, withRefresh.stderr);
    const { refreshPsbt, refresh } = JSON.parse(withRefresh.stdout);
    assert.equal(refresh, 1);
    const refreshed = await net.run(C, '/v1/keys/heir/sign', { psbt: refreshPsbt, finalize: true });
    assert.equal(refreshed.state, 'done', JSON.stringify(refreshed.error));
    assert.deepEqual(refreshed.result.inputs, [0]);
    const to = recoveryHolderAddress(lawyer, NET);
    const built = await cli(B, recoveryCommands, [
      'btc',
      'recovery-psbt',
      '--key',
      'heir',
      '--coins',
      file,
      '--to',
      to,
      '--fee-rate',
      '2',
    ]);
    assert.equal(built.code, 0, built.stderr);
    const { psbt, older } = JSON.parse(built.stdout);
    assert.equal(older, OLDER);
    // The network never signs it: it names no key path of the group.
    const asked = await net.run(A, '/v1/keys/heir/sign', { psbt });
    assert.notEqual(asked.state, 'done');
    const signedFile = join(dir, 'signed.psbt');
    await writeFile(
      signedFile,
      Buffer.from(holderSigns(Buffer.from(psbt, 'base64'), lawyer)).toString('base64'),
    );
    const done = await cli(A, recoveryCommands, ['btc', 'recovery-finalize', '--psbt', signedFile]);
    assert.equal(done.code, 0, done.stderr);
    const { txHex } = JSON.parse(done.stdout);
    checkRecoveryWithScure(wallet.root, NET, txHex, coins, [{ holder: lawyer, older: OLDER }], 0);
    // Unsigned, it is refused by the finalizer, naming the input.
    const unsigned = await cli(A, recoveryCommands, ['btc', 'recovery-finalize', '--psbt', psbt]);
    assert.notEqual(unsigned.code, 0);
    assert.match(unsigned.stderr, /input 0 is not signed by its recovery key/);
  });
});

/**
 * The policy through every ceremony that makes new shares: a refresh keeps it, a newcomer to a reshare learns it
 * from the invite (and one told another tree takes no part), a repaired party gets it from the helpers that all
 * state it, and a backup carries it sealed into its associated data. The operators run reshares and repairs
 * unattended here; custody consent has tests of its own.
 */
describe('recovery policy kept by refresh, reshare, repair and backups', () => {
  const [A, B, C, D] = [0, 1, 2, 3];
  const KEY = 'kept';
  let net: Network;
  let attack: Attack = honestly;
  let wallet: Wallet;
  const recoveryOf = async (i: number) => (await net.call(i, 'GET', `/v1/keys/${KEY}`)).json.recovery;

  before(async () => {
    net = await Network.create(4);
    for (const i of [A, B, C, D]) await writePolicy(net, i, accepting(UNATTENDED_CUSTODY.default));
    const policy = await PartyPolicy.open({ dataDir: net.parties[A].dataDir, self: net.parties[A].peerId });
    await Promise.all([
      net.startInProcess(A, { policy, transformOutbound: (to, env) => attack(to, env) }),
      net.start(B),
      net.start(C),
      net.start(D),
    ]);
    const r = await net.run(A, '/v1/keys', {
      name: KEY,
      threshold: 2,
      parties: net.ids.slice(0, 3),
      network: NET,
      recovery: POLICY,
    });
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    assert.deepEqual(r.result.recovery, POLICY);
    wallet = {
      root: walletRoot(hexToBytes(r.result.groupKey), hexToBytes(r.result.chainCode)),
      network: NET,
      recovery: parseRecoveryPolicy(POLICY),
    };
  });
  after(async () => net?.close());

  /** A key-path spend of a coin at m/0/3 signed by `signers`, verified under the tree's output key. */
  async function signsWithTree(via: number, signers: number[]) {
    const coin: WalletUtxo = {
      txid: fakeTxid(`kept ${via}`),
      vout: 0,
      amount: 90_000n,
      change: false,
      index: 3,
    };
    const psbt = buildWalletPsbt(wallet, {
      utxos: [coin],
      payments: [{ address: outside, amount: 50_000n }],
      changeIndex: 1,
      feeRate: 2,
    }).psbt;
    const r = await net.run(via, `/v1/keys/${KEY}/sign`, {
      psbt: psbt.toBase64(),
      finalize: true,
      signers: signers.map((i) => net.ids[i]),
    });
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    const tx = ScureTx.fromRaw(hexToBytes(r.result.txHex));
    const theirs = scureRecoveryOutput(wallet.root, NET, coin, [{ holder: lawyer, older: OLDER }]);
    const sighash = tx.preimageWitnessV1(0, [theirs.script], SigHash.DEFAULT, [coin.amount]);
    assert.ok(schnorr.verify(tx.getInput(0).finalScriptWitness![0]!, sighash, theirs.tweakedPubkey));
  }

  test('a refresh keeps the policy on every member', async () => {
    const r = await net.run(A, `/v1/keys/${KEY}/refresh`, {});
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    for (const v of await settledViews(net, KEY))
      if (v.status === 200) assert.deepEqual(v.json.recovery, POLICY);
  });

  test('attack: a newcomer told another tree by the initiator takes no part, and the key stays as it was', async () => {
    attack = (to, env) => {
      if (to !== net.ids[D] || env.ceremony !== 'RESHARE' || env.round !== 0) return env;
      const invite = codecs.invite.decode(env.payload, { from: net.ids[A] });
      return { ...env, payload: codecs.invite.encode({ ...invite, recovery: JSON.stringify(OTHER) }) };
    };
    try {
      const r = await net.run(A, `/v1/keys/${KEY}/reshare`, { threshold: 2, parties: net.ids });
      assert.equal(r.state, 'failed', JSON.stringify(r));
    } finally {
      attack = honestly;
    }
    const views = await settledViews(net, KEY);
    assert.deepEqual(holders(views), [A, B, C]);
    for (const i of [A, B, C]) assert.equal(views[i]!.json.epoch, 1);
  });

  test('a newcomer to a reshare learns the policy and signs for its tree', async () => {
    const r = await net.run(A, `/v1/keys/${KEY}/reshare`, { threshold: 2, parties: net.ids });
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    const views = await settledViews(net, KEY);
    assert.deepEqual(holders(views), [A, B, C, D]);
    for (const i of [A, B, C, D]) assert.deepEqual(views[i]!.json.recovery, POLICY, `party ${i + 1}`);
    await signsWithTree(D, [D, B]);
  });

  test('a repaired party gets the policy back from its helpers; told another tree, it stores nothing', async () => {
    await net.stop(D);
    await wipeKey(net, D, KEY);
    await net.start(D);
    assert.equal((await net.call(D, 'GET', `/v1/keys/${KEY}`)).status, 404);
    // Attack first: the coordinating helper tells the lost party another tree; every helper states the key's
    // own in its answer, so the lost party accepts no share and stores nothing.
    attack = (to, env) => {
      if (to !== net.ids[D] || env.ceremony !== 'REPAIR' || env.round !== 0) return env;
      const invite = codecs.repairInvite.decode(env.payload, { from: net.ids[A] });
      return { ...env, payload: codecs.repairInvite.encode({ ...invite, recovery: JSON.stringify(OTHER) }) };
    };
    try {
      const forged = await net.run(A, `/v1/keys/${KEY}/repair`, { party: net.ids[D] });
      assert.notEqual(forged.state, 'done', JSON.stringify(forged));
    } finally {
      attack = honestly;
    }
    assert.equal(
      (await net.call(D, 'GET', `/v1/keys/${KEY}`)).status,
      404,
      'no share stored under another tree',
    );
    const r = await net.run(A, `/v1/keys/${KEY}/repair`, { party: net.ids[D] });
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    assert.deepEqual(await recoveryOf(D), POLICY);
    await signsWithTree(D, [D, C]);
  });

  test('a backup carries the policy, bound to its ciphertext; a restored party has it again', async () => {
    const exported = await net.call(C, 'POST', `/v1/keys/${KEY}/backup`, { passphrase: PASSPHRASE });
    assert.equal(exported.status, 200, JSON.stringify(exported.json));
    const file = exported.json;
    assert.deepEqual(file.key.recovery, POLICY);
    const erased = await net.call(C, 'POST', `/v1/keys/${KEY}/erase`, { confirm: KEY });
    assert.equal(erased.status, 200, JSON.stringify(erased.json));
    // Another tree, or none, in the header: the file no longer opens.
    for (const key of [
      { ...file.key, recovery: OTHER },
      { ...file.key, recovery: undefined },
    ]) {
      const r = await net.run(C, '/v1/backups', { backup: { ...file, key }, passphrase: PASSPHRASE });
      assert.notEqual(r.state, 'done', JSON.stringify(r));
      assert.equal(r.error.code, 'WRONG_PASSPHRASE', JSON.stringify(r.error));
    }
    const restored = await net.run(C, '/v1/backups', { backup: file, passphrase: PASSPHRASE });
    assert.equal(restored.state, 'done', JSON.stringify(restored.error));
    assert.deepEqual(await recoveryOf(C), POLICY);
  });
});
