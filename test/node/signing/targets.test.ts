/**
 * Signing domains, as each party resolves a request: a raw message in any form never signs under a key of the
 * wallet, an EVM account or custody proposals; a PSBT or typed data never leaves its own branch; the network
 * is the key's. The keys are computed here from the group key alone and compared with what a request signs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Psbt } from 'bitcoinjs-lib';
import { p2trScript } from '../../../chains/bitcoin/address.ts';
import { buildWalletPsbt } from '../../../chains/bitcoin/build.ts';
import { keyAtPath, masterFingerprint, walletKey } from '../../../chains/bitcoin/keys.ts';
import {
  DOMAINS,
  type Domain,
  DRILL_BRANCH,
  domainOfPath,
  drillMessage,
  RAW_BRANCH,
} from '../../../chains/domains.ts';
import { EVM_BRANCH, evmKey } from '../../../chains/evm/keys.ts';
import { executeTypedData, rotateKeyTypedData } from '../../../chains/evm/typed-data.ts';
import { codecs, decodeSignRequest, encodeSignRequest } from '../../../node/session/messages.ts';
import { DOMAIN_OF, type ResolvedRequest, resolveRequest } from '../../../node/signing/targets.ts';
import { bytesToHex, xOnly } from '../../../protocol/curve.ts';
import { formatPath, HARDENED } from '../../../protocol/derive.ts';
import { FrostnetError } from '../../../protocol/errors.ts';
import { groupKey } from '../../../protocol/keys.ts';
import { tweakPoint } from '../../../protocol/tweak.ts';
import { makeKey } from '../../helpers/keys.ts';

const { group } = makeKey(2, 3).get('party-1')!;
const root = { key: groupKey(group), chainCode: group.chainCode };
const key = { group, network: 'regtest' as const };
const wallet = { root, network: 'regtest' as const };
/** The party's clock: none of these requests is a custody proposal, the one kind whose expiry it decides. */
const NOW = Date.UTC(2025, 0, 1);

/** Every key something of value verifies under (the first addresses and accounts), x-only hex. */
const guarded = new Map<string, string>();
guarded.set(bytesToHex(xOnly(root.key)), 'the group key (custody proposals)');
for (const change of [false, true])
  for (let index = 0; index < 8; index++) {
    const k = walletKey(root, { change, index });
    guarded.set(bytesToHex(k.outputKey), `wallet output key ${formatPath(k.path)}`);
    guarded.set(bytesToHex(xOnly(k.internalKey)), `wallet internal key ${formatPath(k.path)}`);
  }
for (let account = 0; account < 8; account++)
  guarded.set(bytesToHex(evmKey(root, account).px), `EVM ${account}`);

const signingKeys = (r: ResolvedRequest) =>
  r.targets.map((t) => bytesToHex(xOnly(tweakPoint(root.key, t.steps))));
const denied = (code: string, pattern: RegExp) => (e: unknown) =>
  e instanceof FrostnetError && e.code === code && pattern.test(e.message);

