/**
 * `btc`: the key group as a Bitcoin wallet. Addresses, descriptors and the wallet card come from the group key
 * and chain code alone (pure chain code, nothing secret); `btc sign-psbt` has the network sign a PSBT, each
 * party recomputing every sighash from the PSBT itself.
 */
import { readFile } from 'node:fs/promises';
import type { Client } from '../client.ts';
import { type Command, defineCommand, listOption } from '../command.ts';
import { confirmSigning } from '../confirm.ts';
import { type KeyView, keyNetwork } from '../keyview.ts';
import { checkOut, FORCE_OPTION, writeOut } from '../out-file.ts';
import { CliError, UsageError } from '../output.ts';
import { PartyBook } from '../parties.ts';
import { keyWallet, recoveryLines } from '../recovery.ts';
import { SIGNERS_OPTION, WAIT_OPTION, YES_OPTION } from '../request-options.ts';
import { fetchKey } from '../signing.ts';

const NETWORK_OPTION = {
  type: 'string',
  arg: 'NET',
  help: "the key's own network (the default); another is refused",
} as const;
export const KEY_OPTION = { type: 'string', arg: 'NAME', required: true, help: 'the key group' } as const;

/**
 * The wallet a key group is: its root (group key + chain code) on the key's own network, with the recovery
 * policy the key holds (its addresses commit to that tree).
 */
export async function walletOf(key: KeyView, network: string | undefined) {
  const { parseNetwork } = await import('../../chains/bitcoin/network.ts');
  if (network !== undefined)
    try {
      parseNetwork(network);
    } catch (e) {
      throw new UsageError('btc', `--network: ${(e as Error).message}`);
    }
  return keyWallet(key, keyNetwork(key, network, 'btc'));
}

function indexOption(cmd: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0 || n >= 2 ** 31)
    throw new UsageError(cmd, `${v} is not an index (0 to 2^31-1)`);
  return n;
}

async function keyFor(client: () => Promise<Client>, name: string): Promise<KeyView> {
  return fetchKey(await client(), name);
}

const address = defineCommand({
  name: 'btc address',
  summary: 'Prints a Taproot (P2TR key-path) address of the key group.',
  usage: '--key NAME [--index I] [--change] [--count N] [--network NET]',
  details: [
    'Receive addresses are m/0/i, change addresses m/1/i below the group xpub. A key without a recovery policy',
    "commits to no script path; a key with one commits each address to exactly its policy's tree.",
  ].join('\n'),
  daemon: 'read',
  options: {
    key: KEY_OPTION,
    index: { type: 'string', arg: 'I', help: 'the first index (default 0)' },
    count: { type: 'string', arg: 'N', help: 'how many consecutive addresses (default 1)' },
    change: { type: 'boolean', help: 'change addresses instead of receive addresses' },
    network: NETWORK_OPTION,
  },
  async run({ values, out, client }) {
    const key = await keyFor(client, values.key);
    const wallet = await walletOf(key, values.network);
    const { descriptorAddress } = await import('../../chains/bitcoin/address.ts');
    const first = indexOption('btc address', values.index, 0);
    const count = indexOption('btc address', values.count, 1);
    if (count < 1 || count > 1000) throw new UsageError('btc address', '--count must be 1 to 1000');
    const change = values.change === true;
    const rows = Array.from({ length: count }, (_, i) => ({
      path: `m/${change ? 1 : 0}/${first + i}`,
      address: descriptorAddress(wallet, { change, index: first + i }),
    }));
    out.result({ key: key.name, network: wallet.network, addresses: rows }, () =>
      rows.map((r) => `${r.path}  ${r.address}`).join('\n'),
    );
    return undefined;
  },
});

const descriptor = defineCommand({
  name: 'btc descriptor',
  summary: 'Prints the tr() descriptors (receive and change, with checksums) for a watch-only wallet.',
  usage: '--key NAME [--network NET]',
  details: [
    'Import them as watch-only in Bitcoin Core (importdescriptors, with "active": true and "internal": true for',
    'the change descriptor) or in Sparrow (File > New Wallet > Watch Only, paste the receive descriptor).',
    'A key with a recovery policy writes its tree: tr(K/0/*,and_v(v:pk(R/0/*),older(N))); the multipath form',
    'tr(K/<0;1>/*,...) (BIP389) is printed too.',
  ].join('\n'),
  daemon: 'read',
  options: { key: KEY_OPTION, network: NETWORK_OPTION },
  async run({ values, out, client }) {
    const key = await keyFor(client, values.key);
    const wallet = await walletOf(key, values.network);
    const { walletDescriptors, multipathDescriptor } = await import('../../chains/bitcoin/descriptor.ts');
    const d = {
      ...walletDescriptors(wallet.root, wallet.network, wallet.recovery),
      multipath: multipathDescriptor(wallet.root, wallet.network, wallet.recovery),
    };
    out.result(
      { key: key.name, network: wallet.network, ...d },
      () => `receive    ${d.receive}\nchange     ${d.change}\nmultipath  ${d.multipath}`,
    );
    return undefined;
  },
});

