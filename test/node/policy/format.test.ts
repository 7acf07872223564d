/** The policy file: a full example loads with its units applied; every mistake is refused naming its field. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadAddressChecks } from '../../../node/policy/address-checks.ts';
import { loadPolicyFile, parsePolicy, parsePolicyLoading } from '../../../node/policy/format.ts';
import { generateIdentity, peerIdOf } from '../../../node/storage/identity.ts';
import { FrostnetError } from '../../../protocol/errors.ts';
import { testWallet } from '../../bitcoin/helpers.ts';
import { NET, outsideAddress, withDir } from './helpers.ts';

const PEER = peerIdOf(await generateIdentity());
const CHECKS = await loadAddressChecks();
const PAYEE = outsideAddress(testWallet(NET, 'payee').wallet, 0);

const FULL = {
  version: 1,
  approvalExpirySeconds: 3600,
  default: { rawMessages: false, bitcoin: false, evm: false },
  keys: {
    treasury: {
      schemes: ['bip340'],
      requesters: [PEER, 'self'],
      requestsPerHour: 30,
      requireApproval: false,
      bitcoin: {
        networks: ['regtest'],
        maxSentPerTx: '0.5 btc',
        maxSentPerDay: 100_000_000,
        destinations: [PAYEE],
        changeToSelf: true,
        maxChangeIndex: 500,
        maxFee: '50000',
        maxFeeRate: 25.5,
        approvalAbove: '0.1 BTC',
        timeLock: { above: '0.2 btc', delaySeconds: 86400 },
      },
      evm: {
        chainIds: [1, '8453'],
        actions: ['Execute'],
        targets: [`0x${'ab'.repeat(20)}`],
        selectors: ['0xA9059CBB', '0x'],
        maxValuePerTx: '1.5 ether',
        maxValuePerDay: '20 gwei',
        approvalAbove: '1000',
        timeLock: { above: 0, delaySeconds: 60 },
      },
    },
  },
};

test('a full policy loads, with amounts in base units', () => {
  const p = parsePolicy(FULL, 'policy', CHECKS);
  assert.equal(p.approvalExpirySeconds, 3600);
  assert.equal(p.default?.rawMessages, false);
  assert.equal(p.default?.bitcoin, false);
  const t = p.keys.treasury;
  assert.ok(t.bitcoin && t.evm);
  assert.equal(t.bitcoin.maxSentPerTx, 50_000_000n);
  assert.equal(t.bitcoin.maxSentPerDay, 100_000_000n);
  assert.equal(t.bitcoin.approvalAbove, 10_000_000n);
  assert.deepEqual(t.bitcoin.timeLock, { above: 20_000_000n, delaySeconds: 86400 });
  assert.equal(t.bitcoin.maxChangeIndex, 500);
  assert.equal(t.bitcoin.destinationScripts?.size, 1);
  assert.deepEqual(t.evm.chainIds, [1n, 8453n]);
  assert.equal(t.evm.maxValuePerTx, 1_500_000_000_000_000_000n);
  assert.equal(t.evm.maxValuePerDay, 20_000_000_000n);
  assert.deepEqual(t.evm.selectors, ['0xa9059cbb', '0x']);
  assert.deepEqual(parsePolicy({}), { approvalExpirySeconds: 86400, keys: {} });
});

const bad: [string, unknown, RegExp][] = [
  ['unknown top-level field', { defaults: {} }, /"defaults" is not a known field/],
  ['version', { version: 2 }, /"version" must be 1/],
  ['expiry', { approvalExpirySeconds: 0 }, /"approvalExpirySeconds" must be an integer/],
  ['rules not an object', { keys: { k: [] } }, /"keys\.k" must be an object/],
  ['typo in a rule', { keys: { k: { rawMessage: false } } }, /"keys\.k\.rawMessage" is not a known field/],
  ['scheme', { default: { schemes: ['ecdsa'] } }, /"default\.schemes\[0\]" must be one of bip340, rfc9591/],
  ['requester', { default: { requesters: ['alice'] } }, /"default\.requesters\[0\]" is not a peer id/],
  ['empty list', { default: { requesters: [] } }, /"default\.requesters" must be a non-empty array/],
  ['rate', { default: { requestsPerHour: 1.5 } }, /"default\.requestsPerHour" must be an integer/],
  ['boolean', { default: { requireApproval: 'yes' } }, /"default\.requireApproval" must be true or false/],
  [
    'network',
    { default: { bitcoin: { networks: ['liquid'] } } },
    /"default\.bitcoin\.networks\[0\]" must be one of/,
  ],
  [
    'fractional satoshis',
    { default: { bitcoin: { maxSentPerTx: '0.000000001 btc' } } },
    /"default\.bitcoin\.maxSentPerTx" is not a whole number of sat/,
  ],
  [
    'unit',
    { default: { bitcoin: { maxFee: '5 eth' } } },
    /"default\.bitcoin\.maxFee" has an unknown unit "eth"/,
  ],
  [
    'negative',
    { default: { bitcoin: { maxFee: -1 } } },
    /"default\.bitcoin\.maxFee" must be a whole number of sat/,
  ],
  [
    'address on another network',
    { default: { bitcoin: { networks: ['mainnet'], destinations: [PAYEE] } } },
    /"default\.bitcoin\.destinations\[0\]" is not a Bitcoin address on mainnet/,
  ],
  [
    'change index without the rule',
    { default: { bitcoin: { maxChangeIndex: 5 } } },
    /"default\.bitcoin\.maxChangeIndex" only applies with "changeToSelf": true/,
  ],
  [
    'fee rate',
    { default: { bitcoin: { maxFeeRate: 0 } } },
    /"default\.bitcoin\.maxFeeRate" must be a positive number/,
  ],
  [
    'fee share',
    { default: { bitcoin: { maxFeeShare: 1.5 } } },
    /"default\.bitcoin\.maxFeeShare" must be a number above 0 and at most 1/,
  ],
  [
    'time lock without delay',
    { default: { bitcoin: { timeLock: { above: 5 } } } },
    /"default\.bitcoin\.timeLock\.delaySeconds" is required/,
  ],
  ['chain id', { default: { evm: { chainIds: [0] } } }, /"default\.evm\.chainIds\[0\]" must not be 0/],
  [
    'action',
    { default: { evm: { actions: ['Transfer'] } } },
    /"default\.evm\.actions\[0\]" must be one of Execute, RotateKey/,
  ],
  [
    'target',
    { default: { evm: { targets: ['0x1234'] } } },
    /"default\.evm\.targets\[0\]" must be a 0x address/,
  ],
  [
    'target checksum',
    { default: { evm: { targets: [`0xAb${'ab'.repeat(19)}`] } } },
    /"default\.evm\.targets\[0\]" has a wrong checksum/,
  ],
  [
    'selector',
    { default: { evm: { selectors: ['transfer'] } } },
    /"default\.evm\.selectors\[0\]" must be a 4-byte selector/,
  ],
  [
    'wei',
    { default: { evm: { maxValuePerTx: 1e30 } } },
    /"default\.evm\.maxValuePerTx" must be a whole number of wei/,
  ],
];

for (const [what, input, message] of bad)
  test(`refused, naming the field: ${what}`, () => {
    assert.throws(
      () => parsePolicy(input, 'policy p.json', CHECKS),
      (e) =>
        e instanceof FrostnetError &&
        e.code === 'INVALID_INPUT' &&
        e.message.startsWith('policy p.json: ') &&
        message.test(e.message),
    );
  });

test('the address checks are needed only for a policy that names an address to check', async () => {
  // Without them, only what needs no chain decoder parses: one-case EVM targets carry no checksum.
  const plain = { default: { evm: { targets: [`0x${'AB'.repeat(20)}`] } } };
  assert.deepEqual(parsePolicy(plain).default?.evm, parsePolicy(plain, 'policy', CHECKS).default?.evm);
  // EIP-55's own example of a checksummed address.
  const mixed = { default: { evm: { targets: ['0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'] } } };
  for (const named of [FULL, mixed]) {
    assert.throws(() => parsePolicy(named), /parse it with the address checks/);
    assert.deepEqual(await parsePolicyLoading(named), parsePolicy(named, 'policy', CHECKS));
  }
  await assert.rejects(
    parsePolicyLoading({ default: { evm: { targets: [`0xAb${'ab'.repeat(19)}`] } } }, 'policy p.json'),
    /policy p\.json: "default\.evm\.targets\[0\]" has a wrong checksum/,
  );
});

test('files: none is undefined; broken JSON and bad fields name the file', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'policy.json');
    assert.equal(await loadPolicyFile(file), undefined);
    await writeFile(file, '{ "keys": ');
    await assert.rejects(loadPolicyFile(file), /policy .*policy\.json is not valid JSON/);
    await writeFile(file, JSON.stringify({ keys: { k: { bitcoin: { maxFee: 'lots' } } } }));
    await assert.rejects(
      loadPolicyFile(file),
      /policy .*policy\.json: "keys\.k\.bitcoin\.maxFee" must be a whole number/,
    );
    await writeFile(file, JSON.stringify(FULL));
    assert.equal((await loadPolicyFile(file))?.keys.treasury.requestsPerHour, 30);
  });
});
