/**
 * More for integration tests on real daemons (beside network.ts): waiting for a key to settle, signing and
 * checking, reaching into a stopped party's store, and running a CLI command module in this process.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { walletAddress } from '../../chains/bitcoin/address.ts';
import { walletRoot } from '../../chains/bitcoin/keys.ts';
import { DRILL_PATH, drillMessage } from '../../chains/domains.ts';
import { type Command, executeCommand } from '../../cli/command.ts';
import { Output } from '../../cli/output.ts';
import { openStore } from '../../node/storage/store.ts';
import { hexToBytes, xOnly } from '../../protocol/curve.ts';
import { derivePath } from '../../protocol/derive.ts';
import { verifyBip340 } from '../../protocol/sign.ts';
import { type Network, PASSPHRASE } from './network.ts';

/** A control API answer, as Network.call gives it. */
export type View = Awaited<ReturnType<Network['call']>>;

/**
 * Every party's view of key `name` (GET /v1/keys/:name) once the holders agree on one settled epoch and the
 * rest hold nothing of it; after `waitMs` the views as they are.
 */
export async function settledViews(net: Network, name: string, waitMs = 30_000): Promise<View[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const views = await Promise.all(
      net.parties.map((p, i) =>
        p.api ? net.call(i, 'GET', `/v1/keys/${name}`) : Promise.resolve({ status: 0, json: {} }),
      ),
    );
    const holders = views.filter((v) => v.status === 200);
    const calm = holders.every((v) => v.json.state === 'active' && v.json.pendingEpoch === undefined);
    const agreed = new Set(holders.map((v) => `${v.json.epoch}/${v.json.groupKey}`)).size <= 1;
    if ((calm && agreed && views.every((v) => v.status === 200 || v.status === 404)) || Date.now() > deadline)
      return views;
    await sleep(200);
  }
}

/** Party indexes holding the key in these views. */
export const holders = (views: View[]): number[] => views.flatMap((v, i) => (v.status === 200 ? [i] : []));

/** The receive address m/0/0 of a key view: what must not change across a reshare. */
export const taprootAddress = (view: { groupKey: string; chainCode: string }): string =>
  walletAddress(
    walletRoot(hexToBytes(view.groupKey), hexToBytes(view.chainCode)),
    { change: false, index: 0 },
    'regtest',
  );

/**
 * Has party `via` sign a fresh drill challenge with exactly `signers` (indexes): a signature of the key that
 * every default policy allows (raw messages are off by default). Returns the request view.
 */
export async function signVia(net: Network, via: number, name: string, signers: number[]) {
  const message = randomBytes(32).toString('hex');
  const r = await net.run(via, `/v1/keys/${name}/sign`, {
    drill: message,
    signers: signers.map((i) => net.ids[i]),
  });
  return { ...r, message };
}

/** The x-only key a drill signature of key `view` verifies under, derived here from its public data. */
export const drillKeyOf = (view: { groupKey: string; chainCode: string }): Uint8Array =>
  xOnly(derivePath(walletRoot(hexToBytes(view.groupKey), hexToBytes(view.chainCode)), DRILL_PATH).key);

/** Signs and checks the signature under the drill key of `view` (the key's public data, as GET shows it). */
export async function assertSigns(
  net: Network,
  via: number,
  name: string,
  signers: number[],
  view: { groupKey: string; chainCode: string },
) {
  const r = await signVia(net, via, name, signers);
  assert.equal(r.state, 'done', `signers ${signers} via ${via}: ${JSON.stringify(r.error)}`);
  assert.deepEqual([...r.result.signers].sort(), signers.map((i) => net.ids[i]).sort());
  assert.ok(
    verifyBip340(hexToBytes(r.result.signatures[0]), drillMessage(hexToBytes(r.message)), drillKeyOf(view)),
    'signature verifies under the key',
  );
}

/**
 * A policy whose operators let reshares and repairs run without approving each (the default asks them to), for
 * tests of the ceremonies' mechanics; the tests of custody consent use the default.
 */
export const UNATTENDED_CUSTODY = {
  version: 1,
  default: {
    ceremonies: { reshare: { requireApproval: false }, repair: { requireApproval: false } },
  },
};

