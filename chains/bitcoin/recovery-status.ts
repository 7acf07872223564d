/**
 * Recovery status: for each coin of a recovery-enabled key, when its recovery path opens, and which coins to
 * refresh (spend to the key's own change, which restarts their clock) before it does. A leaf older(N) lets its
 * key spend in any block at least N blocks above the one that confirmed the coin (BIP68: a coin confirmed at
 * height h is spendable that way from block h + N on). Pure: the caller supplies the coins and the height.
 */

import { bytesToHex } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { p2trScript } from './address.ts';
import { type BuiltPsbt, buildWalletPsbt, type WalletUtxo } from './build.ts';
import { type AddressAt, addressPath, descriptorKey, type Wallet, walletKey } from './keys.ts';
import type { PsbtSummary } from './psbt.ts';

/** A coin as a chain backend reports it. */
export type ChainCoin = {
  readonly txid: string;
  readonly vout: number;
  readonly amount: bigint;
  readonly script: Uint8Array;
  /** Height of the block that confirmed it; undefined while unconfirmed. */
  readonly height?: number;
  /** Its address, when the caller knows it; otherwise it is looked up among the first addresses. */
  readonly at?: AddressAt;
};

export type CoinState =
  /** Its clock starts when it confirms. */
  | 'unconfirmed'
  /** The recovery path opens later than the margin. */
  | 'locked'
  /** The recovery path opens within the margin: refresh it now. */
  | 'refresh-due'
  /** The next block may hold a recovery spend: refresh it at once, or the recovery key can take it. */
  | 'open'
  /** A coin of this key under its key-path-only descriptor: no recovery path (and no recovery protection). */
  | 'no-recovery'
  /** No script of this key among the addresses looked at. */
  | 'unknown';

export type CoinStatus = {
  readonly coin: ChainCoin;
  readonly state: CoinState;
  readonly at?: AddressAt;
  /** The first block height that may hold a recovery spend of it (the earliest leaf's). */
  readonly opensAt?: number;
  /** Per leaf, in policy order, the first block height that may hold a spend through it. */
  readonly leafOpensAt?: readonly number[];
  /** Blocks to be mined before that first block comes next (0 once open). */
  readonly blocksLeft?: number;
};

export type RecoveryStatus = {
  readonly height: number;
  readonly margin: number;
  readonly coins: readonly CoinStatus[];
  /** The coins to refresh now ('refresh-due' and 'open'), as buildWalletPsbt spends them. */
  readonly refresh: readonly WalletUtxo[];
};

export type StatusOptions = {
  /** The chain's current height (its tip): the next block is height + 1. */
  readonly height: number;
  /** Refresh a coin when its recovery path opens within this many blocks. */
  readonly margin: number;
  /** How many receive and change addresses to look coins up among, when a coin does not say; 100 by default. */
  readonly lookahead?: number;
};

const DEFAULT_LOOKAHEAD = 100;

function checkHeight(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new FrostnetError('INVALID_INPUT', `${what} must be a block height (a whole number, 0 or more)`);
  return v;
}

type Match = { at: AddressAt; recovery: boolean };

/** Where each script of this key sits: its descriptor's scripts and, with a policy, the key-path-only ones. */
function scriptIndex(wallet: Wallet, lookahead: number): Map<string, Match> {
  const index = new Map<string, Match>();
  for (const change of [false, true])
    for (let i = 0; i < lookahead; i++) {
      const at = { change, index: i };
      index.set(bytesToHex(p2trScript(walletKey(wallet.root, at).outputKey)), { at, recovery: false });
      if (wallet.recovery)
        index.set(bytesToHex(p2trScript(descriptorKey(wallet, addressPath(at)).outputKey)), {
          at,
          recovery: true,
        });
    }
  return index;
}

function matchCoin(wallet: Wallet, coin: ChainCoin, lookup: () => Map<string, Match>): Match | undefined {
  const script = bytesToHex(coin.script);
  if (!coin.at) return lookup().get(script);
  if (
    wallet.recovery &&
    bytesToHex(p2trScript(descriptorKey(wallet, addressPath(coin.at)).outputKey)) === script
  )
    return { at: coin.at, recovery: true };
  if (bytesToHex(p2trScript(walletKey(wallet.root, coin.at).outputKey)) === script)
    return { at: coin.at, recovery: false };
  return undefined;
}

/** Every coin's state and opening height under the wallet's recovery policy, and the coins to refresh now. */
export function recoveryStatus(
  wallet: Wallet,
  coins: readonly ChainCoin[],
  opts: StatusOptions,
): RecoveryStatus {
  const height = checkHeight(opts.height, 'the current height');
  const margin = checkHeight(opts.margin, 'the refresh margin');
  const lookahead = opts.lookahead ?? DEFAULT_LOOKAHEAD;
  if (!Number.isSafeInteger(lookahead) || lookahead < 1 || lookahead > 100_000)
    throw new FrostnetError('INVALID_INPUT', 'lookahead must be a number of addresses from 1 to 100000');
  let index: Map<string, Match> | undefined;
  const lookup = () => (index ??= scriptIndex(wallet, lookahead));
  const statuses = coins.map((coin, i): CoinStatus => {
    if (coin.height !== undefined && checkHeight(coin.height, `coin ${i} height`) > height)
      throw new FrostnetError(
        'INVALID_INPUT',
        `coin ${i} confirmed at ${coin.height}, above the current height ${height}`,
      );
    const match = matchCoin(wallet, coin, lookup);
    if (!match) return { coin, state: 'unknown' };
    const { at } = match;
    if (!match.recovery) return { coin, state: 'no-recovery', at };
    if (coin.height === undefined) return { coin, state: 'unconfirmed', at };
    const leafOpensAt = wallet.recovery!.leaves.map((l) => coin.height! + l.older);
    const opensAt = Math.min(...leafOpensAt);
    const blocksLeft = Math.max(0, opensAt - (height + 1));
    const state: CoinState = blocksLeft === 0 ? 'open' : blocksLeft <= margin ? 'refresh-due' : 'locked';
    return { coin, state, at, opensAt, leafOpensAt, blocksLeft };
  });
  const refresh = statuses
    .filter((s) => s.state === 'refresh-due' || s.state === 'open')
    .map((s) => ({ txid: s.coin.txid, vout: s.coin.vout, amount: s.coin.amount, ...s.at! }));
  return { height, margin, coins: statuses, refresh };
}

/** The refresh: every coin due, spent to change key [1, changeIndex] under the policy, less the fee. */
export function buildRefreshPsbt(
  wallet: Wallet,
  status: RecoveryStatus,
  opts: { readonly changeIndex: number; readonly feeRate: number },
): BuiltPsbt {
  if (status.refresh.length === 0) throw new FrostnetError('INVALID_INPUT', 'no coin is due for a refresh');
  return buildWalletPsbt(wallet, { utxos: status.refresh, payments: [], ...opts });
}

/**
 * Whether a checked PSBT is only a refresh: every input and every output this key's own (the outputs verified
 * as our change by the signing plan), nothing paid out; only the fee leaves the key.
 */
export const isRefresh = (summary: PsbtSummary): boolean =>
  summary.inputs.length > 0 &&
  summary.outputs.length > 0 &&
  summary.inputs.every((i) => i.ours) &&
  summary.outputs.every((o) => o.change) &&
  summary.sent === 0n;