describe('signing domains', () => {
  test('the table: every kind of request has a domain, and no branch belongs to two', () => {
    const branches = Object.values(DOMAINS).flatMap((d) => d.branches);
    assert.equal(new Set(branches).size, branches.length, `a branch is shared: ${branches}`);
    for (const b of branches)
      assert.ok(Number.isInteger(b) && b >= 0 && b < HARDENED, `${b} is not unhardened`);
    assert.deepEqual(
      new Set(Object.values(DOMAIN_OF)),
      new Set(Object.keys(DOMAINS) as Domain[]),
      'each domain is some kind of request',
    );
    assert.equal(domainOfPath([]), 'proposal');
    assert.equal(domainOfPath([0, 5]), 'bitcoin');
    assert.equal(domainOfPath([1, 5]), 'bitcoin');
    assert.equal(domainOfPath([0]), undefined);
    assert.equal(domainOfPath([0, 5, 1]), undefined);
    assert.equal(domainOfPath([EVM_BRANCH, 3]), 'evm');
    assert.equal(domainOfPath([RAW_BRANCH]), 'raw');
    assert.equal(domainOfPath([RAW_BRANCH, 0, 2]), 'raw');
    assert.equal(domainOfPath([DRILL_BRANCH]), 'drill');
    assert.equal(domainOfPath([DRILL_BRANCH, 0]), undefined);
  });

  test('a raw message in every form signs under no key of the wallet, the EVM accounts or proposals', async () => {
    const sighash = new Uint8Array(32).fill(7);
    const forms: [number[], boolean][] = [
      [[], false],
      [[], true],
      [[0, 2], false],
      [[0, 2], true],
      [[1, 0], true],
      [[0], true],
      [[EVM_BRANCH, 0], false],
      [[RAW_BRANCH], false],
    ];
    for (const [path, taproot] of forms) {
      const r = await resolveRequest(key, 'bip340', { raw: { message: sighash, path, taproot } }, NOW);
      assert.equal(r.kind, 'raw');
      for (const k of signingKeys(r))
        assert.ok(
          !guarded.has(k),
          `raw ${formatPath(path)}${taproot ? ' taproot' : ''} signs under ${guarded.get(k)}`,
        );
      // The key is the raw branch's child at that path, tweaked when asked.
      const expected = keyAtPath(root, [RAW_BRANCH, ...path]);
      assert.deepEqual(signingKeys(r), [
        bytesToHex(taproot ? expected.outputKey : xOnly(expected.internalKey)),
      ]);
    }
  });

  test('a drill signs a tagged hash of its challenge, never its bytes, under the drill key only', async () => {
    const challenge = new Uint8Array(32).fill(9);
    const r = await resolveRequest(key, 'rfc9591', { drill: { challenge } }, NOW);
    const [k] = signingKeys(r);
    assert.ok(!guarded.has(k));
    assert.equal(k, bytesToHex(xOnly(keyAtPath(root, [DRILL_BRANCH]).internalKey)));
    assert.deepEqual(r.targets[0].message, drillMessage(challenge));
    assert.notDeepEqual(r.targets[0].message, challenge);
  });

  test("a RotateKey to one of this group's other keys is refused, whatever the policy", async () => {
    for (const [what, path] of [
      ['group key', []],
      ['drill key', [DRILL_BRANCH]],
      ['raw-message key', [RAW_BRANCH]],
    ] as const) {
      const json = JSON.stringify(
        rotateKeyTypedData(
          { chainId: 1n, address: `0x${'11'.repeat(20)}` },
          { newKey: xOnly(keyAtPath(root, path).internalKey), nonce: 0n, deadline: 9n },
        ),
      );
      await assert.rejects(
        resolveRequest(key, 'bip340', { typedData: { json, account: 0 } }, NOW),
        denied('POLICY_DENIED', new RegExp(`to the ${what}.* of this very group`)),
      );
    }
  });

  test('a PSBT input that derives outside the wallet branches m/0 and m/1 is refused', async () => {
    for (const path of [
      [RAW_BRANCH, 0],
      [EVM_BRANCH, 0],
      [2, 0],
      [0, 0, 0],
    ]) {
      const k = keyAtPath(root, path);
      const pubkey = xOnly(k.internalKey);
      const psbt = new Psbt();
      psbt.addInput({
        hash: Buffer.alloc(32, 1),
        index: 0,
        witnessUtxo: { script: Buffer.from(p2trScript(k.outputKey)), value: 100_000n },
        tapInternalKey: Buffer.from(pubkey),
        tapBip32Derivation: [
          {
            masterFingerprint: Buffer.from(masterFingerprint(root)),
            pubkey: Buffer.from(pubkey),
            path: formatPath(path),
            leafHashes: [],
          },
        ],
      } as never);
      psbt.addOutput({ script: Buffer.from(p2trScript(k.outputKey)), value: 90_000n } as never);
      await assert.rejects(
        resolveRequest(key, 'bip340', { psbt: { psbt: psbt.toBuffer(), network: 'regtest' } }, NOW),
        denied('POLICY_DENIED', new RegExp(`derives ${formatPath(path)}, outside the keys of its kind`)),
        formatPath(path),
      );
    }
  });

  test('a "change" output claiming a key outside m/0 and m/1 is refused, not counted as kept', async () => {
    for (const path of [[RAW_BRANCH], [EVM_BRANCH, 0], [5, 5], [0, 1, 2]]) {
      const { psbt } = buildWalletPsbt(wallet, {
        utxos: [{ txid: 'cd'.repeat(32), vout: 0, amount: 100_000n, change: false, index: 1 }],
        payments: [
          { address: 'bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6', amount: 1_000n },
        ],
        changeIndex: 0,
        feeRate: 2,
      });
      // The rest of the coin to the Taproot key of `path`, with a derivation that claims it as this wallet's.
      const k = keyAtPath(root, path);
      const pubkey = Buffer.from(xOnly(k.internalKey));
      psbt.addOutput({
        script: Buffer.from(p2trScript(k.outputKey)),
        value: 90_000n,
        tapInternalKey: pubkey,
        tapBip32Derivation: [
          {
            masterFingerprint: Buffer.from(masterFingerprint(root)),
            pubkey,
            path: formatPath(path),
            leafHashes: [],
          },
        ],
      } as never);
      await assert.rejects(
        resolveRequest(key, 'bip340', { psbt: { psbt: psbt.toBuffer(), network: 'regtest' } }, NOW),
        denied(
          'POLICY_DENIED',
          new RegExp(`output 2 derives ${formatPath(path)}, outside the keys of its kind`),
        ),
        formatPath(path),
      );
    }
  });

  test("a PSBT request names the key's network or is refused; the wallet's own PSBT signs its inputs", async () => {
    const { psbt } = buildWalletPsbt(wallet, {
      utxos: [{ txid: 'ab'.repeat(32), vout: 0, amount: 100_000n, change: false, index: 3 }],
      payments: [
        { address: 'bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6', amount: 50_000n },
      ],
      changeIndex: 0,
      feeRate: 2,
    });
    const bytes = psbt.toBuffer();
    const ok = await resolveRequest(key, 'bip340', { psbt: { psbt: bytes, network: 'regtest' } }, NOW);
    assert.deepEqual(signingKeys(ok), [bytesToHex(walletKey(root, { change: false, index: 3 }).outputKey)]);
    for (const network of ['mainnet', 'testnet', 'signet'])
      await assert.rejects(
        resolveRequest(key, 'bip340', { psbt: { psbt: bytes, network } }, NOW),
        denied('POLICY_DENIED', new RegExp(`for a ${network} PSBT, but this key is a regtest key`)),
      );
  });

  test('EIP-712 actions sign under their account key', async () => {
    const json = JSON.stringify(
      executeTypedData(
        { chainId: 1n, address: `0x${'11'.repeat(20)}` },
        { to: `0x${'22'.repeat(20)}`, value: 1n, data: '0x', nonce: 0n, deadline: 9n },
      ),
    );
    const r = await resolveRequest(key, 'bip340', { typedData: { json, account: 2 } }, NOW);
    assert.deepEqual(signingKeys(r), [bytesToHex(evmKey(root, 2).px)]);
  });

  test('a raw request from a coordinator that predates signing domains is refused, not signed elsewhere', () => {
    const request = {
      groupKey: groupKey(group).toBytes(true),
      epoch: 0,
      scheme: 'bip340',
      payload: { raw: { message: new Uint8Array(32), path: [0, 2], taproot: true } },
      requester: 'party-2',
    };
    // Today's encoder marks the path as below the raw branch; the same request without the mark is refused.
    const decoded = decodeSignRequest(encodeSignRequest(request), 'party-2');
    assert.deepEqual(decoded.payload, request.payload);
    const legacy = codecs.signRequest.encode(request as never);
    assert.throws(
      () => decodeSignRequest(legacy, 'party-2'),
      denied('BAD_REQUEST', /predates signing domains/),
    );
  });
});
