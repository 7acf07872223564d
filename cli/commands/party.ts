/**
 * The party itself: `init` creates it, `start` runs its daemon in the foreground, `status` asks the daemon how
 * it is. The node modules are loaded only by the commands that need them (they take seconds to load).
 */
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isFrostnetError } from '../../protocol/errors.ts';
import { BACKUP_PASSPHRASE_FILE_OPTION, backupPassphrase, readBackupFile } from '../backup-file.ts';
import { CONFIG_FILE } from '../client.ts';
import { type Command, defineCommand, integerOption } from '../command.ts';
import { concreteListen, shareableAddrs } from '../listen.ts';
import { CliError, hintFor, UsageError } from '../output.ts';
import type { PeerView, StatusView } from '../parties.ts';
import { peersTable } from './peers.ts';

const DEFAULT_LISTEN = '/ip4/127.0.0.1/tcp/0';
const DEFAULT_PASSPHRASE_ENV = 'FROSTNET_PASSPHRASE';

/** The identity a backup file keeps, for `init --from-backup`. */
async function backupIdentity(path: string, passphraseFile: string | undefined, env: NodeJS.ProcessEnv) {
  const passphrase = await backupPassphrase('init', 'backup-passphrase-file', passphraseFile, env);
  const file = await readBackupFile(path, '--from-backup');
  const { openBackup } = await import('../../node/ceremonies/backup.ts');
  const { identity } = await openBackup(file, passphrase);
  if (!identity)
    throw new CliError(
      'NO_IDENTITY',
      `${path} holds no identity (it was made before backups kept one)`,
      'init without it, and have t members vouch for the new peer id and repair the share ("frostnet vouch")',
    );
  return identity;
}

const init = defineCommand({
  name: 'init',
  summary:
    'Creates a party: its data dir, config, encrypted store with a new identity, and one API token per scope.',
  usage:
    '--data-dir DIR [--listen MULTIADDR ...] [--api-port PORT] [--passphrase-env VAR | --passphrase-file FILE]\n' +
    '  [--from-backup FILE [--backup-passphrase-file FILE]]',
  details: [
    'Prints the peer id and the address(es) to give to the other parties. A listen port of 0 is replaced by a',
    'port that is free now, so the address can be shared before the daemon runs. The store passphrase comes',
    `from the environment variable (default ${DEFAULT_PASSPHRASE_ENV}) or from the file, never from the`,
    'command line; the config records which, and the daemon reads it the same way at every start.',
    'With --from-backup the party takes the identity (peer id) kept in a backup file, to set up a lost machine',
    'again; then add the peers, start it and run "frostnet backup import" to restore the share.',
    'The control API tokens go in DIR/tokens/ (mode 600): request (signatures and ceremonies), approve (held',
    'requests), admin (backups, erase, peers, vouch) and metrics (/metrics only). Give each to whoever holds',
    'that duty; the CLI picks the one a command needs.',
  ].join('\n'),
  options: {
    'data-dir': {
      type: 'string',
      arg: 'DIR',
      required: true,
      env: 'FROSTNET_DATA_DIR',
      help: 'where the party lives (must not hold a party yet)',
    },
    listen: {
      type: 'string',
      multiple: true,
      arg: 'MULTIADDR',
      help: `libp2p TCP listen address (default ${DEFAULT_LISTEN})`,
    },
    'api-port': {
      type: 'string',
      arg: 'PORT',
      help: 'control API port on 127.0.0.1 (default 0: any free port)',
    },
    'passphrase-env': {
      type: 'string',
      arg: 'VAR',
      help: `environment variable holding the store passphrase (default ${DEFAULT_PASSPHRASE_ENV})`,
    },
    'passphrase-file': { type: 'string', arg: 'FILE', help: 'file holding the store passphrase' },
    'from-backup': { type: 'string', arg: 'FILE', help: "a backup file whose party's identity to take" },
    'backup-passphrase-file': { ...BACKUP_PASSPHRASE_FILE_OPTION },
  },
  async run({ values, out, env }) {
    const dataDir = resolve(values['data-dir']);
    if (values['passphrase-env'] !== undefined && values['passphrase-file'] !== undefined)
      throw new UsageError('init', 'give --passphrase-env or --passphrase-file, not both');
    const passphraseFile =
      values['passphrase-file'] === undefined ? undefined : resolve(values['passphrase-file']);
    const apiPort =
      values['api-port'] === undefined
        ? undefined
        : integerOption('init', 'api-port', values['api-port'], 0, 65535);
    const listen = await concreteListen(values.listen ?? [DEFAULT_LISTEN]);
    const [{ readPassphrase }, { initParty }] = await Promise.all([
      import('../../node/storage/store.ts'),
      import('../../node/init.ts'),
    ]);
    const fromBackup = values['from-backup'] === undefined ? undefined : resolve(values['from-backup']);
    const identity =
      fromBackup === undefined
        ? undefined
        : await backupIdentity(fromBackup, values['backup-passphrase-file'], env);
    const r = await withContext(`cannot create a party in ${dataDir}`, async () => {
      const passphrase = await readPassphrase({ env: values['passphrase-env'], file: passphraseFile });
      return initParty({
        dataDir,
        listen,
        apiPort,
        passphrase,
        passphraseEnv: values['passphrase-env'],
        passphraseFile,
        identity,
      });
    });
    const share = shareableAddrs(r.config.listen, r.peerId);
    out.result(
      {
        peerId: r.peerId,
        dataDir,
        config: r.configPath,
        listen: r.config.listen,
        addrs: share,
        tokens: r.tokenFiles,
        ...(fromBackup ? { identityFrom: fromBackup } : {}),
      },
      () =>
        [
          `created party ${r.peerId}${fromBackup ? ` with the identity kept in ${fromBackup}` : ''}`,
          `  data dir  ${dataDir}`,
          `  config    ${r.configPath}`,
          '',
          'control API tokens (one per duty; give each only to whoever holds it):',
          ...Object.entries(r.tokenFiles).map(([scope, file]) => `  ${scope.padEnd(8)}  ${file}`),
          '',
          'give the other parties this address:',
          ...share.map((a) => `  ${a}`),
          '',
          'next:',
          `  frostnet start --data-dir ${dataDir}`,
          `  frostnet peers add --data-dir ${dataDir} --addr <another party's address> --name <its name>`,
          ...(fromBackup
            ? [
                `  frostnet backup import --data-dir ${dataDir} --file ${fromBackup}   (once the peers answer)`,
              ]
            : []),
        ].join('\n'),
    );
    return 0;
  },
});

