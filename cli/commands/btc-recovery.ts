/**
 * `btc recovery-status`, `btc recovery-psbt`, `btc recovery-finalize`: the recovery path of a key with a
 * recovery policy, as thin commands over chains/bitcoin/recovery-status.ts and recovery-spend.ts. Everything is
 * pure chain code over public data: the status and the PSBT come from the key's policy and the coins the user
 * lists (from their own node or explorer); the recovery key's holder signs the PSBT with their own wallet, and
 * finalizing needs no daemon at all. The network's shares play no part.
 */
import { readFile } from 'node:fs/promises';
import type { ChainCoin } from '../../chains/bitcoin/recovery-status.ts';
import type { Client } from '../client.ts';
import { type Command, defineCommand, integerOption } from '../command.ts';
import { checkOut, FORCE_OPTION, writeOut } from '../out-file.ts';
import { CliError, UsageError } from '../output.ts';
import { fetchKey } from '../signing.ts';
import { KEY_OPTION, psbtBase64, walletOf } from './btc.ts';

const COINS_OPTION = {
  type: 'string',
  arg: 'FILE',
  required: true,
  help: 'the coins, a JSON list of {"txid","vout","amount" (sat),"address" or "script" (hex),"height"?,"change"?,"index"?}',
} as const;
const OUT_OPTION = {
  type: 'string',
  arg: 'FILE',
  help: 'also write the result here (never over a file without --force)',
} as const;

type Wallet = Awaited<ReturnType<typeof walletOf>>;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

