/**
 * The key attributes a ceremony context binds: the network and the recovery policy. Keys without a policy
 * bind exactly what parties from before it bind (so they can still take part in ceremonies of such keys); a
 * policy, or another one, binds something else; what the wire carries is checked and made canonical.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  canonicalRecovery,
  checkStoredRecovery,
  keyAttributes,
  recoveryText,
  wireRecovery,
} from '../../../node/ceremonies/key-network.ts';
import { FrostnetError } from '../../../protocol/errors.ts';
import { recoveryHolder } from '../../bitcoin/helpers.ts';

const lawyer = recoveryHolder('lawyer', 'mainnet');
const heir = recoveryHolder('heir', 'mainnet');
const policy = canonicalRecovery({ version: 1, leaves: [{ key: lawyer.keyText, older: 144 }] });
const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);

test('without a recovery policy the attributes are the ones parties from before it bind', () => {
  assert.equal(keyAttributes(undefined), undefined);
  assert.equal(keyAttributes('mainnet', undefined), undefined);
  assert.equal(text(keyAttributes('regtest')), 'frostnet/key-attributes/v1 network=regtest');
});

test('a recovery policy is bound; another policy, or none, binds something else', () => {
  const other = canonicalRecovery({ version: 1, leaves: [{ key: heir.keyText, older: 144 }] });
  const longer = canonicalRecovery({ version: 1, leaves: [{ key: lawyer.keyText, older: 145 }] });
  const all = [
    keyAttributes('mainnet', policy),
    keyAttributes('regtest', policy),
    keyAttributes('mainnet', other),
    keyAttributes('mainnet', longer),
    keyAttributes('regtest'),
    keyAttributes('mainnet'),
  ].map(text);
  assert.equal(new Set(all).size, all.length, all.join('\n'));
  assert.equal(all[1], `frostnet/key-attributes/v1 network=regtest recovery=${recoveryText(policy)}`);
});

test('the wire form: empty is none, equal policies read the same, a bad one names its sender', () => {
  assert.equal(wireRecovery('', 'peer-x'), undefined);
  assert.equal(wireRecovery(undefined, 'peer-x'), undefined);
  // The derivation suffix every recovery key gets anyway, and spacing, change nothing.
  const spelled = JSON.stringify({ leaves: [{ older: 144, key: ` ${lawyer.keyText}/<0;1>/*` }], version: 1 });
  assert.equal(recoveryText(wireRecovery(spelled, 'peer-x')), recoveryText(policy));
  for (const bad of ['{', '{"version":1,"leaves":[]}', JSON.stringify({ version: 2, leaves: policy.leaves })])
    assert.throws(
      () => wireRecovery(bad, 'peer-x'),
      (e) =>
        e instanceof FrostnetError &&
        e.code === 'INVALID_INPUT' &&
        e.culprits.includes('peer-x') &&
        /peer-x names an invalid recovery policy/.test(e.message),
    );
});

test('a stored policy is checked when the daemon starts: it must parse and be canonical', () => {
  checkStoredRecovery('vault', policy);
  const corrupt = (stored: unknown, why: RegExp) =>
    assert.throws(
      () => checkStoredRecovery('vault', stored as typeof policy),
      (e) => e instanceof FrostnetError && e.code === 'STORE_CORRUPT' && why.test(e.message),
    );
  corrupt({ version: 1, leaves: [{ key: 'xpub-not', older: 144 }] }, /key vault: bad recovery policy/);
  corrupt({ leaves: policy.leaves, version: 1 }, /key vault: its recovery policy is not in canonical form/);
  corrupt(
    { version: 1, leaves: [{ key: `${lawyer.keyText}/<0;1>/*`, older: 144 }] },
    /not in canonical form/,
  );
});
