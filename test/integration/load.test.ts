/**
 * Load (issue 7): 1,000 signing requests at concurrency 50 through 5 daemons. Every request ends, done with a
 * valid signature or failed with a reason; none is lost; no nonce is used twice; the daemons' memory stays
 * bounded and their session tables drain.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { drillMessage } from '../../chains/domains.ts';
import { hexToBytes } from '../../protocol/curve.ts';
import { verifyBip340 } from '../../protocol/sign.ts';
import { Network } from '../helpers/network.ts';
import { drillKeyOf } from '../helpers/network-extra.ts';

const TOTAL = 1000;
const CONCURRENCY = 50;
/** A generous ceiling: an idle daemon sits near 100 MB; a leak of 1,000 sessions' state would pass it. */
const RSS_LIMIT_MB = 400;

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

describe('load', () => {
  let net: Network;
  let key: { groupKey: string; chainCode: string };
  before(async () => {
    net = await Network.create(5, { roundTimeoutMs: 20_000, processes: true });
    await net.startAll();
    const dkg = await net.keygen(0, 'busy', 3);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    key = dkg.result;
  });
  after(async () => net?.close());

  test(`${TOTAL} requests at concurrency ${CONCURRENCY}: all accounted for, memory bounded`, async () => {
    const outcomes: { state: string; error?: { code: string; message: string } }[] = [];
    const rs = new Set<string>();
    let next = 0;
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        const message = randomBytes(32).toString('hex');
        const r = await net.run(i % 5, '/v1/keys/busy/sign', { drill: message });
        if (r.state === 'done') {
          assert.ok(
            verifyBip340(
              hexToBytes(r.result.signatures[0]),
              drillMessage(hexToBytes(message)),
              drillKeyOf(key),
            ),
          );
          rs.add(r.result.signatures[0].slice(0, 64));
        } else {
          assert.ok(
            r.error?.code && r.error?.message,
            `request ${i} ended without a reason: ${JSON.stringify(r)}`,
          );
        }
        outcomes.push(r);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.equal(outcomes.length, TOTAL, 'every request ended');
    const done = outcomes.filter((o) => o.state === 'done').length;
    assert.equal(rs.size, done, 'no R value twice');
    console.log(
      `load: ${done} of ${TOTAL} signed; failures: ${JSON.stringify(outcomes.filter((o) => o.state !== 'done').map((o) => o.error?.code))}`,
    );
    assert.ok(done >= TOTAL * 0.99, `only ${done} of ${TOTAL} signed`);
    for (const p of net.parties) {
      const mb = await rssMb(p.proc!.pid!);
      assert.ok(mb < RSS_LIMIT_MB, `party ${p.index + 1} uses ${mb.toFixed(0)} MB`);
      const status = await net.call(p.index, 'GET', '/v1/status');
      assert.equal(status.json.requestsRunning, 0);
    }
  });
});
