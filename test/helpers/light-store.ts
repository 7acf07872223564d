/**
 * A test party's store, created ahead of `frostnet init` (or initParty) with a light scrypt cost, which init,
 * every daemon start and every peek into the store then keep: at the default cost (2^17, about a second of CPU
 * on the test machine) key derivation would dominate the tests and tests nothing they check. The store's own
 * tests (test/node/storage/) keep the default cost.
 */
import { createStore } from '../../deploy/local-network.ts';

export const LIGHT_KDF_N = 2 ** 12;

export const lightStore = (dataDir: string, passphrase: string): Promise<void> =>
  createStore(dataDir, passphrase, LIGHT_KDF_N);