/** The coins file, each entry checked: a culprit is named by its place in the list. */
async function readCoins(cmd: string, file: string, wallet: Wallet): Promise<ChainCoin[]> {
  let list: unknown;
  try {
    list = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new UsageError(cmd, `--coins ${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(list) || list.length === 0)
    throw new UsageError(cmd, `--coins ${file}: expected a non-empty JSON list of coins`);
  const [{ addressScript }, { hexToBytes }] = await Promise.all([
    import('../../chains/bitcoin/address.ts'),
    import('../../protocol/curve.ts'),
  ]);
  return list.map((c: unknown, i): ChainCoin => {
    const bad = (why: string) => new UsageError(cmd, `--coins ${file}: coin ${i} ${why}`);
    if (!isObject(c)) throw bad('is not an object');
    if (typeof c.txid !== 'string' || !/^[0-9a-f]{64}$/i.test(c.txid)) throw bad('has no txid (64 hex)');
    if (!Number.isSafeInteger(c.vout) || (c.vout as number) < 0) throw bad('has no vout');
    const amount = typeof c.amount === 'number' || typeof c.amount === 'string' ? String(c.amount) : '';
    if (!/^\d+$/.test(amount) || BigInt(amount) === 0n) throw bad('has no amount in satoshis');
    let script: Uint8Array;
    if (typeof c.address === 'string') {
      try {
        script = addressScript(c.address, wallet.network, `coin ${i}`);
      } catch (e) {
        throw bad((e as Error).message);
      }
    } else if (typeof c.script === 'string' && /^([0-9a-f]{2})+$/i.test(c.script))
      script = hexToBytes(c.script.toLowerCase());
    else throw bad('has neither an address nor a script (hex)');
    if (c.height !== undefined && (!Number.isSafeInteger(c.height) || (c.height as number) < 0))
      throw bad('has a bad height (the block that confirmed it)');
    if (c.index !== undefined && (!Number.isSafeInteger(c.index) || (c.index as number) < 0))
      throw bad('has a bad index');
    const at = c.index === undefined ? undefined : { change: c.change === true, index: c.index as number };
    return {
      txid: c.txid.toLowerCase(),
      vout: c.vout as number,
      amount: BigInt(amount),
      script,
      ...(c.height !== undefined && { height: c.height as number }),
      ...(at && { at }),
    };
  });
}

async function recoveryWallet(cmd: string, client: () => Promise<Client>, name: string) {
  const key = await fetchKey(await client(), name);
  const wallet = await walletOf(key, undefined);
  if (!wallet.recovery)
    throw new CliError(
      'WRONG_CONTEXT',
      `${cmd}: key ${key.name} has no recovery policy, so no recovery path`,
      'a recovery policy is chosen at keygen ("frostnet keygen --recovery KEY,older=N")',
    );
  return { key, wallet };
}

const status = defineCommand({
  name: 'btc recovery-status',
  summary: 'Lists each coin of a key with a recovery policy and when its recovery path opens.',
  usage:
    '--key NAME --coins FILE --height H [--margin BLOCKS] [--lookahead N] [--refresh-fee-rate R [--change-index I]]',
  details: [
    'A leaf older(N) opens in block h + N for a coin confirmed in block h. States: locked, refresh-due (opens',
    "within --margin blocks: spend it to the key's own change to restart its clock), open (the recovery key can",
    'spend it in the next block), unconfirmed, no-recovery (a coin of the key-path-only address), unknown (no',
    'address of this key among the first --lookahead receive and change addresses). With --refresh-fee-rate it',
    "also prints the refresh: a PSBT spending every coin due to the key's change address m/1/I (default 0),",
    'for "frostnet btc sign-psbt". It sends nothing, so amount rules never hold it (fee rules still apply).',
  ].join('\n'),
  daemon: 'read',
  options: {
    key: KEY_OPTION,
    coins: COINS_OPTION,
    height: { type: 'string', arg: 'H', required: true, help: "the chain's current height (its tip)" },
    margin: {
      type: 'string',
      arg: 'BLOCKS',
      help: 'refresh a coin this many blocks before it opens (default 1008, about a week)',
    },
    lookahead: {
      type: 'string',
      arg: 'N',
      help: 'addresses per branch to look coins up among (default 100)',
    },
    'refresh-fee-rate': {
      type: 'string',
      arg: 'R',
      help: 'also build the refresh PSBT of the coins due, at this fee rate (sat/vB)',
    },
    'change-index': {
      type: 'string',
      arg: 'I',
      help: 'the refresh pays to change address m/1/I (default 0)',
    },
  },
  async run({ values, out, client }) {
    const cmd = 'btc recovery-status';
    const height = integerOption(cmd, 'height', values.height, 0, 2 ** 31);
    const margin =
      values.margin === undefined ? 1008 : integerOption(cmd, 'margin', values.margin, 0, 2 ** 31);
    const lookahead =
      values.lookahead === undefined
        ? undefined
        : integerOption(cmd, 'lookahead', values.lookahead, 1, 100_000);
    const { key, wallet } = await recoveryWallet(cmd, client, values.key);
    const coins = await readCoins(cmd, values.coins, wallet);
    const refreshRate =
      values['refresh-fee-rate'] === undefined ? undefined : Number(values['refresh-fee-rate']);
    if (refreshRate !== undefined && !(Number.isFinite(refreshRate) && refreshRate > 0))
      throw new UsageError(cmd, `--refresh-fee-rate ${values['refresh-fee-rate']} is not a positive number`);
    const changeIndex =
      values['change-index'] === undefined
        ? 0
        : integerOption(cmd, 'change-index', values['change-index'], 0, 2 ** 31 - 1);
    const { recoveryStatus, buildRefreshPsbt } = await import('../../chains/bitcoin/recovery-status.ts');
    let r: ReturnType<typeof recoveryStatus>;
    try {
      r = recoveryStatus(wallet, coins, { height, margin, ...(lookahead && { lookahead }) });
    } catch (e) {
      throw new UsageError(cmd, (e as Error).message);
    }
    const rows = r.coins.map((s) => ({
      txid: s.coin.txid,
      vout: s.coin.vout,
      amount: s.coin.amount.toString(),
      state: s.state,
      ...(s.at && { path: `m/${s.at.change ? 1 : 0}/${s.at.index}` }),
      ...(s.opensAt !== undefined && { opensAt: s.opensAt, blocksLeft: s.blocksLeft }),
    }));
    let refreshPsbt: string | undefined;
    if (refreshRate !== undefined && r.refresh.length > 0)
      try {
        refreshPsbt = buildRefreshPsbt(wallet, r, { changeIndex, feeRate: refreshRate }).psbt.toBase64();
      } catch (e) {
        throw new UsageError(cmd, `the refresh: ${(e as Error).message}`);
      }
    out.result(
      {
        key: key.name,
        network: wallet.network,
        height,
        margin,
        coins: rows,
        refresh: r.refresh.length,
        ...(refreshPsbt && { refreshPsbt }),
      },
      () =>
        [
          `key ${key.name} at height ${height} (refresh margin ${margin} blocks):`,
          ...rows.map(
            (c) =>
              `  ${c.txid}:${c.vout}  ${c.amount} sat  ${c.path ?? '-'}  ${c.state}${c.opensAt === undefined ? '' : `  opens at ${c.opensAt} (${c.blocksLeft} blocks left)`}`,
          ),
          ...(r.refresh.length
            ? [`  ${r.refresh.length} coin(s) to refresh now: spend them to this key's own change address`]
            : []),
          ...(refreshPsbt
            ? ['  the refresh PSBT (for "frostnet btc sign-psbt --key KEY --psbt ..."):', refreshPsbt]
            : []),
        ].join('\n'),
    );
    return undefined;
  },
});