/** Writes party i's policy.json (read when its daemon starts). */
export const writePolicy = (net: Network, i: number, policy: unknown): Promise<void> =>
  writeFile(join(net.parties[i].dataDir, 'policy.json'), JSON.stringify(policy));

/** Party i's operator approves the held request whose id starts with `id` (waits until it is held there). */
export async function approveHeld(net: Network, i: number, id: string): Promise<void> {
  for (let tries = 0; ; tries++) {
    const list = await net.call(i, 'GET', '/v1/approvals');
    const entry = list.json.find?.((e: { id: string; status: string }) => e.id.startsWith(id));
    if (entry?.status === 'awaiting approval') {
      const r = await net.call(i, 'POST', `/v1/approvals/${entry.id}/approve`, {});
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return;
    }
    assert.ok(tries < 100, `party ${i + 1} never held request ${id}: ${JSON.stringify(list.json)}`);
    await sleep(100);
  }
}

/** Runs `fn` on party i's store; the party's daemon must be stopped. */
export async function withStore<T>(
  net: Network,
  i: number,
  fn: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>,
): Promise<T> {
  const store = await openStore(join(net.parties[i].dataDir, 'store'), PASSPHRASE);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Names of the secret share records party i's store holds for key `name` (daemon stopped). */
export const shareRecords = (net: Network, i: number, name: string): Promise<string[]> =>
  withStore(net, i, async (s) =>
    (await s.list('share/'))
      .filter((r) => r.kind === 'secret' && r.name.endsWith(`/${name}`))
      .map((r) => r.name),
  );

/** Deletes every record of key `name` from party i's store, as a lost disk would (daemon stopped). */
export const wipeKey = (net: Network, i: number, name: string): Promise<void> =>
  withStore(net, i, (s) =>
    s.batch([
      { type: 'del', kind: 'public', name: `key/${name}` },
      { type: 'del', kind: 'secret', name: `share/active/${name}` },
      { type: 'del', kind: 'secret', name: `share/pending/${name}` },
    ]),
  );

export type CliRun = { code: number; stdout: string; stderr: string };

/** What cli/frostnet.ts does for one command of `commands`, in this process (for modules not registered yet). */
export async function runCommand(
  commands: readonly Command[],
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const out = new Output(
    args.includes('--json'),
    { write: (s: string) => (stdout += s) },
    { write: (s: string) => (stderr += s) },
  );
  try {
    const cmd =
      commands.find((c) => c.name === `${args[0]} ${args[1]}`) ?? commands.find((c) => c.name === args[0]);
    assert.ok(cmd, `no command ${args.slice(0, 2).join(' ')}`);
    const rest = args.slice(cmd.name.split(' ').length);
    const code = await executeCommand(cmd, rest, out, env, (text) => (stdout += `${text}\n`));
    return { code, stdout, stderr };
  } catch (e) {
    return { code: out.error(e), stdout, stderr };
  }
}

/**
 * A failed request's NOT_ENOUGH_SIGNERS message cut into one part per excluded party, by peer id. The message
 * calls each by the coordinator's name for it (the view's `names`): "<name> refused: <reason>" for a peer,
 * "self: <reason>" for the coordinator itself; a reason may hold several clauses. No peer id is left in it.
 */
export function refusalParts(
  r: { error?: { message: string }; names?: Record<string, string> },
  ids: readonly string[],
): Map<string, string> {
  const message = r.error?.message ?? '';
  assert.doesNotMatch(message, /12D3KooW/, 'parties are named, not given by peer id');
  const named = ids.flatMap((id) => (r.names?.[id] ? [[id, r.names[id]] as const] : []));
  const parts = message.split(new RegExp(`(?=(?:${named.map(([, n]) => n).join('|')})(?: refused)?: )`));
  const out = new Map<string, string>();
  for (const [id, name] of named) {
    const part = parts.find((s) => s.startsWith(`${name} refused: `) || s.startsWith(`${name}: `));
    if (part !== undefined) out.set(id, part);
  }
  return out;
}
