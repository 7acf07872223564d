/**
 * ThresholdAccount and AccountFactory on a real anvil: counterfactual deployment, transfers signed under the
 * EVM key, every refusal, ERC-1271, key rotation, and the gas numbers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import {
  Contract,
  ContractFactory,
  getAddress,
  hexlify,
  JsonRpcProvider,
  parseEther,
  type Signer,
  toBeHex,
  Wallet,
} from 'ethers';
import {
  accountContract,
  deployAccount,
  deployFactory,
  encodeSignature,
  factoryPredict,
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
import { evmKey } from '../../chains/evm/keys.ts';
import { type Bip340Signer, singleKeySigner } from '../../chains/evm/signer.ts';
import {
  decodeExecute,
  decodeTypedData,
  executeTypedData,
  type TypedData,
} from '../../chains/evm/typed-data.ts';
import { Fn, G } from '../../protocol/curve.ts';
import { type ErrorCode, FrostnetError } from '../../protocol/errors.ts';
import { groupKey } from '../../protocol/keys.ts';
import { tweakSecretKey } from '../../protocol/tweak.ts';
import { type Anvil, startAnvil } from '../helpers/anvil.ts';
import { accountEvents, reverted } from '../helpers/evm.ts';
import { makeKey, signWith } from '../helpers/keys.ts';

/** Signs with a whole secret key moved along the evmKey steps of a random root, as the network would sign. */
function evmSigner(account = 0): Bip340Signer {
  const secret = Fn.fromBytes(schnorr.utils.randomSecretKey());
  const { px, steps } = evmKey({ key: G.multiply(secret), chainCode: randomBytes(32) }, account);
  const signer = singleKeySigner(tweakSecretKey(secret, steps));
  assert.deepEqual(signer.px, px);
  return signer;
}

const signTyped = async (signer: Bip340Signer, td: TypedData) => signer.sign(decodeTypedData(td).digest);