const card = defineCommand({
  name: 'btc card',
  summary:
    'Prints the wallet card to keep with the recovery papers: everything public needed to find the funds.',
  usage: '--key NAME [--network NET] [--addresses N]',
  details: 'No secret is on it. Each key holder keeps its own share (see "frostnet backup export").',
  daemon: 'read',
  options: {
    key: KEY_OPTION,
    network: NETWORK_OPTION,
    addresses: { type: 'string', arg: 'N', help: 'how many first receive addresses to list (default 3)' },
  },
  async run({ values, out, client }) {
    const key = await keyFor(client, values.key);
    const book = await PartyBook.load(await client());
    const wallet = await walletOf(key, values.network);
    const [{ walletDescriptors }, { descriptorAddress }, { xpub, fingerprintHex }] = await Promise.all([
      import('../../chains/bitcoin/descriptor.ts'),
      import('../../chains/bitcoin/address.ts'),
      import('../../chains/bitcoin/keys.ts'),
    ]);
    const n = indexOption('btc card', values.addresses, 3);
    const data = {
      key: key.name,
      network: wallet.network,
      threshold: key.threshold,
      parties: key.members,
      groupKey: key.groupKey,
      epoch: key.epoch,
      fingerprint: fingerprintHex(wallet.root),
      xpub: xpub(wallet.root, wallet.network),
      descriptors: walletDescriptors(wallet.root, wallet.network, wallet.recovery),
      recovery: await recoveryLines(key, wallet.network),
      firstAddresses: Array.from({ length: n }, (_, i) =>
        descriptorAddress(wallet, { change: false, index: i }),
      ),
    };
    out.result(data, () =>
      [
        `Frostnet wallet card: ${data.key} (${data.network})`,
        `  ${data.threshold}-of-${data.parties.length} threshold key; any ${data.threshold} parties sign, fewer learn nothing`,
        '  parties:',
        ...data.parties.map((p, i) => `    ${i + 1}. ${book.label(p)}`),
        `  group key     ${data.groupKey}`,
        `  fingerprint   ${data.fingerprint}`,
        `  xpub          ${data.xpub}`,
        `  receive       ${data.descriptors.receive}`,
        `  change        ${data.descriptors.change}`,
        '  first receive addresses:',
        ...data.firstAddresses.map((a, i) => `    m/0/${i}  ${a}`),
        '  Spends are single Taproot key-path signatures (57.5 vB per input). No secret is on this card.',
        ...(data.recovery.length
          ? [
              '  Recovery path (a script path every address commits to, visible to everyone):',
              ...data.recovery.map((l) => `    ${l}`),
            ]
          : []),
      ].join('\n'),
    );
    return undefined;
  },
});

/** The PSBT as base64, from a file (base64 text or binary) or the argument itself. */
export async function psbtBase64(v: string, cmd = 'btc sign-psbt'): Promise<string> {
  let text = v;
  try {
    const bytes = await readFile(v);
    text =
      bytes.subarray(0, 5).toString('hex') === '70736274ff'
        ? bytes.toString('base64')
        : bytes.toString('utf8');
  } catch {
    // Not a file: the argument is the PSBT.
  }
  const b64 = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+=*$/.test(b64))
    throw new UsageError(cmd, '--psbt is neither a readable file nor base64');
  return b64;
}

/** A fee above this share of what is sent (or any fee when nothing leaves the wallet) is warned about. */
export const FEE_WARN_SHARE = 0.1;
/** A fee rate above this (sat/vB) is warned about. */
export const FEE_RATE_WARN = 1000;

type Summary = import('../../chains/bitcoin/psbt.ts').PsbtSummary;

/** The warnings a person should read before this PSBT is signed. */
export function feeWarnings(s: Summary, feeRate: number): string[] {
  const w: string[] = [];
  if (s.sent === 0n ? s.fee > 0n && s.fee * 10n > s.totalIn : Number(s.fee) > Number(s.sent) * FEE_WARN_SHARE)
    w.push(
      `the fee of ${s.fee} sat is ${s.sent === 0n ? 'paid on a transfer to yourself' : `${((Number(s.fee) / Number(s.sent)) * 100).toFixed(1)}% of the ${s.sent} sat sent`} (above ${FEE_WARN_SHARE * 100}%)`,
    );
  if (feeRate > FEE_RATE_WARN)
    w.push(`the fee rate of ${feeRate.toFixed(1)} sat/vB is above ${FEE_RATE_WARN} sat/vB`);
  return w;
}

/** What this party decoded of the PSBT: every input and output (change marked), fee and fee rate. */
export function psbtLines(s: Summary, feeRate: number): string[] {
  const path = (p?: readonly number[]) => (p ? ` m/${p.join('/')}` : '');
  return [
    `PSBT on ${s.network}: ${s.inputs.length} input(s), ${s.outputs.length} output(s)`,
    ...s.inputs.map(
      (i) =>
        `  in  #${i.index}  ${i.amount} sat  ${i.txid}:${i.vout}  ${i.ours ? `this key${path(i.path)}` : 'NOT this key'}`,
    ),
    ...s.outputs.map(
      (o) =>
        `  out #${o.index}  ${o.amount} sat  ${o.address ?? '(no address)'}  ${o.change ? `change back to this key${path(o.path)}` : 'PAYMENT'}`,
    ),
    `  sends ${s.sent} sat; fee ${s.fee} sat (${feeRate.toFixed(1)} sat/vB)`,
  ];
}

