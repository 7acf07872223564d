/**
 * For bench/profile.ts only: the same daemon as `frostnet start`, with the in-memory allow-all policy instead
 * of the party's policy file, whose state (counters, audit log) is written to disk, fsynced, for every request.
 * Comparing the two isolates what that per-request disk work costs. Never a way to run a real party.
 */
import { startDaemon } from '../node/daemon.ts';
import { allowAll } from '../node/signing/signer.ts';

const at = process.argv.indexOf('--config');
const daemon = await startDaemon({ configPath: process.argv[at + 1], policy: allowAll });
process.stdout.write(
  `${JSON.stringify({ peerId: daemon.peerId, addrs: daemon.addrs, api: daemon.api.url })}\n`,
);
const signal = await new Promise<string>((r) => {
  process.once('SIGINT', r);
  process.once('SIGTERM', r);
});
void signal;
await daemon.stop();
