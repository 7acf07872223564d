/**
 * Signing domains and limits on real daemons, attacked by a member. Three parties hold 2-of-3 regtest keys
 * under the same Bitcoin rules: at most 0.01 BTC per transaction and 0.015 BTC a day, to one allowed payee.
 * Party A runs in this process and plays the attacker (it asks through its own control API, and a transform on
 * what it sends lets it lie as a coordinator); B and C are `frostnet start` processes.
 *
 * - The raw-sighash bypass: a PSBT the rules refuse, asked again as its BIP341 sighash in every form (with and
 *   without a path and the Taproot flag), is refused where raw messages are off (the default); where every
 *   operator turned them on, the signature comes out under the raw-message branch and spends nothing, and a
 *   custody proposal's digest asked as a raw message approves nothing.
 * - EIP-712 RotateKey: refused unless the policy allows it by name; allowed, it is held for approval and shows
 *   the old and the new key.
 * - The four-labels trick: the network is the key's, so other labels are refused (by the API, and by every
 *   signer when the coordinator lies on the wire) and the daily limit is counted once.
 * - The network of a key: stored at keygen, shown by every party, kept across a restart; an initiator that
 *   tells one member another network gets no key made.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { walletKey, walletRoot } from '../../chains/bitcoin/keys.ts';
import { applyKeySignatures, finalizePsbt, planPsbtSigning } from '../../chains/bitcoin/psbt.ts';
import { rotateKeyTypedData } from '../../chains/evm/typed-data.ts';
import { PartyPolicy } from '../../node/policy/party-policy.ts';
import type { Envelope } from '../../node/transport/wire.ts';
import { bytesToHex, G, hexToBytes, xOnly } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { type CustodyProposal, proposalDigest, verifyProposal } from '../../protocol/proposal.ts';
import { testWallet } from '../bitcoin/helpers.ts';
import { Network } from '../helpers/network.ts';
import { refusalParts, writePolicy } from '../helpers/network-extra.ts';
import { onSignRequest } from '../helpers/sign-attack.ts';
import { coin, NET, outsideAddress, spendPsbt } from '../node/policy/helpers.ts';

const [A, B, C] = [0, 1, 2];
const other = testWallet(NET, 'domains payee').wallet;
const PAYEE = outsideAddress(other, 0);
const THIEF = outsideAddress(other, 1);
const LIMITS = { maxSentPerTx: '0.01 btc', maxSentPerDay: '0.015 btc', destinations: [PAYEE] };
const ACCOUNT = { chainId: 1n, address: `0x${'11'.repeat(20)}` };

type Attack = (to: string, env: Envelope) => Envelope | undefined;
const honestly: Attack = (_to, env) => env;

describe('signing domains: no request type lets a member past the rules', () => {
  let net: Network;
  let attack: Attack = honestly;
  const keys = new Map<string, { groupKey: string; chainCode: string; network: string }>();
  const wallet = (name: string) => {
    const k = keys.get(name)!;
    return { root: walletRoot(hexToBytes(k.groupKey), hexToBytes(k.chainCode)), network: NET } as const;
  };
  const sign = (i: number, key: string, body: Record<string, unknown>) =>
    net.run(i, `/v1/keys/${key}/sign`, { signers: [net.ids[A], net.ids[B], net.ids[C]], ...body });
  /**
   * Failed for want of signers, every party the coordinator asked (at least two: t-of-n fails after n-t+1)
   * refusing with `reason`; `parties`, when given, must be among them.
   */
  const refused = (
    r: { state: string; error?: { code: string; message: string }; names?: Record<string, string> },
    reason: RegExp,
    parties: number[] = [],
  ) => {
    assert.equal(r.state, 'failed', JSON.stringify(r));
    assert.equal(r.error?.code, 'NOT_ENOUGH_SIGNERS');
    const listed = refusalParts(r, net.ids);
    assert.ok(listed.size >= 2, r.error!.message);
    for (const part of listed.values()) assert.match(part, reason);
    for (const p of parties) assert.ok(listed.has(net.ids[p]!), `party ${p + 1} not in ${r.error!.message}`);
  };

  before(async () => {
    net = await Network.create(3);
    const policy = {
      version: 1,
      default: { bitcoin: LIMITS },
      keys: {
        open: { rawMessages: true, bitcoin: LIMITS },
        rot: { evm: { actions: ['Execute', 'RotateKey'] } },
        // Custody proposals of "open" are held for approval (the default); nothing here approves them.
      },
    };
    for (const i of [A, B, C]) await writePolicy(net, i, policy);
    const pol = await PartyPolicy.open({ dataDir: net.parties[A].dataDir, self: net.parties[A].peerId });
    await Promise.all([
      net.startInProcess(A, { policy: pol, transformOutbound: (to, env) => attack(to, env) }),
      net.start(B),
      net.start(C),
    ]);
    for (const name of ['vault', 'open', 'evm', 'rot']) {
      const k = await net.keygen(A, name, 2, net.ids, NET);
      assert.equal(k.state, 'done', JSON.stringify(k.error));
      keys.set(name, k.result);
    }
  });
  after(async () => net?.close());

  /** A spend of the coin at m/0/2 (0.03 BTC) paying `amount` to `to`, and its input's BIP341 sighash. */
  const theft = (key: string, to = THIEF, amount = 2_000_000n, label = 'theft') => {
    const psbt = spendPsbt(wallet(key), {
      payments: [{ address: to, amount }],
      utxos: [coin(`${key} ${label}`, 3_000_000n, 2)],
    });
    const [input] = planPsbtSigning(psbt, wallet(key)).inputs;
    return {
      psbt,
      sighash: input.sighash,
      outputKey: walletKey(wallet(key).root, { change: false, index: 2 }).outputKey,
    };
  };
  const RAW_FORMS: { path?: number[]; taproot?: boolean }[] = [
    {},
    { taproot: true },
    { path: [0, 2] },
    { path: [0, 2], taproot: true },
    { path: [0], taproot: true },
  ];

  test('raw messages off (the default): a refused PSBT asked as its sighash is refused in every form', async () => {
    const { psbt, sighash } = theft('vault');
    refused(await sign(A, 'vault', { psbt: psbt.toBase64() }), /above the per-transaction limit/);
    for (const form of RAW_FORMS)
      refused(
        await sign(A, 'vault', { message: bytesToHex(sighash), ...form }),
        /raw message signing is off/,
      );
  });

  test('raw messages on at every party: the sighash is signed below the raw branch, and spends nothing', async () => {
    const { psbt, sighash, outputKey } = theft('open');
    refused(await sign(A, 'open', { psbt: psbt.toBase64() }), /above the per-transaction limit/);
    const root = wallet('open').root;
    for (const form of RAW_FORMS) {
      const r = await sign(A, 'open', { message: bytesToHex(sighash), ...form });
      assert.equal(r.state, 'done', JSON.stringify(r.error));
      const signature = hexToBytes(r.result.signatures[0]);
      assert.ok(!schnorr.verify(signature, sighash, outputKey), `${JSON.stringify(form)} spends the coin`);
      assert.ok(!schnorr.verify(signature, sighash, xOnly(root.key)), `${JSON.stringify(form)}: group key`);
      // Nor does the finalizer take it: it checks each key-path signature against the input's output key.
      assert.throws(
        () => finalizePsbt(applyKeySignatures(psbt.toBuffer(), new Map([[0, signature]]))),
        (e) => e instanceof FrostnetError && /signature/.test(e.message),
      );
    }
  });

  test('a custody proposal digest asked as a raw message approves nothing', async () => {
    let proposal: CustodyProposal | undefined;
    attack = (_to, env) =>
      onSignRequest(env, net.ids[A], (req) => {
        if ('proposal' in req.payload) proposal ??= req.payload.proposal.proposal;
        return req;
      });
    try {
      // A proposes a reshare of "open" to itself and B: held by every operator (nobody approves it here).
      const started = await net.call(A, 'POST', '/v1/keys/open/reshare', {
        threshold: 2,
        parties: [net.ids[A], net.ids[B]],
      });
      assert.equal(started.status, 202, JSON.stringify(started.json));
      for (let i = 0; i < 100 && !proposal; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(proposal, 'the proposal went out for approval');
    } finally {
      attack = honestly;
    }
    const digest = proposalDigest(proposal!);
    const r = await sign(A, 'open', { message: bytesToHex(digest) });
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    assert.equal(verifyProposal(proposal!, hexToBytes(r.result.signatures[0])), false);
    const view = await net.call(A, 'GET', '/v1/keys/open');
    assert.equal(view.json.epoch, 0, 'nothing was reshared');
  });

  test('RotateKey: refused unless allowed by name; allowed, held for approval with the old and the new key', async () => {
    const newKey = xOnly(G.multiply(7n));
    const rotate = {
      typedData: rotateKeyTypedData(ACCOUNT, { newKey, nonce: 0n, deadline: 2n ** 40n }),
    };
    refused(await sign(A, 'evm', rotate), /EVM action RotateKey is not allowed \(allowed: Execute\)/);
    // Held, not refused: the request waits for the operators' decision, each holder saying why.
    const held = await sign(A, 'rot', rotate);
    assert.equal(held.state, 'awaiting-approval', JSON.stringify(held));
    assert.ok(held.held.holders.length >= 1);
    for (const h of held.held.holders as { code: string; reason: string }[]) {
      assert.equal(h.code, 'APPROVAL_REQUIRED');
      assert.match(h.reason, /a key rotation hands the account to another key and needs approval/);
    }
    const list = await net.call(B, 'GET', '/v1/approvals');
    const entry = list.json.find((e: { key: string }) => e.key === 'rot');
    assert.equal(entry?.status, 'awaiting approval', JSON.stringify(list.json));
    assert.ok(entry, JSON.stringify(list.json));
    const shown = await net.call(B, 'GET', `/v1/approvals/${entry.id}`);
    const k = keys.get('rot')!;
    const { evmKey } = await import('../../chains/evm/keys.ts');
    assert.equal(shown.json.details.action, 'RotateKey');
    assert.equal(
      shown.json.details.oldKey,
      bytesToHex(evmKey(walletRoot(hexToBytes(k.groupKey), hexToBytes(k.chainCode))).px),
    );
    assert.equal(shown.json.details.newKey, bytesToHex(newKey));
  });

  test('four network labels: refused up front, refused by every signer when the coordinator lies, counted once', async () => {
    const pay = (label: string) =>
      spendPsbt(wallet('vault'), {
        payments: [{ address: PAYEE, amount: 1_000_000n }],
        utxos: [coin(`labels ${label}`, 1_200_000n)],
      }).toBase64();
    const [first, second] = [pay('first'), pay('second')];
    for (const label of ['mainnet', 'testnet', 'signet']) {
      const r = await sign(A, 'vault', { psbt: first, network: label });
      assert.equal(r.state, 'rejected', JSON.stringify(r));
      assert.match(r.error.message, new RegExp(`is ${label}, but key is a regtest key`));
    }
    // A as coordinator asks for regtest through its API and relabels the request on the wire: its own
    // decoding allows the payment, B's and C's refuse the label.
    attack = (_to, env) =>
      onSignRequest(env, net.ids[A], (req) =>
        'psbt' in req.payload
          ? { ...req, payload: { psbt: { ...req.payload.psbt, network: 'testnet' } } }
          : req,
      );
    try {
      refused(await sign(A, 'vault', { psbt: first }), /for a testnet PSBT, but this key is a regtest key/, [
        B,
        C,
      ]);
    } finally {
      attack = honestly;
    }
    const done = await sign(A, 'vault', { psbt: first, signers: [net.ids[A], net.ids[B]] });
    assert.equal(done.state, 'done', JSON.stringify(done.error));
    // The next payment on the same day, whatever it is labelled, is counted against the one limit.
    refused(
      await sign(A, 'vault', { psbt: second, signers: [net.ids[A], net.ids[B]] }),
      /1000000 sat on top of 1000000 sat in the past 24 h is above the daily limit of 1500000 sat/,
      [A, B],
    );
  });

  test('the network is a property of the key: every party shows it, and keeps it across a restart', async () => {
    for (const i of [A, B, C]) {
      const v = await net.call(i, 'GET', '/v1/keys/vault');
      assert.equal(v.json.network, NET);
    }
    await net.stop(C);
    await net.start(C);
    assert.equal((await net.call(C, 'GET', '/v1/keys/vault')).json.network, NET);
    const plain = await net.keygen(A, 'plain', 2);
    assert.equal(plain.result.network, 'mainnet', 'without --network a key is a mainnet key');
  });

  test('an initiator that tells one member another network gets no key made', async () => {
    attack = (to, env) => {
      if (to !== net.ids[C] || env.ceremony !== 'DKG' || env.round !== 0) return env;
      const payload = Buffer.from(env.payload);
      const at = payload.indexOf('regtest');
      if (at >= 0) payload.write('testnet', at);
      return { ...env, payload };
    };
    try {
      const r = await net.keygen(A, 'split', 2, net.ids, NET);
      assert.equal(r.state, 'failed', JSON.stringify(r));
    } finally {
      attack = honestly;
    }
    for (const i of [A, B, C]) {
      const v = await net.call(i, 'GET', '/v1/keys/split');
      assert.equal(v.status, 404, `party ${i + 1} holds a key made under two networks`);
    }
  });
});
