/** P2TR key-path addresses of a wallet. */
import { address, payments } from 'bitcoinjs-lib';
import { blameOnThrow } from '../../protocol/errors.ts';
import './ecc.ts';
import {
  type AddressAt,
  addressPath,
  descriptorKey,
  type ExtendedKey,
  type Wallet,
  walletKey,
} from './keys.ts';
import { bitcoinNetwork, type NetworkName } from './network.ts';

/** OP_1 <32-byte output key>: the scriptPubKey of a P2TR output. */
export function p2trScript(outputKey: Uint8Array): Uint8Array {
  return blameOnThrow(
    'INVALID_INPUT',
    'taproot output key',
    [],
    () => payments.p2tr({ pubkey: outputKey }).output!,
  );
}

/** Whether a script is a P2TR output (OP_1 and a 32-byte program); its program is then bytes 2..34. */
export const isP2trScript = (script: Uint8Array | undefined): script is Uint8Array =>
  script !== undefined && script.length === 34 && script[0] === 0x51 && script[1] === 0x20;

/** The bech32m address of a P2TR output key. */
export function p2trAddress(outputKey: Uint8Array, network: NetworkName): string {
  return blameOnThrow(
    'INVALID_INPUT',
    'taproot output key',
    [],
    () => payments.p2tr({ pubkey: outputKey, network: bitcoinNetwork(network) }).address!,
  );
}

/** The output script an address pays to, refused when it is not an address of `network`. */
export function addressScript(text: string, network: NetworkName, what: string): Uint8Array {
  return blameOnThrow('INVALID_INPUT', `${what}: address ${text} on ${network}`, [], () =>
    address.toOutputScript(text, bitcoinNetwork(network)),
  );
}

/** Receive or change address i of a wallet. */
export function walletAddress(
  root: ExtendedKey,
  at: { change: boolean; index: number },
  network: NetworkName,
): string {
  return p2trAddress(walletKey(root, at).outputKey, network);
}

/** Receive or change address i as the wallet's descriptor gives it: with its recovery tree, if it has one. */
export function descriptorAddress(wallet: Wallet, at: AddressAt): string {
  return p2trAddress(descriptorKey(wallet, addressPath(at)).outputKey, wallet.network);
}
