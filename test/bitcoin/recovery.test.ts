/**
 * Recovery policies: parsing and validation at the edge, the stored JSON form, the leaf script of
 * and_v(v:pk(R),older(N)), and each address's tree and output key, checked against @scure/bip32 and
 * @scure/btc-signer deriving and building the same tree on their own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HDKey } from '@scure/bip32';
import { p2tr, Script } from '@scure/btc-signer';
import { descriptorAddress } from '../../chains/bitcoin/address.ts';
import { base58check } from '../../chains/bitcoin/base58.ts';
import { descriptorKey, walletKey, xpub } from '../../chains/bitcoin/keys.ts';
import type { NetworkName } from '../../chains/bitcoin/network.ts';
import {
  balancedTree,
  earliestOlder,
  formatRecoveryKey,
  parseRecoveryKey,
  parseRecoveryLeafScript,
  parseRecoveryPolicy,
  recoveryLeafScript,
  recoveryPolicyJson,
  recoveryTreeAt,
} from '../../chains/bitcoin/recovery.ts';
import { bytesToHex, equalBytes, G, hexToBytes, xOnly } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { independentP2tr, recoveryHolder, scureNetwork, TEST_VERSIONS, testWallet } from './helpers.ts';

const rejects = (fn: () => unknown, message: RegExp) =>
  assert.throws(
    fn,
    (e) => e instanceof FrostnetError && e.code === 'INVALID_INPUT' && message.test(e.message),
  );

const policyOf = (leaves: { key: string; older: number }[]) => parseRecoveryPolicy({ version: 1, leaves });

// BIP86's account key of "abandon ... about": master fingerprint 73c5da0a, path m/86'/0'/0'.
const BIP86_ACCOUNT =
  'xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ';
const FIXED = bytesToHex(xOnly(G.multiply(7n)));

test('recovery keys: xpub with origin, depth-0 xpub, tpub, fixed x-only key; the JSON form reads back the same', () => {
  const withOrigin = parseRecoveryKey(`[73C5DA0A/86'/0h/0H]${BIP86_ACCOUNT}/<0;1>/*`);
  assert.equal(formatRecoveryKey(withOrigin, 'mainnet'), `[73c5da0a/86h/0h/0h]${BIP86_ACCOUNT}`);
  const group = testWallet('mainnet', 'another group').wallet.root;
  const bare = parseRecoveryKey(xpub(group, 'mainnet'));
  assert.equal(bare.kind, 'xpub');
  // A tpub is the same key: stored as xpub, written for the network a descriptor is for.
  const tpub = parseRecoveryKey(xpub(group, 'testnet'));
  assert.equal(formatRecoveryKey(tpub, 'mainnet'), formatRecoveryKey(bare, 'mainnet'));
  assert.equal(formatRecoveryKey(tpub, 'regtest'), formatRecoveryKey(bare, 'testnet'));
  assert.match(formatRecoveryKey(bare, 'signet'), /^\[[0-9a-f]{8}\]tpub/);
  assert.equal(formatRecoveryKey(parseRecoveryKey(FIXED), 'mainnet'), FIXED);
  assert.equal(
    formatRecoveryKey(parseRecoveryKey(`[01020304/1h]${FIXED}`), 'mainnet'),
    `[01020304/1h]${FIXED}`,
  );

  const json = {
    version: 1,
    leaves: [
      { key: `[73c5da0a/86h/0h/0h]${BIP86_ACCOUNT}`, older: 52_560 },
      { key: xpub(group, 'testnet'), older: 144 },
      { key: FIXED, older: 65_535 },
    ],
  };
  const policy = parseRecoveryPolicy(json);
  const stored = recoveryPolicyJson(policy);
  assert.deepEqual(stored.leaves[1], { key: formatRecoveryKey(bare, 'mainnet'), older: 144 });
  assert.deepEqual(recoveryPolicyJson(parseRecoveryPolicy(JSON.parse(JSON.stringify(stored)))), stored);
  assert.equal(earliestOlder(policy), 144);
});

test('recovery keys that are wrong, private, of another script type or without their origin are refused', () => {
  const hd = HDKey.fromMasterSeed(new Uint8Array(32).fill(9));
  const account = hd.derive("m/86'/0'/0'");
  const fp = hd.fingerprint.toString(16).padStart(8, '0');
  const ypub = base58check(Uint8Array.from([0x04, 0x9d, 0x7c, 0xb2, ...xpubBody(account)]));
  const cases: [string, RegExp][] = [
    [hd.privateExtendedKey, /private key/],
    [ypub, /ypub prefix names a script type/],
    [account.publicExtendedKey, /depth 3: give it with its origin/],
    [`[${fp}/86h/0h]${account.publicExtendedKey}`, /2 steps, but the key is at depth 3/],
    [`[${fp}/86h/0h/1h]${account.publicExtendedKey}`, /last step is not the key's child number/],
    [`[00000000]${hd.publicExtendedKey}`, /depth-0 key's origin fingerprint must be its own/],
    [`[${fp}/86h/0h/0h]${account.publicExtendedKey}/0/*`, /derives as KEY\/<0;1>\/\*/],
    [`[${fp}/86x]${account.publicExtendedKey}`, /"86x" is not a derivation step/],
    [`[${fp.slice(1)}]${hd.publicExtendedKey}`, /not a fingerprint/],
    [`${account.publicExtendedKey.slice(0, -1)}A`, /checksum does not match/],
    [`02${FIXED}`, /32-byte x-only key/],
    ['f'.repeat(64), /not a point on secp256k1/],
    [`${FIXED}/0/*`, /fixed x-only key has no derivation/],
    ['bc1qwhatever', /not a base58 character|checksum|bytes/],
  ];
  for (const [text, why] of cases) rejects(() => parseRecoveryKey(text), why);
  const d1 = hd.deriveChild(5);
  rejects(
    () => parseRecoveryKey(`[deadbeef/5]${d1.publicExtendedKey}`),
    /origin fingerprint is not the key's parent/,
  );
  assert.equal(parseRecoveryKey(`[${fp}/5]${d1.publicExtendedKey}`).kind, 'xpub');
});