const psbt = defineCommand({
  name: 'btc recovery-psbt',
  summary:
    "Builds the PSBT that sweeps coins through a recovery leaf, for the recovery key's holder to sign.",
  usage: '--key NAME --coins FILE --to ADDRESS --fee-rate SAT_PER_VB [--leaf I] [--out FILE [--force]]',
  details: [
    "The PSBT names the leaf with its control block, the recovery key's derivation (tap_bip32_derivation) and",
    "nSequence = N (BIP68 blocks, version 2): the holder's wallet signs it, and it is valid once every coin has",
    'stayed unmoved for N blocks. Then "frostnet btc recovery-finalize". No party signs anything for it.',
  ].join('\n'),
  daemon: 'read',
  options: {
    key: KEY_OPTION,
    coins: COINS_OPTION,
    to: {
      type: 'string',
      arg: 'ADDRESS',
      required: true,
      help: "where everything goes, less the fee (the holder's own)",
    },
    'fee-rate': {
      type: 'string',
      arg: 'SAT_PER_VB',
      required: true,
      help: 'the fee rate, satoshis per vbyte',
    },
    leaf: {
      type: 'string',
      arg: 'I',
      help: 'which leaf of the policy spends (0 based); needed with several',
    },
    out: OUT_OPTION,
    ...FORCE_OPTION,
  },
  async run({ values, out, client }) {
    const cmd = 'btc recovery-psbt';
    await checkOut(cmd, values.out, values.force === true);
    const feeRate = Number(values['fee-rate']);
    if (!Number.isFinite(feeRate) || feeRate <= 0)
      throw new UsageError(cmd, `--fee-rate ${values['fee-rate']} is not a positive number`);
    const leaf = values.leaf === undefined ? undefined : integerOption(cmd, 'leaf', values.leaf, 0, 7);
    const { key, wallet } = await recoveryWallet(cmd, client, values.key);
    const coins = await readCoins(cmd, values.coins, wallet);
    const [{ recoveryStatus }, { buildRecoveryPsbt }] = await Promise.all([
      import('../../chains/bitcoin/recovery-status.ts'),
      import('../../chains/bitcoin/recovery-spend.ts'),
    ]);
    // Where each coin sits: what the status finds (its height plays no part in the PSBT).
    const top = Math.max(0, ...coins.map((c) => c.height ?? 0));
    const found = recoveryStatus(wallet, coins, { height: top, margin: 0 }).coins;
    const utxos = found.map((s, i) => {
      if (!s.at || s.state === 'no-recovery' || s.state === 'unknown')
        throw new UsageError(
          cmd,
          `coin ${i} (${s.coin.txid}:${s.coin.vout}) is ${s.state === 'no-recovery' ? 'on a key-path-only address: it has no recovery path' : 'not at an address of this key (give its "index" and "change")'}`,
        );
      return { txid: s.coin.txid, vout: s.coin.vout, amount: s.coin.amount, ...s.at };
    });
    let built: ReturnType<typeof buildRecoveryPsbt>;
    try {
      built = buildRecoveryPsbt(wallet, {
        coins: utxos,
        to: values.to,
        feeRate,
        ...(leaf !== undefined && { leaf }),
      });
    } catch (e) {
      throw new UsageError(cmd, (e as Error).message);
    }
    const b64 = built.psbt.toBase64();
    if (values.out) await writeOut(values.out, `${b64}\n`, values.force === true);
    out.result(
      {
        key: key.name,
        psbt: b64,
        fee: built.fee.toString(),
        amount: built.amount.toString(),
        older: built.older,
      },
      () =>
        [
          `recovery spend of ${utxos.length} coin(s) of ${key.name}: ${built.amount} sat to ${values.to}, fee ${built.fee} sat`,
          `valid once every coin has stayed unmoved for ${built.older} blocks (nSequence ${built.older})`,
          b64,
        ].join('\n'),
    );
    return undefined;
  },
});

const finalize = defineCommand({
  name: 'btc recovery-finalize',
  summary: 'Checks a recovery PSBT signed by the recovery key and prints the transaction to broadcast.',
  usage: '--psbt FILE|BASE64 [--out FILE [--force]]',
  details: [
    "Checks what the chain will: each control block proves its leaf under the coin's output key, the version",
    "and nSequence satisfy older(N), and the recovery key's signature verifies; then builds each witness",
    '(signature, leaf script, control block). Needs no daemon.',
  ].join('\n'),
  options: {
    psbt: {
      type: 'string',
      arg: 'FILE|BASE64',
      required: true,
      help: 'the signed PSBT: a file (base64 or binary) or base64',
    },
    out: OUT_OPTION,
    ...FORCE_OPTION,
  },
  async run({ values, out }) {
    const cmd = 'btc recovery-finalize';
    await checkOut(cmd, values.out, values.force === true);
    const b64 = await psbtBase64(values.psbt, cmd);
    const { finalizeRecoveryPsbt } = await import('../../chains/bitcoin/recovery-spend.ts');
    let tx: ReturnType<typeof finalizeRecoveryPsbt>;
    try {
      tx = finalizeRecoveryPsbt(b64);
    } catch (e) {
      throw new CliError('INVALID_INPUT', (e as Error).message, 'is the PSBT signed by the recovery key?');
    }
    if (values.out) await writeOut(values.out, `${tx.txHex}\n`, values.force === true);
    out.result(
      { txid: tx.txid, txHex: tx.txHex, vsize: tx.vsize, fee: tx.fee.toString() },
      () => `txid ${tx.txid} (${tx.vsize} vB, fee ${tx.fee} sat)\n${tx.txHex}`,
    );
    return undefined;
  },
});

export const commands: readonly Command[] = [status, psbt, finalize];
