/**
 * The coordinator and signers on the in-memory network (test/helpers/mem-network.ts): a signature that
 * verifies under the group key, made by t of the n parties.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { groupKey } from '../../../protocol/keys.ts';
import { MemNetwork } from '../../helpers/mem-network.ts';

const T = { timeout: 60_000 };
const open: MemNetwork[] = [];
afterEach(() => {
  for (const n of open.splice(0)) n.close();
});

async function keyed(n: number, t: number) {
  const net = await MemNetwork.create(n, { roundTimeoutMs: 2000 });
  open.push(net);
  const share = await net.parties[0]?.ceremonies.dkg('k', t, net.ids);
  assert.ok(share);
  await net.settle();
  return { net, xOnly: groupKey(share.group).toBytes(true).subarray(1) };
}

const raw = (message: Uint8Array) => ({
  scheme: 'bip340' as const,
  payload: { raw: { message, path: [], taproot: false } },
});

describe('coordinator on the in-memory network', () => {
  test('signs a message with t of n parties; the signature verifies under the group key', T, async () => {
    const { net, xOnly } = await keyed(3, 2);
    const message = randomBytes(32);
    const out = await net.parties[1]?.coordinator.sign('k', raw(message));
    assert.ok(out);
    assert.equal(out.signatures.length, 1);
    assert.ok(schnorr.verify(out.signatures[0] ?? new Uint8Array(), message, xOnly));
    assert.equal(out.signers.length, 2);
    assert.deepEqual(out.excluded, []);
  });
});
