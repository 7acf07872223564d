/**
 * What a recovery policy costs, on its own: the input sizes of recovery-enabled coins (key path and recovery
 * path, from real signed transactions) and the gas of each step of the EVM account's recovery on anvil, every
 * group signature made by FROST in this process.
 *
 * `node bench/recovery.ts` runs this part alone and prints its rows (no JSON written); `npm run bench` includes it.
 */
import { fileURLToPath } from 'node:url';
import { startAnvil } from '../test/helpers/anvil.ts';
import type { Group } from './baseline.ts';
import { recoverySpendSizes } from './bitcoin.ts';
import { inProcessSigner, measureRecoveryGas } from './evm.ts';
import type { RecoveryReport } from './rows.ts';

/** The group whose key signs the recovery measurements. */
export const RECOVERY_GROUP: Group = { t: 3, n: 5 };

/** Both halves of the recovery cost, the gas on the chain at `rpcUrl` (an anvil: the clock is moved). */
export async function measureRecovery(rpcUrl: string, g: Group = RECOVERY_GROUP): Promise<RecoveryReport> {
  return { sizes: recoverySpendSizes(g), gas: await measureRecoveryGas(rpcUrl, g, inProcessSigner(g)) };
}

async function main(): Promise<void> {
  const { recoveryRows } = await import('./rows.ts');
  const { table } = await import('./report.ts');
  const anvil = await startAnvil();
  try {
    process.stdout.write(`${table(recoveryRows(await measureRecovery(anvil.rpcUrl)))}\n`);
  } finally {
    await anvil.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
