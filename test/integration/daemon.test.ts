import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { drillMessage } from '../../chains/domains.ts';
import { hexToBytes } from '../../protocol/curve.ts';
import { verifyBip340 } from '../../protocol/sign.ts';
import { Network } from '../helpers/network.ts';
import { drillKeyOf, settledViews } from '../helpers/network-extra.ts';

const hex = (s: string) => hexToBytes(s);

describe('five daemons: DKG and signing', () => {
  let net: Network;
  before(async () => {
    net = await Network.create(5, { processes: true });
    await net.startAll();
  });
  after(async () => net?.close());

  test('3-of-5 DKG from one daemon; all report the same key; a signature through another verifies', async () => {
    const dkg = await net.keygen(0, 'treasury', 3);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    // The request is done once the initiator holds every confirmation; each other party activates when the
    // last commit reaches it, a moment later.
    const keys = await settledViews(net, 'treasury');
    for (const k of keys) {
      assert.equal(k.status, 200);
      assert.equal(k.json.groupKey, dkg.result.groupKey);
      assert.equal(k.json.state, 'active');
      assert.equal(k.json.threshold, 3);
    }
    const message = 'aa'.repeat(32);
    const sig = await net.run(2, '/v1/keys/treasury/sign', { drill: message });
    assert.equal(sig.state, 'done', JSON.stringify(sig.error));
    assert.equal(sig.result.signers.length, 3);
    assert.ok(
      verifyBip340(hex(sig.result.signatures[0]), drillMessage(hex(message)), drillKeyOf(dkg.result)),
    );
  });
});
