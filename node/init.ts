/**
 * Creates a party: its data dir, its config file, its encrypted store holding its Ed25519 identity (a new one,
 * or one restored from a backup), and one control API token per scope (node/api/credentials.ts). Refuses to
 * touch a data dir that already holds a party. Everything is checked before anything is written (the
 * passphrase's length, the config, that this machine can listen where it says), and a failure midway removes
 * what init made, so a failed init leaves nothing behind.
 */
import { access, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PrivateKey } from '@libp2p/interface';
import { FrostnetError } from '../protocol/errors.ts';
import { ensureTokens, TOKEN_SCOPES, type TokenScope, tokenFile } from './api/credentials.ts';
import { type Config, defaultConfig, parseConfig, saveConfig } from './config.ts';
import { bindTargets, checkBindable } from './storage/bind-check.ts';
import { loadOrCreateIdentity, peerIdOf } from './storage/identity.ts';
import { openPartyStore } from './storage/store.ts';

export const CONFIG_FILE = 'config.json';
/** A store passphrase is at least this long: as strict as a backup's (node/ceremonies/backup.ts). */
export const MIN_STORE_PASSPHRASE = 12;

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
  if (o.passphrase.length < MIN_STORE_PASSPHRASE)
    throw new FrostnetError(
      'INVALID_INPUT',
      `the store passphrase has ${o.passphrase.length} characters; it needs at least ${MIN_STORE_PASSPHRASE}`,
    );
  const config: Config = {
    ...defaultConfig(o.dataDir),
    ...(o.listen ? { listen: o.listen } : {}),
    ...(o.passphraseEnv ? { passphraseEnv: o.passphraseEnv } : {}),
    ...(o.passphraseFile ? { passphraseFile: o.passphraseFile } : {}),
  };
  if (o.apiPort !== undefined) config.api = { ...config.api, port: o.apiPort };
  parseConfig(config, { source: configPath });
  await checkBindable('listen address', bindTargets(config.listen));
  if (config.api.port !== 0)
    await checkBindable('control API', [
      { ma: `${config.api.host}:${config.api.port}`, host: config.api.host, port: config.api.port },
    ]);
  const existed = await exists(o.dataDir);
  const before = new Set(existed ? await readdir(o.dataDir) : []);
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  let peerId: string;
  let tokens: Record<TokenScope, string>;
  try {
    const store = await openPartyStore(config, o.passphrase);
    try {
      peerId = peerIdOf(await loadOrCreateIdentity(store, o.identity));
    } finally {
      await store.close();
    }
    ({ tokens } = await ensureTokens(o.dataDir));
    await saveConfig(configPath, config);
  } catch (e) {
    // Nothing of a half-made party stays: the dir if init made it, else what init put in it.
    if (!existed) await rm(o.dataDir, { recursive: true, force: true });
    else
      for (const entry of await readdir(o.dataDir))
        if (!before.has(entry)) await rm(join(o.dataDir, entry), { recursive: true, force: true });
    throw e;
  }
  const tokenFiles = Object.fromEntries(TOKEN_SCOPES.map((s) => [s, tokenFile(o.dataDir, s)])) as Record<
    TokenScope,
    string
  >;
  return { peerId, configPath, config, tokens, tokenFiles };
}