const signPsbt = defineCommand({
  name: 'btc sign-psbt',
  summary: 'Has the network sign every input of this key in a PSBT (BIP174/BIP371, Taproot key path).',
  usage:
    '--key NAME --psbt FILE|BASE64 [--network NET] [--finalize] [--out FILE [--force]] [--signers P,...] [--yes] [--wait]',
  details: [
    'Shows every input and output as this party decoded it (which outputs are change back to this key), the fee',
    'and the fee rate, and asks before signing on a terminal (--yes answers for scripts; without a terminal a',
    'request with a warning, such as a fee above 10% of the amount sent, is refused unless --yes). Every signing',
    "party recomputes each BIP341 sighash from the PSBT and refuses inputs that are not this key's own. Prints",
    'the signed PSBT (base64), or with --finalize the raw transaction hex ready to broadcast. When parties hold',
    'the request for approval it stops with exit code 3 and says who; the same command asked again is the same',
    'request, and --wait waits for the approvals instead.',
  ].join('\n'),
  daemon: 'request',
  options: {
    key: KEY_OPTION,
    psbt: {
      type: 'string',
      arg: 'FILE|BASE64',
      required: true,
      help: 'the PSBT: a file (base64 or binary) or base64',
    },
    network: NETWORK_OPTION,
    finalize: { type: 'boolean', help: 'finalize and print the raw transaction' },
    out: {
      type: 'string',
      arg: 'FILE',
      help: 'also write the signed PSBT (base64) or the transaction hex here (never over a file without --force)',
    },
    ...FORCE_OPTION,
    signers: SIGNERS_OPTION,
    yes: YES_OPTION,
    wait: WAIT_OPTION,
  },
  async run({ values, out, client }) {
    const cmd = 'btc sign-psbt';
    await checkOut(cmd, values.out, values.force === true);
    const psbt = await psbtBase64(values.psbt);
    const c = await client();
    const [key, book] = await Promise.all([fetchKey(c, values.key), PartyBook.load(c)]);
    const wallet = await walletOf(key, values.network);
    const [{ summarizePsbt }, { estimateWeight }] = await Promise.all([
      import('../../chains/bitcoin/psbt.ts'),
      import('../../chains/bitcoin/build.ts'),
    ]);
    let summary: Summary;
    try {
      summary = summarizePsbt(psbt, wallet);
    } catch (e) {
      throw new CliError('INVALID_INPUT', (e as Error).message, 'check the PSBT and --network');
    }
    const weight = estimateWeight(
      summary.inputs.length,
      summary.outputs.map((o) => o.script),
    );
    const feeRate = (Number(summary.fee) * 4) / weight;
    for (const line of psbtLines(summary, feeRate)) out.note(line);
    const warnings = feeWarnings(summary, feeRate);
    for (const w of warnings) out.note(`warning: ${w}`);
    await confirmSigning(`this PSBT with key ${key.name}`, warnings, {
      yes: values.yes === true,
      json: out.json,
    });
    const body = {
      psbt,
      network: wallet.network,
      finalize: values.finalize === true,
      ...(values.signers
        ? { signers: book.resolve(listOption(cmd, 'signers', values.signers), cmd, 'signers') }
        : {}),
    };
    const r = await c.run<{
      psbt: string;
      txHex?: string;
      txid?: string;
      vsize?: number;
      signers: string[];
      inputs: number[];
    }>(`/v1/keys/${encodeURIComponent(key.name)}/sign`, body, (line) => out.note(`  ${book.named(line)}`), {
      wait: values.wait === true,
      label: (p) => book.short(p),
      again: true,
    });
    const written = values.finalize ? r.txHex : r.psbt;
    if (values.out && written) await writeOut(values.out, `${written}\n`, values.force === true);
    out.result(
      {
        key: key.name,
        inputs: r.inputs,
        signers: r.signers,
        psbt: r.psbt,
        ...(values.finalize ? { txHex: r.txHex, txid: r.txid, vsize: r.vsize } : {}),
        sent: summary.sent.toString(),
        fee: summary.fee.toString(),
        feeRate: Math.round(feeRate * 100) / 100,
        outputs: summary.outputs.map((o) => ({
          index: o.index,
          address: o.address,
          amount: o.amount.toString(),
          change: o.change,
        })),
      },
      () =>
        values.finalize
          ? `txid ${r.txid} (${r.vsize} vB), signed by ${r.signers.map((p) => book.short(p)).join(', ')}\n${r.txHex}`
          : `signed inputs ${r.inputs.join(', ')} by ${r.signers.map((p) => book.short(p)).join(', ')}\n${r.psbt}`,
    );
    return undefined;
  },
});

export const commands: readonly Command[] = [address, descriptor, card, signPsbt];
