/** Threshold keys: `keygen` runs a DKG, `keys` shows them, `refresh` re-randomises the shares of one. */
import type { Client } from '../client.ts';
import { type Command, defineCommand, integerOption, listOption } from '../command.ts';
import { CUSTODY_OPTIONS, proposalBody } from '../custody.ts';
import { asKeyView, type KeyView, keyNetwork, type WalletInfo, walletInfo } from '../keyview.ts';
import { CliError, type Output, table, UsageError } from '../output.ts';
import { PartyBook } from '../parties.ts';
import { RECOVERY_OPTIONS, recoveryOption } from '../recovery.ts';
import { fetchKey } from '../signing.ts';

const NETWORK_OPTION = {
  type: 'string',
  arg: 'NETWORK',
  help: 'Bitcoin network of the key: mainnet, testnet, signet or regtest (default mainnet); stored with the key',
} as const;

const FACTORY_OPTION = {
  type: 'string',
  arg: 'ADDRESS',
  env: 'FROSTNET_EVM_FACTORY',
  aliases: ['evm-factory'],
  help: "the account factory's address, to show the key's counterfactual EVM account (as in the evm commands)",
} as const;

/** Checks --network and --factory before anything runs (a typo must not cost a ceremony). */
async function walletOptions(cmd: string, v: { network?: string; factory?: string }) {
  const network = v.network?.trim().toLowerCase();
  if (network !== undefined) {
    // Loaded only here: bitcoinjs takes a while to load, and listing keys does without it.
    const { isNetworkName, NETWORK_NAMES } = await import('../../chains/bitcoin/network.ts');
    if (!isNetworkName(network))
      throw new UsageError(cmd, `--network ${network}: expected one of ${NETWORK_NAMES.join(', ')}`);
  }
  const given = v.factory;
  if (given === undefined) return { network, factory: undefined };
  const { getAddress } = await import('ethers');
  try {
    // Mixed case must carry a valid EIP-55 checksum: a typo in an address is caught here.
    return { network, factory: getAddress(given) };
  } catch {
    throw new UsageError(
      cmd,
      `--factory ${given}: not an address (0x and 40 hex digits, checksum if mixed case)`,
    );
  }
}

/** A key and its wallet data, for people. */
function describeKey(k: KeyView, w: WalletInfo, book?: PartyBook): string {
  const lines = [
    `key ${k.name}: ${k.threshold}-of-${k.members.length}, ${k.state}, epoch ${k.epoch}${
      k.pendingEpoch === undefined ? '' : ` (epoch ${k.pendingEpoch} settling)`
    }`,
    `  group key        ${k.groupKey}`,
    `  taproot address  ${w.address}  (${w.network}, receive m/0/0)`,
    `  xpub             ${w.xpub}`,
  ];
  for (const line of w.recovery ?? []) lines.push(`  recovery path    ${line}`);
  if (w.evmKey !== undefined) lines.push(`  EVM key (x)      ${w.evmKey}`);
  if (w.evmAccount !== undefined) lines.push(`  EVM account      ${w.evmAccount}  (factory ${w.evmFactory})`);
  lines.push('  members', ...k.members.map((m, i) => `    ${i + 1}. ${book ? book.label(m) : m}`));
  return lines.join('\n');
}

const keygen = defineCommand({
  name: 'keygen',
  summary: 'Creates a threshold key with the other parties (a DKG); prints the group key and its addresses.',
  usage:
    '--name NAME --threshold T [--parties ID|NAME,...] [--network NETWORK] [--recovery KEY,older=N ... | --recovery-file FILE] [--factory ADDRESS]',
  details: [
    'The parties are every member, this one included ("self"), as peer ids or as names from this party\'s',
    'config; by default this party and every configured peer. All of them must be running.',
    'A recovery policy adds Taproot leaves "after N blocks without moving, KEY can spend" to every address',
    "(and_v(v:pk(KEY),older(N)), KEY an xpub with its origin, derived /<0;1>/* like the group's): every member",
    'stores it and signs only for that tree. Choose KEY and N with care: see docs/recovery.md.',
  ].join('\n'),
  daemon: 'request',
  options: {
    name: { type: 'string', arg: 'NAME', required: true, help: "the new key's name" },
    threshold: { type: 'string', arg: 'T', required: true, help: 'how many parties must sign' },
    parties: { type: 'string', arg: 'ID,...', help: 'the members, comma-separated' },
    network: NETWORK_OPTION,
    ...RECOVERY_OPTIONS,
    factory: FACTORY_OPTION,
  },
  async run({ values, out, client }) {
    const { network, factory } = await walletOptions('keygen', values);
    const recovery = await recoveryOption('keygen', values);
    const threshold = integerOption('keygen', 'threshold', values.threshold, 2, 255);
    const c = await client();
    const book = await PartyBook.load(c);
    const parties = values.parties
      ? book.resolve(listOption('keygen', 'parties', values.parties), 'keygen', 'parties')
      : book.all;
    if (!parties.includes(book.self))
      throw new UsageError('keygen', `--parties must include this party ("self", ${book.self})`);
    if (threshold > parties.length)
      throw new UsageError('keygen', `--threshold ${threshold} is more than the ${parties.length} parties`);
    out.note(
      `DKG for key ${values.name}, ${threshold}-of-${parties.length}: ${parties.map((p) => book.short(p)).join(', ')}`,
    );
    const key = asKeyView(
      await c.run(
        '/v1/keys',
        { name: values.name, threshold, parties, ...(network && { network }), ...(recovery && { recovery }) },
        (line) => out.note(`  ${line}`),
      ),
    );
    const wallet = await walletInfo(key, keyNetwork(key, network, 'keygen'), factory);
    out.result({ ...key, wallet }, () => describeKey(key, wallet, book));
    return 0;
  },
});