describe('ThresholdAccount on anvil', () => {
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let relayer: Signer;
  let recipient: string;
  let factory: string;
  let account: string;
  const signer = evmSigner();
  // The first transfer, kept to replay it later.
  let spent: { td: TypedData; signature: Uint8Array } | undefined;

  const deadline = async (offset = 3600n) =>
    BigInt((await provider.getBlock('latest'))?.timestamp ?? 0) + offset;
  const transfer = async (value = parseEther('0.01'), offset = 3600n) =>
    prepareExecute(provider, account, { to: recipient, value, deadline: await deadline(offset) });

  before(async () => {
    anvil = await startAnvil();
    provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
    relayer = await provider.getSigner(0);
    recipient = getAddress(await (await provider.getSigner(1)).getAddress());
    factory = await deployFactory(relayer);
  });

  after(async () => {
    provider?.destroy();
    await anvil?.stop();
  });

  test('an account deploys at the address predicted before, keeping the funds sent there first', async () => {
    account = predictAccount(factory, signer.px);
    const onChain = new Contract(factory, compiledContract('AccountFactory').abi, provider);
    assert.equal(await onChain.predict(BigInt(hexlify(signer.px)), toBeHex(0n, 32)), account);
    assert.notEqual(predictAccount(factory, signer.px, 1n), account);
    assert.equal(await provider.getCode(account), '0x');
    await (await relayer.sendTransaction({ to: account, value: parseEther('2') })).wait();

    assert.equal(await deployAccount(relayer, factory, signer.px), account);
    assert.notEqual(await provider.getCode(account), '0x');
    assert.equal(await provider.getBalance(account), parseEther('2'));
    assert.deepEqual(await readGroupKey(provider, account), signer.px);
    assert.equal(await readNonce(provider, account), 0n);
    await assert.rejects(deployAccount(relayer, factory, signer.px), reverted('CONFLICT', 'AlreadyDeployed'));
  });

  test('deployAccount goes where a factory built from other account code deploys, and says so', async () => {
    const { abi, bytecode } = compiledContract('ShiftedAccountFactory');
    const shifted = await (await new ContractFactory(abi, bytecode, relayer).deploy()).getAddress();
    const px = evmSigner().px;
    const asked = await factoryPredict(provider, shifted, px);
    assert.notEqual(asked, predictAccount(shifted, px), 'the offline prediction assumes this code');
    assert.equal(await deployAccount(relayer, shifted, px), asked);
    assert.deepEqual(await readGroupKey(provider, asked), px);
    assert.equal(await provider.getCode(predictAccount(shifted, px)), '0x');
  });

  test('the factory refuses keys the verifier cannot use', async () => {
    const notOnCurve = new Uint8Array(32).fill(0xff); // above the field prime
    const aboveOrder = Uint8Array.from(Buffer.from(toBeHex(Fn.ORDER + 1n, 32).slice(2), 'hex'));
    for (const key of [notOnCurve, aboveOrder, new Uint8Array(32)])
      await assert.rejects(deployAccount(relayer, factory, key), reverted('INVALID_INPUT', 'InvalidKey'));
  });

  test('executes an ETH transfer signed under the EVM key', async () => {
    const before = await provider.getBalance(recipient);
    const td = await transfer(parseEther('0.5'));
    const signature = await signTyped(signer, td);
    const receipt = await submitExecute(relayer, td, signature);
    spent = { td, signature };
    assert.equal((await provider.getBalance(recipient)) - before, parseEther('0.5'));
    assert.equal(await provider.getBalance(account), parseEther('1.5'));
    assert.equal(await readNonce(provider, account), 1n);
    const [executed] = accountEvents(receipt, 'Executed');
    assert.deepEqual([executed.nonce, executed.to, executed.value], [0n, recipient, parseEther('0.5')]);
  });

  test('executes an ERC-20 transfer signed under the EVM key', async () => {
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
    await submitExecute(relayer, td, await signTyped(signer, td));
    assert.equal(await token.balanceOf(account), 750n);
    assert.equal(await token.balanceOf(recipient), 250n);

    const tooMuch = await prepareExecute(provider, account, {
      to: await token.getAddress(),
      value: 0n,
      data: token.interface.encodeFunctionData('transfer', [recipient, 751n]),
      deadline: await deadline(),
    });
    const nonce = await readNonce(provider, account);
    await assert.rejects(
      submitExecute(relayer, tooMuch, await signTyped(signer, tooMuch)),
      reverted('BAD_REQUEST', 'CallFailed'),
    );
    assert.equal(await readNonce(provider, account), nonce, 'a failed call leaves the nonce unused');
  });

  describe('refuses, leaving nonce and balance alone', () => {
    const refuses = async (td: TypedData, signature: Uint8Array, code: ErrorCode, name: string) => {
      const [nonce, balance] = [await readNonce(provider, account), await provider.getBalance(account)];
      await assert.rejects(submitExecute(relayer, td, signature), reverted(code, name));
      assert.equal(await readNonce(provider, account), nonce);
      assert.equal(await provider.getBalance(account), balance);
    };
    // Each signature below is valid for the typed data it was made for; only what it binds differs.
    const validFor = async (td: TypedData, by = signer) => {
      const signature = await signTyped(by, td);
      assert.ok(schnorr.verify(signature, decodeTypedData(td).digest, by.px));
      return signature;
    };

    test('a tampered signature', async () => {
      const td = await transfer();
      const signature = await validFor(td);
      for (const byte of [32, 63]) {
        const tampered = Uint8Array.from(signature);
        tampered[byte] ^= 1;
        await refuses(td, tampered, 'INVALID_SIGNATURE', 'BadSignature');
      }
    });

    test('a signature for another chain id', async () => {
      const td = await transfer();
      const otherChain = executeTypedData({ chainId: 1n, address: account }, decodeExecute(td).fields);
      const signature = await validFor(otherChain);
      await refuses(td, signature, 'INVALID_SIGNATURE', 'BadSignature');
      // Submitted with its own typed data, it does not even leave for the wrong chain.
      await assert.rejects(
        submitExecute(relayer, otherChain, signature),
        (e) => e instanceof FrostnetError && e.code === 'WRONG_CONTEXT',
      );
    });

    test('a signature for another account of the same key', async () => {
      const other = await deployAccount(relayer, factory, signer.px, 7n);
      const td = await transfer();
      const { account: ref, fields } = decodeExecute(td);
      const forOther = executeTypedData({ ...ref, address: other }, fields);
      await refuses(td, await validFor(forOther), 'INVALID_SIGNATURE', 'BadSignature');
    });

    test('a replayed nonce', async () => {
      assert.ok(spent, 'the ETH transfer ran first');
      assert.ok((await readNonce(provider, account)) > 0n);
      await refuses(spent.td, spent.signature, 'INVALID_SIGNATURE', 'BadSignature');
    });

    test('an expired deadline', async () => {
      const td = await transfer(parseEther('0.01'), -1n);
      await refuses(td, await validFor(td), 'BAD_REQUEST', 'Expired');
    });

    test('a signature by a different key', async () => {
      const td = await transfer();
      await refuses(td, await validFor(td, evmSigner()), 'INVALID_SIGNATURE', 'BadSignature');
    });
  });

  test('ERC-1271 gives the magic value only for a valid signature by the current key', async () => {
    const hash = randomBytes(32);
    const signature = await signer.sign(hash);
    assert.equal(await isValidSignature(provider, account, hash, signature), true);
    const raw = accountContract(account, provider);
    assert.equal(await raw.isValidSignature(hash, encodeSignature(signature)), '0x1626ba7e');

    const tampered = Uint8Array.from(signature);
    tampered[40] ^= 1;
    assert.equal(await raw.isValidSignature(hash, encodeSignature(tampered)), '0xffffffff');
    assert.equal(await isValidSignature(provider, account, randomBytes(32), signature), false);
    assert.equal(await isValidSignature(provider, account, hash, await evmSigner().sign(hash)), false);
    // Only the 96-byte encoding is accepted: the bare 64 bytes lack the hint, and no length is guessed.
    assert.equal(await raw.isValidSignature(hash, signature), '0xffffffff');
    assert.equal(await raw.isValidSignature(hash, '0x'), '0xffffffff');
  });

  test('the key rotates only with a signature by the current key', async () => {
    const next = evmSigner(1);
    const rotation = async (offset = 3600n) =>
      prepareRotateKey(provider, account, { newKey: next.px, deadline: await deadline(offset) });

    let td = await rotation();
    await assert.rejects(
      submitRotateKey(relayer, td, await signTyped(next, td)),
      reverted('INVALID_SIGNATURE', 'BadSignature'),
    );
    td = await rotation(-1n);
    await assert.rejects(
      submitRotateKey(relayer, td, await signTyped(signer, td)),
      reverted('BAD_REQUEST', 'Expired'),
    );
    // The key is checked before the signature, so no signature is needed to see it refused.
    for (const badKey of [0n, Fn.ORDER, (1n << 256n) - 1n])
      await assert.rejects(
        accountContract(account, relayer).rotateKey.staticCall(badKey, await deadline(), '0x'),
        (e: { revert?: { name: string } }) => e.revert?.name === 'InvalidKey',
      );
    assert.deepEqual(await readGroupKey(provider, account), signer.px);

    const nonce = await readNonce(provider, account);
    td = await rotation();
    const receipt = await submitRotateKey(relayer, td, await signTyped(signer, td));
    const [rotated] = accountEvents(receipt, 'KeyRotated');
    assert.deepEqual(
      [rotated.nonce, rotated.oldKey, rotated.newKey],
      [nonce, BigInt(hexlify(signer.px)), BigInt(hexlify(next.px))],
    );
    assert.deepEqual(await readGroupKey(provider, account), next.px);
    assert.equal(await readNonce(provider, account), nonce + 1n);

    const stale = await transfer();
    await assert.rejects(
      submitExecute(relayer, stale, await signTyped(signer, stale)),
      reverted('INVALID_SIGNATURE', 'BadSignature'),
    );
    await submitExecute(relayer, stale, await signTyped(next, stale));
    const hash = randomBytes(32);
    assert.equal(await isValidSignature(provider, account, hash, await signer.sign(hash)), false);
    assert.equal(await isValidSignature(provider, account, hash, await next.sign(hash)), true);

    // A rotated key rotates on in turn, and only it can.
    const third = evmSigner(2);
    td = await prepareRotateKey(provider, account, { newKey: third.px, deadline: await deadline() });
    await assert.rejects(
      submitRotateKey(relayer, td, await signTyped(signer, td)),
      reverted('INVALID_SIGNATURE', 'BadSignature'),
    );
    await submitRotateKey(relayer, td, await signTyped(next, td));
    assert.deepEqual(await readGroupKey(provider, account), third.px);
    assert.equal(await isValidSignature(provider, account, hash, await third.sign(hash)), true);
    assert.equal(await isValidSignature(provider, account, hash, await next.sign(hash)), false);
  });

  test('a 2-of-3 group signs a transfer with the protocol signing under the evmKey steps', async () => {
    const shares = makeKey(2, 3);
    const parties = [...shares.keys()];
    const group = shares.get(parties[0])!.group;
    const { px, steps } = evmKey({ key: groupKey(group), chainCode: group.chainCode }, 0);
    const groupSigner: Bip340Signer = {
      px,
      sign: async (digest) =>
        signWith(shares, [parties[2], parties[0]], { scheme: 'bip340', message: digest, steps }),
    };
    const groupAccount = await deployAccount(relayer, factory, px);
    await (await relayer.sendTransaction({ to: groupAccount, value: parseEther('1') })).wait();
    const before = await provider.getBalance(recipient);
    const td = await prepareExecute(provider, groupAccount, {
      to: recipient,
      value: parseEther('0.25'),
      deadline: await deadline(),
    });
    await submitExecute(relayer, td, await signTyped(groupSigner, td));
    assert.equal((await provider.getBalance(recipient)) - before, parseEther('0.25'));
  });

  test('gas: one verification and a steady-state ETH transfer (printed, not asserted)', async () => {
    const gas = await measureGas(anvil.rpcUrl);
    console.log(
      `gas: BIP340 verification ${gas.verification} (inside the EVM, no base cost or calldata); ` +
        `ETH transfer through the account ${gas.ethTransfer} (whole transaction, steady state; ` +
        `first transfer ${gas.firstEthTransfer})`,
    );
    assert.ok(gas.verification > 0n && gas.ethTransfer > 21_000n);
  });
});