/** The 74 bytes after an xpub's version, to write the same key under another prefix. */
function xpubBody(key: HDKey): number[] {
  const bytes = new Uint8Array(74);
  bytes[0] = key.depth;
  new DataView(bytes.buffer).setUint32(1, key.parentFingerprint, false);
  new DataView(bytes.buffer).setUint32(5, key.index, false);
  bytes.set(key.chainCode!, 9);
  bytes.set(key.publicKey!, 41);
  return [...bytes];
}

test('recovery policies: N in 1..65535 blocks, 1 to 8 distinct leaves, exactly the known fields, version 1', () => {
  const leaf = (older: unknown, key = FIXED) => ({ key, older });
  for (const older of [0, 65_536, 1.5, -1, '144', null])
    rejects(() => parseRecoveryPolicy({ version: 1, leaves: [leaf(older)] }), /from 1 to 65535/);
  rejects(() => parseRecoveryPolicy({ version: 1, leaves: [] }), /list of 1 to 8/);
  rejects(
    () => parseRecoveryPolicy({ version: 1, leaves: Array.from({ length: 9 }, (_, i) => leaf(i + 1)) }),
    /list of 1 to 8/,
  );
  rejects(() => parseRecoveryPolicy({ version: 2, leaves: [leaf(10)] }), /version 2 is not supported/);
  rejects(() => parseRecoveryPolicy({ version: 1, leaves: [leaf(10)], extra: 1 }), /unexpected: extra/);
  rejects(() => parseRecoveryPolicy({ version: 1, leaves: [{ key: FIXED, older: 10, after: 3 }] }), /after/);
  rejects(() => parseRecoveryPolicy({ version: 1, leaves: [leaf(10), leaf(10)] }), /leaf 1 repeats leaf 0/);
  rejects(() => parseRecoveryPolicy([leaf(10)]), /not an object/);
  assert.equal(parseRecoveryPolicy({ version: 1, leaves: [leaf(10), leaf(11)] }).leaves.length, 2);
});

test('the leaf script is <R> OP_CHECKSIGVERIFY <N> OP_CHECKSEQUENCEVERIFY with N minimally encoded', () => {
  const R = xOnly(G.multiply(11n));
  const push = `20${bytesToHex(R)}`;
  // CScriptNum: little endian, a zero byte added when the top bit is set; 1..16 are OP_1..OP_16.
  const numbers: [number, string][] = [
    [1, '51'],
    [16, '60'],
    [17, '0111'],
    [127, '017f'],
    [128, '028000'],
    [144, '029000'],
    [4032, '02c00f'],
    [32_767, '02ff7f'],
    [32_768, '03008000'],
    [52_560, '0350cd00'],
    [65_535, '03ffff00'],
  ];
  for (const [n, encoded] of numbers) {
    const leaf = recoveryLeafScript(R, n);
    assert.equal(bytesToHex(leaf), `${push}ad${encoded}b2`, `N = ${n}`);
    assert.deepEqual(leaf, Script.encode([R, 'CHECKSIGVERIFY', n, 'CHECKSEQUENCEVERIFY']), `scure, N = ${n}`);
    assert.deepEqual(parseRecoveryLeafScript(leaf), { key: R, older: n });
  }
  // Every N a leaf may hold, against scure's encoder (the module writes the push itself).
  for (let n = 1; n <= 65_535; n++) {
    const leaf = recoveryLeafScript(R, n);
    if (!equalBytes(leaf, Script.encode([R, 'CHECKSIGVERIFY', n, 'CHECKSEQUENCEVERIFY'])))
      assert.fail(`N = ${n} encodes as ${bytesToHex(leaf)}`);
    if (parseRecoveryLeafScript(leaf)?.older !== n) assert.fail(`N = ${n} does not read back`);
  }
  // Non-minimal pushes, other opcodes and other shapes are not recovery leaves.
  for (const other of [
    `${push}ad0101b2`,
    `${push}ad029000b1`,
    `${push}ac029000b2`,
    `${push}ad0400800000b2`,
    '51',
  ])
    assert.equal(parseRecoveryLeafScript(hexToBytes(other)), undefined, other);
  rejects(() => recoveryLeafScript(R, 0), /from 1 to 65535/);
  rejects(() => recoveryLeafScript(R.subarray(1), 10), /32-byte x-only key/);
});

