/**
 * A local network in one command:
 *
 *   npm run devnet -- [--parties N] [--threshold T] [--dir DIR]   create (first time) and run N parties
 *   npm run devnet -- stop [--dir DIR]                            stop a devnet running elsewhere
 *   npm run devnet -- clean [--dir DIR]                           stop it and delete DIR
 *
 * Runs in the foreground until Ctrl-C. A second run on the same DIR starts the same parties again, with their
 * keys. Everything listens on 127.0.0.1 only.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { integerOption } from '../cli/command.ts';
import { CliError, Output, UsageError } from '../cli/output.ts';
import { daemonPid, isAlive, LocalNetwork, type LocalParty, type Party, stopPid } from './local-network.ts';

/**
 * The devnet's manifest, in its directory: its parties and the supervising process, so that another shell can
 * stop them and a second run can start the same parties again.
 */
const MANIFEST = 'devnet.json';

type Manifest = { version: 1; parties: LocalParty[]; supervisorPid?: number };

async function readManifest(dir: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), 'utf8');
  } catch {
    return undefined;
  }
  const m = JSON.parse(text) as Manifest;
  if (m.version !== 1 || !Array.isArray(m.parties))
    throw new CliError('NOT_A_DEVNET', `${join(dir, MANIFEST)} is not a devnet manifest`, 'check --dir');
  return m;
}

const writeManifest = (dir: string, parties: readonly Party[], supervisorPid?: number) => {
  const m: Manifest = {
    version: 1,
    parties: parties.map(({ name, dataDir, peerId, listen }) => ({ name, dataDir, peerId, listen })),
    ...(supervisorPid !== undefined && { supervisorPid }),
  };
  return writeFile(join(dir, MANIFEST), `${JSON.stringify(m, null, 2)}\n`, { mode: 0o600 });
};

const HELP = `usage: npm run devnet -- [up] [--parties N] [--threshold T] [--dir DIR]
       npm run devnet -- stop [--dir DIR]
       npm run devnet -- clean [--dir DIR]

Runs N party daemons on 127.0.0.1 (default 5), connected to each other, each with its own data dir and a
generated passphrase file under DIR (default .devnet), until Ctrl-C. T (default: a majority) is the threshold
of the example commands it prints. "stop" stops a devnet started from another shell; "clean" also deletes DIR.`;

const usage = (message: string) => new UsageError('devnet', message, 'see "npm run devnet -- --help"');

/** A whole-number option, with the devnet's help as the hint. */
function intArg(name: string, value: string, min: number, max: number): number {
  try {
    return integerOption('devnet', name, value, min, max);
  } catch (e) {
    throw usage((e as Error).message);
  }
}

async function up(
  dir: string,
  partiesArg: string | undefined,
  thresholdArg: string | undefined,
  out: Output,
) {
  const existing = await readManifest(dir);
  if (existing?.supervisorPid !== undefined && isAlive(existing.supervisorPid))
    throw new CliError(
      'CONFLICT',
      `a devnet already runs from ${dir} (pid ${existing.supervisorPid})`,
      'use it, or stop it with "npm run devnet -- stop"',
    );
  const n = partiesArg === undefined ? (existing?.parties.length ?? 5) : intArg('parties', partiesArg, 2, 64);
  if (existing && existing.parties.length !== n)
    throw new CliError(
      'CONFLICT',
      `${dir} holds a ${existing.parties.length}-party devnet, not ${n}`,
      'run "npm run devnet -- clean" first, or pick another --dir',
    );
  const t = thresholdArg === undefined ? Math.floor(n / 2) + 1 : intArg('threshold', thresholdArg, 2, n);
  if (!existing) out.note(`creating ${n} parties in ${dir}`);
  // Each daemon logs to <data dir>/daemon.log and reads its generated passphrase from its own file.
  const net = existing ? LocalNetwork.open(existing.parties) : await LocalNetwork.create(n, { dir });
  await writeManifest(dir, net.parties, process.pid);
  const stopAll = async () => {
    await net.stopAll();
    await writeManifest(dir, net.parties);
  };
  try {
    await net.startAll();
  } catch (e) {
    await stopAll();
    throw e;
  }
  const parties = net.parties.map(({ name, dataDir, peerId, listen, api, proc }) => {
    return { name, dataDir, peerId, listen, api, pid: proc?.pid };
  });
  out.result({ dir, threshold: t, parties }, () => instructions(dir, net.parties, t));

  // Until Ctrl-C / SIGTERM, or until a daemon dies on its own (then stop the rest and fail).
  const died = new Promise<string>((r) => {
    for (const p of net.parties)
      p.proc?.once('exit', (code, signal) => r(`${p.name} exited (${signal ?? code})`));
  });
  const signalled = new Promise<string>((r) => {
    process.once('SIGINT', () => r('SIGINT'));
    process.once('SIGTERM', () => r('SIGTERM'));
  });
  const why = await Promise.race([died, signalled]);
  out.note(`${why}: stopping the devnet`);
  await stopAll();
  if (why.startsWith('SIG')) return 0;
  throw new CliError('DIED', why, `see its log in ${dir}/<party>/daemon.log`);
}