describe('ThresholdAccount on a chain without EIP-1559 fees', () => {
  test('a relayer submits an execute as a legacy transaction, without the access list it cannot carry', async () => {
    const anvil = await startAnvil(['--base-fee', '0']);
    const provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
    try {
      const funder = await provider.getSigner(0);
      assert.equal((await provider.getFeeData()).maxFeePerGas, null, 'ethers sees no EIP-1559 fees here');
      const relayer = Wallet.createRandom(provider);
      await (await funder.sendTransaction({ to: relayer.address, value: parseEther('1') })).wait();
      const signer = evmSigner();
      const factory = await deployFactory(relayer);
      const account = await deployAccount(relayer, factory, signer.px);
      await (await funder.sendTransaction({ to: account, value: parseEther('1') })).wait();
      const to = getAddress(await (await provider.getSigner(1)).getAddress());
      const deadline = BigInt((await provider.getBlock('latest'))?.timestamp ?? 0) + 3600n;
      const td = await prepareExecute(provider, account, { to, value: 1000n, deadline });
      const before = await provider.getBalance(to);
      const receipt = await submitExecute(relayer, td, await signTyped(signer, td));
      assert.equal(receipt.type, 0, 'a legacy transaction');
      assert.equal((await provider.getBalance(to)) - before, 1000n);
    } finally {
      provider.destroy();
      await anvil.stop();
    }
  });
});
