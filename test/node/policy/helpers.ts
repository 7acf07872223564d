/**
 * Requests as a party resolves them (node/signing/targets.ts), built from real PSBTs and EIP-712 data, and small tools
 * for policy tests: a movable clock and temporary data dirs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walletAddress } from '../../../chains/bitcoin/address.ts';
import { buildWalletPsbt, type PaymentRequest, type WalletUtxo } from '../../../chains/bitcoin/build.ts';
import type { Wallet } from '../../../chains/bitcoin/keys.ts';
import { planPsbtSigning } from '../../../chains/bitcoin/psbt.ts';
import { drillMessage } from '../../../chains/domains.ts';
import { decodeTypedData, executeTypedData, rotateKeyTypedData } from '../../../chains/evm/typed-data.ts';
import { decodeVetoRecovery, vetoRecoveryTypedData } from '../../../chains/evm/veto.ts';
import type { ResolvedRequest } from '../../../node/signing/targets.ts';
import { hexToBytes } from '../../../protocol/curve.ts';
import type { Scheme } from '../../../protocol/sign.ts';
import { fakeTxid } from '../../bitcoin/helpers.ts';

export const NET = 'regtest';

/** The n-th receive address of a wallet that is not ours: a payment destination. */
export const outsideAddress = (w: Wallet, index: number): string =>
  walletAddress(w.root, { change: false, index }, w.network);

export type SpendOptions = {
  payments: PaymentRequest[];
  utxos?: WalletUtxo[];
  changeIndex?: number;
  feeRate?: number;
};

export const coin = (label: string, amount: bigint, index = 0): WalletUtxo => ({
  txid: fakeTxid(label),
  vout: 0,
  amount,
  change: false,
  index,
});

/** A PSBT of ours: the coins (default one of 1 000 000 sat) to the payments, change to m/1/changeIndex. */
export function spendPsbt(wallet: Wallet, o: SpendOptions) {
  return buildWalletPsbt(wallet, {
    utxos: o.utxos ?? [coin('default', 1_000_000n)],
    payments: o.payments,
    changeIndex: o.changeIndex ?? 0,
    feeRate: o.feeRate ?? 2,
  }).psbt;
}

/** What a party resolves from that PSBT: the signing plan it works out itself. */
export function psbtRequest(wallet: Wallet, o: SpendOptions): ResolvedRequest {
  const plan = planPsbtSigning(spendPsbt(wallet, o), { root: wallet.root, network: wallet.network });
  return {
    kind: 'psbt',
    targets: plan.inputs.map((i) => ({ scheme: 'bip340', message: i.sighash, steps: i.steps })),
    inputs: plan.inputs.map((i) => i.index),
    network: wallet.network,
    summary: plan.summary,
  };
}

export const ACCOUNT = '0x1111111111111111111111111111111111111111';
export const TOKEN = `0x${'ab'.repeat(20)}`;
export const ERC20_TRANSFER = '0xa9059cbb';

/** transfer(0x3333..., amount) call data. */
export const transferData = (amount: bigint) =>
  `${ERC20_TRANSFER}${'3333333333333333333333333333333333333333'.padStart(64, '0')}${amount.toString(16).padStart(64, '0')}`;

export type ExecuteOptions = { chainId?: bigint; to?: string; value?: bigint; data?: string; nonce?: bigint };

export function executeData(o: ExecuteOptions = {}) {
  return executeTypedData(
    { chainId: o.chainId ?? 1n, address: ACCOUNT },
    {
      to: o.to ?? TOKEN,
      value: o.value ?? 0n,
      data: o.data ?? '0x',
      nonce: o.nonce ?? 0n,
      deadline: 2n ** 40n,
    },
  );
}

export function executeRequest(o: ExecuteOptions = {}): ResolvedRequest {
  const action = decodeTypedData(executeData(o));
  return {
    kind: 'typedData',
    targets: [{ scheme: 'bip340', message: action.digest, steps: [] }],
    account: 0,
    accountKey: new Uint8Array(32).fill(1),
    action,
  };
}

export function rotateRequest(): ResolvedRequest {
  const newKey = hexToBytes('79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
  const action = decodeTypedData(
    rotateKeyTypedData({ chainId: 1n, address: ACCOUNT }, { newKey, nonce: 0n, deadline: 9n }),
  );
  return {
    kind: 'typedData',
    targets: [{ scheme: 'bip340', message: action.digest, steps: [] }],
    account: 0,
    accountKey: new Uint8Array(32).fill(1),
    action,
  };
}

/** A VetoRecovery valid until `deadline` (seconds since the epoch). */
export function vetoRequest(deadline: bigint): ResolvedRequest {
  const action = decodeVetoRecovery(
    vetoRecoveryTypedData({ chainId: 1n, address: ACCOUNT }, { nonce: 0n, deadline }),
  );
  return {
    kind: 'typedData',
    targets: [{ scheme: 'bip340', message: action.digest, steps: [] }],
    account: 0,
    accountKey: new Uint8Array(32).fill(1),
    action,
  };
}

export function rawRequest(messageHex = 'ab'.repeat(32), scheme: Scheme = 'bip340'): ResolvedRequest {
  return {
    kind: 'raw',
    targets: [{ scheme, message: hexToBytes(messageHex), steps: [] }],
    path: [],
    taproot: false,
  };
}

export function drillRequest(messageHex = 'cd'.repeat(32), scheme: Scheme = 'bip340'): ResolvedRequest {
  const challenge = hexToBytes(messageHex);
  return { kind: 'drill', targets: [{ scheme, message: drillMessage(challenge), steps: [] }], challenge };
}

/** A clock tests move by hand. */
export class FakeClock {
  now = Date.parse('2030-01-01T00:00:00Z');
  readonly read = () => this.now;
  advance(seconds: number): void {
    this.now += seconds * 1000;
  }
}

/** A temporary directory for the duration of `fn`, removed afterwards even when it fails. */
export async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'frostnet-policy-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
