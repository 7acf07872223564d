/**
 * A test party's store, created ahead of `frostnet init` (or initParty) with a light scrypt cost, which init,
 * every daemon start and every peek into the store then keep: at the default cost (2^17, about a second of CPU
 * on the test machine) key derivation would dominate the tests and tests nothing they check. The store's own
 * tests (test/node/storage/) keep the default cost.
 */
import { mkdir } from 'node:fs/promises';

export async function lightStore(dataDir: string, passphrase: string): Promise<void> {
  // Loaded here: the node modules take seconds to load, and most test files never need them.
  const [{ defaultConfig }, { storeDir }, { openStore }] = await Promise.all([
    import('../../node/config.ts'),
    import('../../node/daemon.ts'),
    import('../../node/storage/store.ts'),
  ]);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await (await openStore(storeDir(defaultConfig(dataDir)), passphrase, { kdf: { N: 2 ** 12 } })).close();
}