function instructions(dir: string, parties: readonly Party[], t: number): string {
  const rel = relative(process.cwd(), dir) || '.';
  const first = parties[0];
  return [
    `devnet: ${parties.length} parties running on 127.0.0.1 (data and logs in ${rel}/party-N/)`,
    ...parties.map((p) => `  ${p.name}  ${p.peerId}  p2p ${p.listen}  api ${p.api}`),
    '',
    'use the CLI against a party, from another shell in this directory:',
    `  export FROSTNET_DATA_DIR=${first.dataDir}`,
    '  npx frostnet status',
    `  npx frostnet keygen --name demo --threshold ${t}`,
    '  npx frostnet btc address --key demo --count 3',
    '  npx frostnet drill --key demo             # every t-subset signs a test message',
    '  npx frostnet refresh --key demo',
    '(any party works: FROSTNET_DATA_DIR=<dir>/party-N)',
    '',
    'Ctrl-C stops the devnet (or "npm run devnet -- stop"); "npm run devnet -- clean" deletes it.',
  ].join('\n');
}

/** Stops the supervisor (which stops its daemons) and any daemon left over from a killed supervisor. */
async function stop(dir: string, out: Output): Promise<LocalParty[] | undefined> {
  const m = await readManifest(dir);
  if (!m) return undefined;
  if (m.supervisorPid !== undefined) await stopPid(m.supervisorPid);
  const pids = await Promise.all(m.parties.map(daemonPid));
  await Promise.all(pids.filter((p) => p !== undefined).map((pid) => stopPid(pid)));
  out.note(`stopped the devnet in ${dir}`);
  return m.parties;
}

async function main(argv: string[], out: Output): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    throw usage((e as Error).message.split('. ')[0]);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const dir = resolve(values.dir ?? '.devnet');
  const [action = 'up', ...extra] = positionals;
  if (extra.length > 0) throw usage(`unexpected argument ${JSON.stringify(extra[0])}`);
  if (action === 'up') return up(dir, values.parties, values.threshold, out);
  if (action !== 'stop' && action !== 'clean') throw usage(`unknown action ${JSON.stringify(action)}`);
  if (values.parties !== undefined || values.threshold !== undefined)
    throw usage(`--parties and --threshold are for starting a devnet, not "${action}"`);
  const parties = await stop(dir, out);
  if (!parties) {
    if (action === 'stop') out.note(`no devnet in ${dir}; nothing to stop`);
    else throw new CliError('NOT_A_DEVNET', `${dir} has no ${MANIFEST}; nothing removed`, 'check --dir');
    return 0;
  }
  if (action === 'clean') {
    await rm(dir, { recursive: true, force: true });
    out.note(`removed ${dir}`);
  }
  return 0;
}

const parse = (args: string[]) =>
  parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      parties: { type: 'string' },
      threshold: { type: 'string' },
      dir: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });

const argv = process.argv.slice(2);
const out = new Output(argv.includes('--json'));
main(argv, out).then(
  (code) => process.exit(code),
  (e) => process.exit(out.error(e, process.env.FROSTNET_DEBUG === '1')),
);
