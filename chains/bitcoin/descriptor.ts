/**
 * Output script descriptors (BIP380 with BIP386 tr()) for watch-only wallets in Bitcoin Core
 * (importdescriptors) and Sparrow: one for receive keys, one for change keys, each with its checksum, or both
 * in one multipath descriptor (BIP389). A key with a recovery policy writes its tree in miniscript (BIP379).
 */
import { FrostnetError } from '../../protocol/errors.ts';
import { CHANGE_BRANCH, type ExtendedKey, fingerprintHex, RECEIVE_BRANCH, xpub } from './keys.ts';
import type { NetworkName } from './network.ts';
import {
  balancedTree,
  formatRecoveryKey,
  type RecoveryLeaf,
  type RecoveryPolicy,
  type Tree,
} from './recovery.ts';

// BIP380: the character set is grouped in three 32-symbol groups; its order is part of the algorithm.
const INPUT_CHARSET =
  '0123456789()[],\'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#"\\ ';
const CHECKSUM_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0xf5dee51989n, 0xa9fdca3312n, 0x1bab10e32dn, 0x3706b1677an, 0x644d626ffdn];

function polymod(symbols: readonly number[]): bigint {
  let chk = 1n;
  for (const value of symbols) {
    const top = chk >> 35n;
    chk = ((chk & 0x7ffffffffn) << 5n) ^ BigInt(value);
    GENERATOR.forEach((g, i) => {
      if ((top >> BigInt(i)) & 1n) chk ^= g;
    });
  }
  return chk;
}

function expand(payload: string): number[] {
  const symbols: number[] = [];
  // Each character's group (0..2), three at a time read as one base-3 number.
  let group = 0;
  let grouped = 0;
  for (const c of payload) {
    const v = INPUT_CHARSET.indexOf(c);
    if (v < 0) throw new FrostnetError('INVALID_INPUT', `descriptor: character "${c}" is not allowed`);
    symbols.push(v & 31);
    group = group * 3 + (v >> 5);
    if (++grouped === 3) {
      symbols.push(group);
      group = 0;
      grouped = 0;
    }
  }
  if (grouped > 0) symbols.push(group);
  return symbols;
}

/** The 8-character BIP380 checksum of a descriptor without its "#...". */
export function descriptorChecksum(payload: string): string {
  const c = polymod([...expand(payload), 0, 0, 0, 0, 0, 0, 0, 0]) ^ 1n;
  let out = '';
  for (let i = 0; i < 8; i++) out += CHECKSUM_CHARSET[Number((c >> BigInt(5 * (7 - i))) & 31n)];
  return out;
}

export const withChecksum = (payload: string): string => `${payload}#${descriptorChecksum(payload)}`;

/** Checks "PAYLOAD#CHECKSUM" and returns the payload; a descriptor without a checksum is refused too. */
export function verifyDescriptorChecksum(descriptor: string): string {
  const at = descriptor.lastIndexOf('#');
  if (at < 0) throw new FrostnetError('INVALID_INPUT', 'descriptor: no checksum (expected "...#xxxxxxxx")');
  const payload = descriptor.slice(0, at);
  const checksum = descriptor.slice(at + 1);
  if (checksum.length !== 8)
    throw new FrostnetError(
      'INVALID_INPUT',
      `descriptor: checksum must be 8 characters, not ${checksum.length}`,
    );
  const symbols = [...checksum].map((c) => CHECKSUM_CHARSET.indexOf(c));
  if (symbols.includes(-1))
    throw new FrostnetError('INVALID_INPUT', `descriptor: "${checksum}" is not a checksum`);
  if (polymod([...expand(payload), ...symbols]) !== 1n)
    throw new FrostnetError('INVALID_INPUT', `descriptor: checksum ${checksum} does not match (a typo?)`);
  return payload;
}

export type WalletDescriptors = { readonly receive: string; readonly change: string };

/** The descriptor of every key below `suffix` ("/0/*", "/1/*" or BIP389's "/<0;1>/*"), without checksum. */
function descriptorPayload(
  root: ExtendedKey,
  network: NetworkName,
  recovery: RecoveryPolicy | undefined,
  suffix: string,
): string {
  const key = `[${fingerprintHex(root)}]${xpub(root, network)}${suffix}`;
  if (!recovery) return `tr(${key})`;
  const leaf = (l: RecoveryLeaf) => {
    const r = `${formatRecoveryKey(l.key, network)}${l.key.kind === 'xpub' ? suffix : ''}`;
    return `and_v(v:pk(${r}),older(${l.older}))`;
  };
  const write = (t: Tree<string>): string => (typeof t === 'string' ? t : `{${write(t[0])},${write(t[1])}}`);
  return `tr(${key},${write(balancedTree(recovery.leaves.map(leaf)))})`;
}

/**
 * tr([fingerprint]xpub/0/*) and tr([fingerprint]xpub/1/*), the form watch-only wallets import. The key origin
 * names the root itself, so wallets fill PSBT derivations with our master fingerprint and paths m/0/i and
 * m/1/i. With a recovery policy each also holds the policy's tree, every xpub leaf key derived at the same
 * branch and index: tr(K/0/*,and_v(v:pk(R/0/*),older(N))).
 */
export function walletDescriptors(
  root: ExtendedKey,
  network: NetworkName,
  recovery?: RecoveryPolicy,
): WalletDescriptors {
  const branch = (b: number) => withChecksum(descriptorPayload(root, network, recovery, `/${b}/*`));
  return { receive: branch(RECEIVE_BRANCH), change: branch(CHANGE_BRANCH) };
}

/** Both branches in one BIP389 descriptor: tr(K/<0;1>/*) or tr(K/<0;1>/*,and_v(v:pk(R/<0;1>/*),older(N))). */
export function multipathDescriptor(
  root: ExtendedKey,
  network: NetworkName,
  recovery?: RecoveryPolicy,
): string {
  return withChecksum(descriptorPayload(root, network, recovery, `/<${RECEIVE_BRANCH};${CHANGE_BRANCH}>/*`));
}
