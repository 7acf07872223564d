/**
 * A party's data dir as `frostnet init` made it before the control API had scoped tokens (commit 7d12da2,
 * node/init.ts): config.json, the encrypted store with the identity, and one api-token (mode 600) that
 * opened every route. Tests start today's daemon on it to check the migration.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Config, defaultConfig, saveConfig } from '../../node/config.ts';
import { loadOrCreateIdentity, peerIdOf } from '../../node/storage/identity.ts';
import { KeyStore } from '../../node/storage/keystore.ts';
import { openPartyStore } from '../../node/storage/store.ts';
import type { KeyShare } from '../../protocol/keys.ts';

export type LegacyParty = { peerId: string; configPath: string; config: Config; token: string };

export async function makeLegacyParty(o: {
  dataDir: string;
  listen: string[];
  passphrase: string;
  passphraseFile?: string;
  /** Keys to hold already, by name. */
  keys?: ReadonlyMap<string, KeyShare>;
}): Promise<LegacyParty> {
  const configPath = join(o.dataDir, 'config.json');
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  const config: Config = {
    ...defaultConfig(o.dataDir),
    listen: o.listen,
    ...(o.passphraseFile ? { passphraseFile: o.passphraseFile } : {}),
  };
  const store = await openPartyStore(config, o.passphrase);
  let peerId: string;
  try {
    peerId = peerIdOf(await loadOrCreateIdentity(store));
    const keys = await KeyStore.open(store);
    for (const [name, share] of o.keys ?? []) await keys.restore(name, share, undefined);
  } finally {
    await store.close();
  }
  const token = randomBytes(32).toString('hex');
  await writeFile(join(o.dataDir, 'api-token'), `${token}\n`, { mode: 0o600 });
  await saveConfig(configPath, config);
  return { peerId, configPath, config, token };
}
