/**
 * Creates a party: its data dir, its config file, its encrypted store holding its Ed25519 identity (a new one,
 * or one restored from a backup), and one control API token per scope (node/api/credentials.ts). Refuses to
 * touch a data dir that already holds a party.
 */
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PrivateKey } from '@libp2p/interface';
import { FrostnetError } from '../protocol/errors.ts';
import { ensureTokens, TOKEN_SCOPES, type TokenScope, tokenFile } from './api/credentials.ts';
import { type Config, defaultConfig, saveConfig } from './config.ts';
import { openPartyStore } from './daemon.ts';
import { loadOrCreateIdentity, peerIdOf } from './storage/identity.ts';

export const CONFIG_FILE = 'config.json';

export type InitOptions = {
  dataDir: string;
  listen?: string[];
  apiPort?: number;
  passphrase: string;
  passphraseEnv?: string;
  passphraseFile?: string;
  /** The identity to take (one restored from a backup); default a new one. */
  identity?: PrivateKey;
};

export type InitResult = {
  peerId: string;
  configPath: string;
  config: Config;
  /** The control API's tokens, by scope. */
  tokens: Record<TokenScope, string>;
  /** Where each token is kept. */
  tokenFiles: Record<TokenScope, string>;
};

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

export async function initParty(o: InitOptions): Promise<InitResult> {
  const configPath = join(o.dataDir, CONFIG_FILE);
  if (await exists(configPath))
    throw new FrostnetError(
      'CONFLICT',
      `${o.dataDir} already holds a party (${configPath}); use another data dir`,
    );
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  const config: Config = {
    ...defaultConfig(o.dataDir),
    ...(o.listen ? { listen: o.listen } : {}),
    ...(o.passphraseEnv ? { passphraseEnv: o.passphraseEnv } : {}),
    ...(o.passphraseFile ? { passphraseFile: o.passphraseFile } : {}),
  };
  if (o.apiPort !== undefined) config.api = { ...config.api, port: o.apiPort };
  const store = await openPartyStore(config, o.passphrase);
  let peerId: string;
  try {
    peerId = peerIdOf(await loadOrCreateIdentity(store, o.identity));
  } finally {
    await store.close();
  }
  const { tokens } = await ensureTokens(o.dataDir);
  await saveConfig(configPath, config);
  const tokenFiles = Object.fromEntries(TOKEN_SCOPES.map((s) => [s, tokenFile(o.dataDir, s)])) as Record<
    TokenScope,
    string
  >;
  return { peerId, configPath, config, tokens, tokenFiles };
}
