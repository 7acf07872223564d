/** `sign`: a message signed by the network, verified here before it is printed. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Scheme } from '../../protocol/sign.ts';
import { type Command, defineCommand, listOption } from '../command.ts';
import { CliError, UsageError } from '../output.ts';
import { PartyBook } from '../parties.ts';
import { SIGNERS_OPTION, WAIT_OPTION } from '../request-options.ts';
import { fetchKey, signMessage } from '../signing.ts';

/** The daemon's limit on one message (protocol/sign.ts MAX_MESSAGE_BYTES). */
const MAX_MESSAGE_BYTES = 1 << 16;

export const SCHEME_OPTION = {
  type: 'string',
  arg: 'SCHEME',
  help: 'bip340 (Taproot, EVM verifier; default) or rfc9591 (plain FROST, 65-byte signatures)',
} as const;

export function parseSchemeOption(cmd: string, value: string | undefined): Scheme {
  const scheme = value ?? 'bip340';
  if (scheme !== 'bip340' && scheme !== 'rfc9591')
    throw new UsageError(cmd, `--scheme ${scheme}: expected bip340 or rfc9591`);
  return scheme;
}

/** The message as lowercase hex, from --message or --file (exactly one). */
async function messageHex(v: { message?: string; file?: string }): Promise<string> {
  if ((v.message === undefined) === (v.file === undefined))
    throw new UsageError('sign', 'give exactly one of --message HEX or --file FILE');
  let hex: string;
  if (v.message !== undefined) {
    hex = v.message.replace(/^0x/i, '').toLowerCase();
    if (!/^([0-9a-f]{2})+$/.test(hex))
      throw new UsageError('sign', '--message must be hex bytes (an even number of 0-9, a-f)');
  } else {
    const file = resolve(v.file!);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (e) {
      throw new CliError('NO_FILE', `cannot read ${file}: ${(e as Error).message}`, 'check the --file path');
    }
    hex = bytes.toString('hex');
  }
  if (hex.length / 2 > MAX_MESSAGE_BYTES)
    throw new UsageError(
      'sign',
      `the message has ${hex.length / 2} bytes; at most ${MAX_MESSAGE_BYTES} can be signed`,
    );
  return hex;
}

/** "0/5" or "m/0/5": unhardened steps (the network cannot derive hardened ones). */
async function parsePathOption(value: string | undefined): Promise<number[]> {
  if (value === undefined) return [];
  const { parsePath, HARDENED } = await import('../../protocol/derive.ts');
  let path: number[];
  try {
    path = parsePath(value);
  } catch (e) {
    throw new UsageError('sign', `--${(e as Error).message}`);
  }
  if (path.some((i) => i >= HARDENED))
    throw new UsageError('sign', `--path ${value}: indexes go up to ${HARDENED - 1} (unhardened)`);
  return path;
}

const sign = defineCommand({
  name: 'sign',
  summary:
    'Signs a message with a key through the network and prints the signature and the key it verifies under.',
  usage:
    '--key NAME (--message HEX | --file FILE) [--scheme bip340|rfc9591] [--signers P,...] [--path 0/5] [--taproot] [--wait]',
  details: [
    'Raw messages are off unless every signer\'s policy sets "rawMessages": true. They sign under the key\'s',
    'raw-message branch m/5390679 only (its key, or with --path an unhardened child below it, with --taproot its',
    'BIP341 output key), never a key of the wallet, the EVM accounts or custody proposals: a raw signature is',
    'useless for spending or for acting for the account. The signature is verified here before it is printed.',
    'When parties hold the request for their operators, the command stops with exit code 3 and says who holds',
    'it; asked again it is the same request at those parties, and --wait waits for their approvals instead.',
  ].join('\n'),
  daemon: 'request',
  options: {
    key: { type: 'string', arg: 'NAME', required: true, help: 'the key to sign with' },
    message: { type: 'string', arg: 'HEX', help: 'the message, hex' },
    file: { type: 'string', arg: 'FILE', help: 'sign the bytes of this file' },
    scheme: SCHEME_OPTION,
    signers: SIGNERS_OPTION,
    path: {
      type: 'string',
      arg: 'PATH',
      help: 'derive the key along this unhardened path below the raw-message branch, e.g. 0/5',
    },
    taproot: { type: 'boolean', help: 'sign for the Taproot output key (bip340 only)' },
    wait: WAIT_OPTION,
  },
  async run({ values, out, client }) {
    const scheme = parseSchemeOption('sign', values.scheme);
    const taproot = values.taproot === true;
    if (taproot && scheme !== 'bip340') throw new UsageError('sign', '--taproot signs with bip340 only');
    const path = await parsePathOption(values.path);
    const message = await messageHex(values);
    const c = await client();
    const [key, book] = await Promise.all([fetchKey(c, values.key), PartyBook.load(c)]);
    const signers =
      values.signers === undefined
        ? undefined
        : book.resolve(listOption('sign', 'signers', values.signers), 'sign', 'signers');
    if (signers !== undefined && signers.length < key.threshold)
      throw new UsageError(
        'sign',
        `key ${key.name} needs ${key.threshold} signers; --signers names ${signers.length}`,
      );
    const r = await signMessage(
      c,
      key,
      { message, scheme, domain: 'raw', path, taproot, signers },
      (line) => out.note(`  ${book.named(line)}`),
      { wait: values.wait === true, label: (p) => book.short(p), again: true },
    );
    if (!r.verified)
      throw new CliError(
        'INVALID_SIGNATURE',
        `the signature the daemon returned does not verify under ${r.publicKey}`,
        'do not use it; check the daemon and its peers, and report this',
      );
    const { RAW_BRANCH } = await import('../../chains/domains.ts');
    const pathText = ['m', RAW_BRANCH, ...path].join('/');
    out.result({ key: key.name, scheme, message, path, taproot, ...r }, () =>
      [
        `signature       ${r.signature}`,
        `verifies under  ${r.publicKey}  (${scheme}, ${pathText}${taproot ? ', taproot output key' : ''})`,
        `signed by       ${r.signers.map((s) => book.short(s)).join(', ')}`,
        ...r.excluded.map((x) => `excluded        ${book.short(x.party)}: ${x.code} ${book.named(x.reason)}`),
      ].join('\n'),
    );
    return 0;
  },
});

export const commands: readonly Command[] = [sign];
