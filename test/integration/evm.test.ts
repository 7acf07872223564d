/**
 * The "must show" on a real EVM: a ThresholdAccount on anvil controlled by a 2-of-3 key of real party
 * daemons. Every signature here is made by the network through the control API from the typed data itself
 * (each party decodes it and recomputes the digest); none comes from a test-held secret.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { Contract, ContractFactory, getAddress, JsonRpcProvider, parseEther, type Signer } from 'ethers';
import { walletRoot } from '../../chains/bitcoin/keys.ts';
import {
  deployAccount,
  deployFactory,
  isValidSignature,
  predictAccount,
  prepareExecute,
  prepareRotateKey,
  readGroupKey,
  readNonce,
  submitExecute,
  submitRotateKey,
} from '../../chains/evm/account.ts';
import { compiledContract } from '../../chains/evm/compile.ts';
import { measureGas } from '../../chains/evm/gas.ts';
import { EVM_BRANCH, evmKey } from '../../chains/evm/keys.ts';
import type { Bip340Signer } from '../../chains/evm/signer.ts';
import {
  decodeExecute,
  decodeTypedData,
  executeTypedData,
  type TypedData,
} from '../../chains/evm/typed-data.ts';
import { bytesToHex, hexToBytes } from '../../protocol/curve.ts';
import { type ErrorCode, FrostnetError } from '../../protocol/errors.ts';
import { type Anvil, startAnvil } from '../helpers/anvil.ts';
import { reverted } from '../helpers/evm.ts';
import { Network } from '../helpers/network.ts';
import { writePolicy } from '../helpers/network-extra.ts';

const KEY = 'treasury';
/** A second DKG key of the same parties: the "different key", and the key the account rotates to. */
const OTHER = 'successor';