test('balanced trees keep the policy order: first half left, the rest right', () => {
  assert.deepEqual(balancedTree([1]), 1);
  assert.deepEqual(balancedTree([1, 2]), [1, 2]);
  assert.deepEqual(balancedTree([1, 2, 3]), [[1, 2], 3]);
  assert.deepEqual(balancedTree([1, 2, 3, 4, 5]), [
    [[1, 2], 3],
    [4, 5],
  ]);
});

/** The same address built by @scure alone: K and each R derived with @scure/bip32, the tree with btc-signer. */
function scureAddress(
  network: NetworkName,
  groupXpub: string,
  leaves: { key: HDKey | Uint8Array; older: number }[],
  branch: number,
  index: number,
) {
  const versions = network === 'mainnet' ? undefined : TEST_VERSIONS;
  const internal = HDKey.fromExtendedKey(groupXpub, versions).deriveChild(branch).deriveChild(index);
  const scripts = leaves.map(({ key, older }) => {
    const R = key instanceof HDKey ? key.deriveChild(branch).deriveChild(index).publicKey!.subarray(1) : key;
    return { script: Script.encode([R, 'CHECKSIGVERIFY', older, 'CHECKSEQUENCEVERIFY']) };
  });
  // The shape recovery.ts gives one and three leaves, written out: A, or {{A,B},C}.
  const [a, b, c] = scripts;
  const tree = c ? [[a!, b!], c] : a!;
  return p2tr(internal.publicKey!.subarray(1), tree, scureNetwork(network), true);
}

test('each address commits to its own tree: R derived at the same branch and index, matching @scure', () => {
  for (const network of ['mainnet', 'testnet', 'regtest'] as NetworkName[]) {
    const { wallet } = testWallet(network);
    const lawyer = recoveryHolder('lawyer', network);
    const heir = recoveryHolder('heir', network);
    const fixed = xOnly(G.multiply(99n));
    const policies = [
      { leaves: [{ key: lawyer.keyText, older: 52_560 }], scure: [{ key: lawyer.account, older: 52_560 }] },
      {
        leaves: [
          { key: lawyer.keyText, older: 26_280 },
          { key: heir.keyText, older: 52_560 },
          { key: bytesToHex(fixed), older: 65_535 },
        ],
        scure: [
          { key: lawyer.account, older: 26_280 },
          { key: heir.account, older: 52_560 },
          { key: fixed, older: 65_535 },
        ],
      },
    ];
    for (const p of policies) {
      const recovery = policyOf(p.leaves);
      const recoverable = { ...wallet, recovery };
      for (const [branch, index] of [
        [0, 0],
        [0, 1],
        [1, 0],
        [0, 7],
        [1, 1000],
      ] as const) {
        const ours = descriptorKey(recoverable, [branch, index]);
        const theirs = scureAddress(network, xpub(wallet.root, network), p.scure, branch, index);
        assert.equal(
          bytesToHex(ours.outputKey),
          bytesToHex(theirs.tweakedPubkey),
          `${network} ${branch}/${index}`,
        );
        assert.equal(descriptorAddress(recoverable, { change: branch === 1, index }), theirs.address);
        assert.deepEqual(
          ours.internalKey,
          walletKey(wallet.root, { change: branch === 1, index }).internalKey,
        );
        // Each leaf's key is R/branch/index, and its PSBT derivation says so.
        const tree = recoveryTreeAt(recovery, branch, index);
        assert.deepEqual(ours.merkleRoot, tree.merkleRoot);
        const first = tree.leaves[0]!;
        assert.deepEqual(
          first.key,
          lawyer.account.deriveChild(branch).deriveChild(index).publicKey!.subarray(1),
        );
        assert.equal(first.derivation!.path.length, 5);
        assert.deepEqual(first.derivation!.path.slice(3), [branch, index]);
        // Not the address of the same index without the tree: the policy changes every address.
        assert.notEqual(
          descriptorAddress(recoverable, { change: branch === 1, index }),
          independentP2tr(xpub(wallet.root, network), network, branch, index).address,
        );
      }
    }
  }
});

test('with a recovery policy only receive and change paths are addresses; without one nothing changes', () => {
  const { wallet } = testWallet('testnet');
  const recovery = policyOf([{ key: FIXED, older: 100 }]);
  for (const path of [[], [0], [2, 0], [0, 0, 0]])
    assert.throws(
      () => descriptorKey({ ...wallet, recovery }, path),
      (e) =>
        e instanceof FrostnetError && e.code === 'WRONG_CONTEXT' && /m\/0\/i and m\/1\/i/.test(e.message),
    );
  assert.deepEqual(descriptorKey(wallet, [0, 3]), walletKey(wallet.root, { change: false, index: 3 }));
  assert.equal(descriptorKey(wallet, [0, 3]).merkleRoot, undefined);
});