const keys = defineCommand({
  name: 'keys',
  summary: 'Lists the keys this party holds, or shows one with its addresses.',
  usage: '[NAME] [--network NETWORK] [--factory ADDRESS]',
  daemon: 'read',
  positionals: 1,
  options: { network: NETWORK_OPTION, factory: FACTORY_OPTION },
  async run({ values, positionals, out, client }) {
    const { network, factory } = await walletOptions('keys', values);
    const c = await client();
    const [name] = positionals;
    if (name !== undefined) return showKey(c, name, out, network, factory);
    const list = (await c.get<unknown[]>('/v1/keys')).map(asKeyView);
    out.result(list, () =>
      list.length === 0
        ? 'no keys yet; create one with "frostnet keygen"'
        : table([
            ['NAME', 'NETWORK', 'STATE', 'THRESHOLD', 'EPOCH', 'RECOVERY', 'GROUP KEY'],
            ...list.map((k) => [
              k.name,
              k.network ?? '-',
              k.state,
              `${k.threshold}-of-${k.members.length}`,
              String(k.epoch),
              k.recovery ? `after ${k.recovery.leaves.map((l) => l.older).join('/')} blocks` : '-',
              k.groupKey,
            ]),
          ]),
    );
    return 0;
  },
});

async function showKey(
  c: Client,
  name: string,
  out: Output,
  network: string | undefined,
  factory?: string,
): Promise<number> {
  const [key, book] = await Promise.all([fetchKey(c, name), PartyBook.load(c)]);
  const wallet = await walletInfo(key, keyNetwork(key, network, 'keys'), factory);
  out.result({ ...key, wallet }, () => describeKey(key, wallet, book));
  return 0;
}

const refresh = defineCommand({
  name: 'refresh',
  summary: "Re-randomises every member's share of a key; the group key and addresses stay the same.",
  usage: '--key NAME [--wait] [--expires-in SECONDS]',
  details: [
    "A custody proposal first: t members' policies approve it (by default a refresh needs no operator). Every",
    'member must take part; the new epoch starts only when all have signed their confirmation. Exit code 3: it',
    'waits for approvals or to settle, and the daemon goes on with it ("frostnet requests show ID --wait").',
  ].join('\n'),
  daemon: 'request',
  options: {
    key: { type: 'string', arg: 'NAME', required: true, help: 'the key to refresh' },
    ...CUSTODY_OPTIONS,
  },
  async run({ values, out, client }) {
    const c = await client();
    const before = await fetchKey(c, values.key);
    const book = await PartyBook.load(c);
    out.note(
      `refreshing key ${before.name} (epoch ${before.epoch}) with its ${before.members.length} members`,
    );
    const after = await c.run<{ name: string; epoch: number; groupKey: string }>(
      `/v1/keys/${encodeURIComponent(before.name)}/refresh`,
      proposalBody('refresh', values['expires-in']),
      (line) => out.note(`  ${line}`),
      { wait: values.wait === true, label: (p) => book.short(p) },
    );
    if (after.groupKey !== before.groupKey)
      throw new CliError(
        'KEY_CHANGED',
        `refresh of ${before.name} changed the group key from ${before.groupKey} to ${after.groupKey}`,
        'do not use this key; report it',
      );
    out.result(
      { name: before.name, previousEpoch: before.epoch, epoch: after.epoch, groupKey: after.groupKey },
      () =>
        `key ${before.name} refreshed: epoch ${before.epoch} -> ${after.epoch}; group key unchanged (${after.groupKey})`,
    );
    return 0;
  },
});

export const commands: readonly Command[] = [keygen, keys, refresh];