describe('a ThresholdAccount on anvil signed by a 2-of-3 daemon network', () => {
  let anvil: Anvil;
  let net: Network;
  let provider: JsonRpcProvider;
  let relayer: Signer;
  let recipient: string;
  let factory: string;
  let account: string;
  /** The x-only EVM keys (account 0) of the two DKG keys, derived here from what the API shows. */
  const px: Record<string, Uint8Array> = {};
  // The first transfer, kept to replay it.
  let spent: { td: TypedData; signature: Uint8Array } | undefined;
  // Spread the coordinator role over the parties: every daemon coordinates some of the requests.
  let nextCoordinator = 0;

  /** The API's sign request for `typedData`, as the request view it ends in. */
  const requestSignature = (name: string, typedData: unknown, account = 0) =>
    net.run(nextCoordinator++ % 3, `/v1/keys/${name}/sign`, { typedData, account });

  /** A signature the network made for `typedData` under key `name`'s EVM account key. */
  async function networkSign(name: string, typedData: unknown, account = 0): Promise<Uint8Array> {
    const r = await requestSignature(name, typedData, account);
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    assert.equal(r.result.signers.length, 2);
    return hexToBytes(r.result.signatures[0]);
  }

  const deadline = async (offset = 3600n) =>
    BigInt((await provider.getBlock('latest'))?.timestamp ?? 0) + offset;
  const transfer = async (value = parseEther('0.01'), offset = 3600n) =>
    prepareExecute(provider, account, { to: recipient, value, deadline: await deadline(offset) });

  async function evmKeyOf(name: string, account = 0): Promise<Uint8Array> {
    const { status, json } = await net.call(1, 'GET', `/v1/keys/${name}`);
    assert.equal(status, 200, JSON.stringify(json));
    return evmKey(walletRoot(hexToBytes(json.groupKey), hexToBytes(json.chainCode)), account).px;
  }

  before(async () => {
    const started = await Promise.allSettled([
      startAnvil(),
      (async () => {
        const n = await Network.create(3);
        net = n;
        // These operators let their keys rotate the account unattended: the contract's rotation is tested here.
        // (By default a RotateKey is refused unless listed, and then held for approval: signing-domains.test.ts.)
        const policy = {
          default: { evm: { actions: ['Execute', 'RotateKey'], rotateKeyRequiresApproval: false } },
        };
        for (const i of n.parties.keys()) await writePolicy(n, i, policy);
        await n.startAll();
      })(),
    ]);
    if (started[0].status === 'fulfilled') anvil = started[0].value;
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    for (const name of [KEY, OTHER]) {
      const dkg = await net.keygen(0, name, 2);
      assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
      px[name] = await evmKeyOf(name);
    }
    provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
    relayer = await provider.getSigner(0);
    recipient = getAddress(await (await provider.getSigner(1)).getAddress());
    factory = await deployFactory(relayer);
  });

  after(async () => {
    provider?.destroy();
    await Promise.all([net?.close(), anvil?.stop()]);
  });

  test('the account is funded at its predicted address first, then deployed for the EVM key', async () => {
    account = predictAccount(factory, px[KEY]);
    assert.equal(await provider.getCode(account), '0x');
    await (await relayer.sendTransaction({ to: account, value: parseEther('2') })).wait();
    assert.equal(await deployAccount(relayer, factory, px[KEY]), account);
    assert.notEqual(await provider.getCode(account), '0x');
    assert.equal(await provider.getBalance(account), parseEther('2'));
    assert.deepEqual(await readGroupKey(provider, account), px[KEY]);
    // The EVM key is its own branch: neither the group key nor the Taproot key shows up on chain.
    const { json } = await net.call(0, 'GET', `/v1/keys/${KEY}`);
    assert.notEqual(bytesToHex(px[KEY]), json.groupKey.slice(2));
  });

  test('an ETH transfer signed by the network executes', async () => {
    const before = await provider.getBalance(recipient);
    const td = await transfer(parseEther('0.5'));
    const signature = await networkSign(KEY, td);
    assert.ok(schnorr.verify(signature, decodeTypedData(td).digest, px[KEY]));
    const receipt = await submitExecute(relayer, td, signature);
    spent = { td, signature };
    assert.equal(receipt.status, 1);
    assert.equal((await provider.getBalance(recipient)) - before, parseEther('0.5'));
    assert.equal(await provider.getBalance(account), parseEther('1.5'));
    assert.equal(await readNonce(provider, account), 1n);
  });

  test('an ERC-20 transfer signed by the network executes', async () => {
    const { abi, bytecode } = compiledContract('TestToken');
    const deployed = await new ContractFactory(abi, bytecode, relayer).deploy();
    await deployed.waitForDeployment();
    const token = new Contract(await deployed.getAddress(), abi, relayer);
    await (await token.mint(account, 1000n)).wait();
    const td = await prepareExecute(provider, account, {
      to: await token.getAddress(),
      value: 0n,
      data: token.interface.encodeFunctionData('transfer', [recipient, 250n]),
      deadline: await deadline(),
    });
    await submitExecute(relayer, td, await networkSign(KEY, td));
    assert.equal(await token.balanceOf(account), 750n);
    assert.equal(await token.balanceOf(recipient), 250n);
    assert.equal(await readNonce(provider, account), 2n);
  });

  describe('refuses network-made signatures that do not fit, leaving nonce and balance alone', () => {
    const refuses = async (
      td: TypedData,
      signature: Uint8Array,
      code: ErrorCode = 'INVALID_SIGNATURE',
      name = 'BadSignature',
    ) => {
      const [nonce, balance] = [await readNonce(provider, account), await provider.getBalance(account)];
      await assert.rejects(submitExecute(relayer, td, signature), reverted(code, name));
      assert.equal(await readNonce(provider, account), nonce);
      assert.equal(await provider.getBalance(account), balance);
    };

    test('a tampered signature', async () => {
      const td = await transfer();
      const signature = await networkSign(KEY, td);
      for (const byte of [0, 32, 63]) {
        const tampered = Uint8Array.from(signature);
        tampered[byte] ^= 1;
        // A flipped bit of R may leave no curve point, which the encoder refuses before anything is sent.
        await assert.rejects(
          submitExecute(relayer, td, tampered),
          (e) =>
            reverted('INVALID_SIGNATURE', 'BadSignature')(e) ||
            (e instanceof FrostnetError && e.code === 'INVALID_INPUT' && byte < 32),
        );
      }
      assert.equal(await readNonce(provider, account), 2n);
    });

    test('a signature for another chain id', async () => {
      const td = await transfer();
      const otherChain = executeTypedData({ chainId: 1n, address: account }, decodeExecute(td).fields);
      await refuses(td, await networkSign(KEY, otherChain));
    });

    test('a signature for another account (same key, another salt)', async () => {
      const other = await deployAccount(relayer, factory, px[KEY], 1n);
      const td = await transfer();
      const { account: ref, fields } = decodeExecute(td);
      await refuses(td, await networkSign(KEY, executeTypedData({ ...ref, address: other }, fields)));
    });

    test('a replayed nonce', async () => {
      assert.ok(spent, 'the ETH transfer ran first');
      await refuses(spent.td, spent.signature);
    });

    test('an expired deadline', async () => {
      const td = await transfer(parseEther('0.01'), -1n);
      await refuses(td, await networkSign(KEY, td), 'BAD_REQUEST', 'Expired');
    });

    test('a signature by a different key: a second DKG key, or another EVM account of the same key', async () => {
      const td = await transfer();
      const byOther = await networkSign(OTHER, td);
      assert.ok(schnorr.verify(byOther, decodeTypedData(td).digest, px[OTHER]));
      await refuses(td, byOther);
      const byAccount1 = await networkSign(KEY, td, 1);
      assert.ok(schnorr.verify(byAccount1, decodeTypedData(td).digest, await evmKeyOf(KEY, 1)));
      await refuses(td, byAccount1);
    });
  });

  test('ERC-1271 gives the magic value only for a valid signature by the account key', async () => {
    const td = await transfer();
    const hash = decodeTypedData(td).digest;
    const signature = await networkSign(KEY, td);
    assert.equal(await isValidSignature(provider, account, hash, signature), true);
    const tampered = Uint8Array.from(signature);
    tampered[40] ^= 1;
    assert.equal(await isValidSignature(provider, account, hash, tampered), false);
    assert.equal(await isValidSignature(provider, account, randomBytes(32), signature), false);
    assert.equal(await isValidSignature(provider, account, hash, await networkSign(OTHER, td)), false);
  });

  test('the key rotates to the second group key, authorized by the current one; the old key is refused', async () => {
    const rotation = async () =>
      prepareRotateKey(provider, account, { newKey: px[OTHER], deadline: await deadline() });
    let td = await rotation();
    await assert.rejects(
      submitRotateKey(relayer, td, await networkSign(OTHER, td)),
      reverted('INVALID_SIGNATURE', 'BadSignature'),
    );
    assert.deepEqual(await readGroupKey(provider, account), px[KEY]);

    td = await rotation();
    await submitRotateKey(relayer, td, await networkSign(KEY, td));
    assert.deepEqual(await readGroupKey(provider, account), px[OTHER]);

    const next = await transfer(parseEther('0.1'));
    await assert.rejects(
      submitExecute(relayer, next, await networkSign(KEY, next)),
      reverted('INVALID_SIGNATURE', 'BadSignature'),
    );
    const before = await provider.getBalance(recipient);
    await submitExecute(relayer, next, await networkSign(OTHER, next));
    assert.equal((await provider.getBalance(recipient)) - before, parseEther('0.1'));

    const probe = await transfer();
    const hash = decodeTypedData(probe).digest;
    assert.equal(await isValidSignature(provider, account, hash, await networkSign(KEY, probe)), false);
    assert.equal(await isValidSignature(provider, account, hash, await networkSign(OTHER, probe)), true);
  });

  test('every party refuses typed data it cannot decode as an account action, with a clear error', async () => {
    const good = await transfer();
    const malformed: [string, unknown, RegExp][] = [
      ['another domain', { ...good, domain: { ...good.domain, name: 'Other Wallet' } }, /domain is not/],
      ['chain id zero', { ...good, domain: { ...good.domain, chainId: '0' } }, /chainId is zero/],
      ['an extra field', { ...good, message: { ...good.message, gasLimit: '1' } }, /unexpected: gasLimit/],
      ['an unknown action', { ...good, primaryType: 'Permit' }, /primaryType must be/],
      ['call data that is not hex', { ...good, message: { ...good.message, data: 'hello' } }, /data is not/],
      ['a value above uint256', { ...good, message: { ...good.message, value: `${2n ** 256n}` } }, /value/],
    ];
    for (const [what, typedData, reason] of malformed) {
      const r = await requestSignature(KEY, typedData);
      assert.equal(r.state, 'failed', `${what}: ${JSON.stringify(r)}`);
      assert.equal(r.error.code, 'INVALID_INPUT', what);
      assert.match(r.error.message, reason, what);
      assert.match(r.error.message, /EIP-712 request/, what);
    }
    // Text that is not JSON at all is bad input: the control API answers 400 before any party is asked.
    const text = await requestSignature(KEY, '{"types":');
    assert.equal(text.state, 'rejected', JSON.stringify(text));
    assert.equal(text.status, 400);
    assert.equal(text.error.code, 'BAD_REQUEST');
    assert.match(text.error.message, /"typedData" is not valid JSON/);
    // The network still signs what it can decode.
    assert.ok(schnorr.verify(await networkSign(OTHER, good), decodeTypedData(good).digest, px[OTHER]));
  });

  test('a raw message naming the EVM path is refused: raw messages are off by default (and confined to their branch)', async () => {
    const r = await net.run(0, `/v1/keys/${KEY}/sign`, { message: 'ab'.repeat(32), path: [EVM_BRANCH, 0] });
    assert.equal(r.state, 'failed');
    assert.match(r.error.message, /raw message signing is off/);
  });

  test('gas with network-made signatures: one verification and a steady-state ETH transfer (printed)', async () => {
    // Everything the network signs here is typed data; the verification is measured on a transfer's signature.
    const signer: Bip340Signer = {
      px: px[KEY],
      async sign() {
        throw new Error('the network signs EIP-712 typed data, not bare digests, for an EVM key');
      },
      signTypedData: (td) => networkSign(KEY, td),
    };
    const gas = await measureGas(anvil.rpcUrl, signer);
    console.log(
      `gas (2-of-3 network signatures): BIP340 verification ${gas.verification} (inside the EVM); ` +
        `steady-state ETH transfer through the account ${gas.ethTransfer} (whole transaction; ` +
        `first transfer ${gas.firstEthTransfer})`,
    );
    assert.ok(gas.verification > 0n && gas.ethTransfer > 21_000n);
  });
});
