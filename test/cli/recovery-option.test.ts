/** `keygen --recovery KEY,older=N` and `--recovery-file`: checked before any ceremony, canonical when sent. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../cli/output.ts';
import { recoveryOption } from '../../cli/recovery.ts';
import { recoveryHolder } from '../bitcoin/helpers.ts';

const lawyer = recoveryHolder('lawyer', 'regtest');
const heir = recoveryHolder('heir', 'regtest');

test('leaves from --recovery, in order; none given is no policy', async () => {
  assert.equal(await recoveryOption('keygen', {}), undefined);
  const p = await recoveryOption('keygen', {
    recovery: [`${lawyer.keyText},older=4320`, `${heir.keyText}/<0;1>/*, older=52560`],
  });
  assert.equal(p?.version, 1);
  assert.deepEqual(
    p?.leaves.map((l) => l.older),
    [4320, 52560],
  );
  // Stored as mainnet xpubs, whatever the network: one canonical form on every party.
  assert.match(p!.leaves[0]!.key, /^\[[0-9a-f]{8}\/86h\/1h\/0h\]xpub/);
});

test('a policy file reads the same as the flags; a bad leaf or both forms at once is a usage error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'frostnet-recovery-option-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'policy.json');
  await writeFile(file, JSON.stringify({ version: 1, leaves: [{ key: lawyer.keyText, older: 144 }] }));
  assert.deepEqual(
    await recoveryOption('keygen', { 'recovery-file': file }),
    await recoveryOption('keygen', { recovery: [`${lawyer.keyText},older=144`] }),
  );
  const usage = (why: RegExp) => (e: unknown) => e instanceof UsageError && why.test(e.message);
  await assert.rejects(
    recoveryOption('keygen', { recovery: [lawyer.keyText] }),
    usage(/expected KEY,older=N/),
  );
  await assert.rejects(
    recoveryOption('keygen', { recovery: [`${lawyer.keyText},older=70000`] }),
    usage(/older must be a number of blocks from 1 to 65535/),
  );
  await assert.rejects(
    recoveryOption('keygen', { recovery: [`${lawyer.account.publicExtendedKey},older=144`] }),
    usage(/give it with its origin/),
  );
  await assert.rejects(
    recoveryOption('keygen', { recovery: [`${lawyer.keyText},older=1`], 'recovery-file': file }),
    usage(/not both/),
  );
  await assert.rejects(recoveryOption('keygen', { 'recovery-file': join(dir, 'none') }), usage(/ENOENT/));
});