const start = defineCommand({
  name: 'start',
  summary: "Runs the party's daemon in the foreground until SIGINT (Ctrl-C) or SIGTERM.",
  usage: '(--config FILE | --data-dir DIR)',
  details: [
    'When it is ready it prints one JSON line on stdout: {"peerId", "addrs", "api"}; its logs are JSON lines',
    'on stderr. The store passphrase is read as the config says (passphraseFile or passphraseEnv).',
  ].join('\n'),
  options: {
    config: { type: 'string', arg: 'FILE', help: 'the config file' },
    'data-dir': {
      type: 'string',
      arg: 'DIR',
      env: 'FROSTNET_DATA_DIR',
      help: `use DIR/${CONFIG_FILE}`,
    },
  },
  async run({ values, out }) {
    const given =
      values.config ?? (values['data-dir'] === undefined ? undefined : join(values['data-dir'], CONFIG_FILE));
    if (given === undefined) throw new UsageError('start', 'give --config FILE or --data-dir DIR');
    const configPath = resolve(given);
    if (!(await exists(configPath)))
      throw new CliError(
        'NO_PARTY',
        `there is no config at ${configPath}`,
        'create the party with "frostnet init --data-dir DIR", or give --config FILE',
      );
    const [{ startDaemon }, { guardProcess }] = await Promise.all([
      import('../../node/daemon.ts'),
      import('../../node/ops/process-guard.ts'),
    ]);
    guardProcess();
    const daemon = await withContext(`cannot start the party of ${configPath}`, () =>
      startDaemon({ configPath }),
    );
    // Machine-readable in every mode: supervisors and scripts wait for this line.
    process.stdout.write(
      `${JSON.stringify({ peerId: daemon.peerId, addrs: daemon.addrs, api: daemon.api.url })}\n`,
    );
    out.note(`party ${daemon.peerId} running; control API ${daemon.api.url}; Ctrl-C stops it`);
    const signal = await new Promise<NodeJS.Signals>((r) => {
      process.once('SIGINT', r);
      process.once('SIGTERM', r);
    });
    // A second signal while stopping means: stop now.
    const force = () => process.exit(1);
    process.once('SIGINT', force);
    process.once('SIGTERM', force);
    out.note(`${signal}: stopping`);
    await daemon.stop();
    return 0;
  },
});

const status = defineCommand({
  name: 'status',
  summary: "Shows the party: its peer id, addresses, keys, sessions, and its peers' liveness.",
  usage: '',
  daemon: 'read',
  options: {},
  async run({ out, client }) {
    const c = await client();
    const [s, peers] = await Promise.all([c.get<StatusView>('/v1/status'), c.get<PeerView[]>('/v1/peers')]);
    const connected = s.peers.filter((p) => p.connected).length;
    out.result({ ...s, api: c.daemon.api }, () =>
      [
        `party     ${s.peerId}`,
        ...s.addrs.map((a, i) => `${i === 0 ? 'listens  ' : '         '} ${a}`),
        `api       ${c.daemon.api}`,
        `keys      ${s.keys}`,
        `sessions  ${s.sessions} open, ${s.requestsRunning} request(s) running`,
        `peers     ${connected} of ${s.peers.length} connected`,
        ...(peers.length > 0 ? [peersTable(peers)] : []),
      ].join('\n'),
    );
    return 0;
  },
});

export const commands: readonly Command[] = [init, start, status];

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/**
 * Runs `fn`; a failure becomes a CliError saying what was being done and what to do. Errors other than the
 * typed ones come from the system (a port in use, a directory not writable), so they point at the config.
 */
async function withContext<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isFrostnetError(e))
      throw new CliError(e.code, `${what}: ${e.message}`, hintFor(e.code, e.message), e.culprits);
    const code = (e as { code?: unknown }).code;
    throw new CliError(
      typeof code === 'string' ? code : 'FAILED',
      `${what}: ${e instanceof Error ? e.message : String(e)}`,
      'check the addresses, ports and paths in the config and the data dir',
    );
  }
}
