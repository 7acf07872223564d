#!/usr/bin/env node
/**
 * The `frostnet` command. Minimal for now: `init` and `start`; the operator commands talk to a daemon's
 * control API (see node/api.ts).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../node/config.ts';
import { startDaemon } from '../node/daemon.ts';
import { initParty } from '../node/init.ts';
import { readPassphrase } from '../node/store.ts';
import { isFrostnetError } from '../protocol/errors.ts';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'init') {
    const { values } = parseArgs({
      args: rest,
      options: {
        'data-dir': { type: 'string' },
        listen: { type: 'string', multiple: true },
        'api-port': { type: 'string' },
        'passphrase-env': { type: 'string' },
        'passphrase-file': { type: 'string' },
        json: { type: 'boolean' },
      },
    });
    if (!values['data-dir']) throw new Error('--data-dir is required');
    const passphrase = await readPassphrase({
      env: values['passphrase-env'],
      file: values['passphrase-file'],
    });
    const r = await initParty({
      dataDir: values['data-dir'],
      listen: values.listen,
      apiPort: values['api-port'] === undefined ? undefined : Number(values['api-port']),
      passphrase,
      passphraseEnv: values['passphrase-env'],
      passphraseFile: values['passphrase-file'],
    });
    console.log(
      values.json
        ? JSON.stringify({ peerId: r.peerId, config: r.configPath })
        : `peer id ${r.peerId}\nconfig  ${r.configPath}`,
    );
    return 0;
  }
  if (command === 'start') {
    const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } } });
    if (!values.config) throw new Error('--config is required');
    await loadConfig(values.config);
    const daemon = await startDaemon({ configPath: values.config });
    console.log(JSON.stringify({ peerId: daemon.peerId, addrs: daemon.addrs, api: daemon.api.url }));
    const stop = () => void daemon.stop().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    await new Promise(() => {});
  }
  throw new Error(`unknown command ${command ?? ''}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`error: ${isFrostnetError(e) ? `${e.message} [${e.code}]` : (e as Error).message}`);
    process.exit(isFrostnetError(e) && e.code === 'INVALID_INPUT' ? 2 : 1);
  },
);
