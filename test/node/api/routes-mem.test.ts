/**
 * The control API's routes in front of a real party of the in-memory network (test/helpers/mem-api.ts): a
 * keygen, a signature and a refresh started over HTTP run on the network, and what the API refuses (an unknown
 * route, a bad body, a key it does not hold) sends nothing to any party and starts no request.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { DRILL_PATH, drillMessage } from '../../../chains/domains.ts';
import { bytesToHex, hexToBytes, xOnly } from '../../../protocol/curve.ts';
import { derivePath } from '../../../protocol/derive.ts';
import { groupKey } from '../../../protocol/keys.ts';
import { type MemApi, memApi } from '../../helpers/mem-api.ts';
import { MemNetwork } from '../../helpers/mem-network.ts';

let net: MemNetwork;
let api: MemApi;
before(async () => {
  net = await MemNetwork.create(3, { roundTimeoutMs: 2000 });
  const p = net.parties[0];
  assert.ok(p);
  api = await memApi(net, p);
});
after(async () => {
  await api?.close();
  net?.close();
});

/** Runs `fn` and says how many envelopes it put on the network and how many requests it started. */
async function sent(fn: () => Promise<void>): Promise<{ envelopes: number; requests: number }> {
  await net.settle();
  const before = { envelopes: net.delivered.length, requests: await requestCount() };
  await fn();
  await net.settle();
  return {
    envelopes: net.delivered.length - before.envelopes,
    requests: (await requestCount()) - before.requests,
  };
}
const requestCount = async () => {
  const { json } = await api.call('GET', '/v1/requests');
  return (json as unknown as unknown[]).length;
};

describe('control API routes on the in-memory network', () => {
  test('a keygen, a drill signature and a refresh asked over HTTP run on the network', {
    timeout: 60_000,
  }, async () => {
    const kg = await api.call('POST', '/v1/keys', {
      name: 'vault',
      threshold: 2,
      parties: net.ids,
      network: 'regtest',
    });
    assert.equal(kg.status, 202, JSON.stringify(kg.json));
    const made = await api.finished(String(kg.json.id));
    assert.equal(made.state, 'done', JSON.stringify(made));
    await net.settle();
    const share = net.parties[2]?.keys.active('vault');
    assert.ok(share, 'every member holds the key');
    assert.equal(net.parties[2]?.keys.get('vault')?.network, 'regtest');
    const key = await api.call('GET', '/v1/keys/vault');
    assert.equal(key.json.groupKey, bytesToHex(groupKey(share.group).toBytes(true)));

    const challenge = randomBytes(32);
    const asked = await api.call('POST', '/v1/keys/vault/sign', { drill: bytesToHex(challenge) });
    assert.equal(asked.status, 202, JSON.stringify(asked.json));
    const signed = await api.finished(String(asked.json.id));
    assert.equal(signed.state, 'done', JSON.stringify(signed));
    const sig = (signed.result as { signatures: string[] }).signatures[0] ?? '';
    const drillKey = xOnly(
      derivePath({ key: groupKey(share.group), chainCode: share.group.chainCode }, DRILL_PATH).key,
    );
    assert.ok(schnorr.verify(hexToBytes(sig), drillMessage(challenge), drillKey));

    const fresh = await api.call('POST', '/v1/keys/vault/refresh', {});
    assert.equal(fresh.status, 202, JSON.stringify(fresh.json));
    const done = await api.finished(String(fresh.json.id));
    assert.equal(done.state, 'done', JSON.stringify(done));
    await net.settle();
    assert.ok(net.parties.every((p) => p.keys.active('vault').group.epoch === 1));
  });

  test('an unknown route is a 404, another method a 405; neither sends anything', async () => {
    for (const [method, path, status] of [
      ['GET', '/v1/nothing', 404],
      ['POST', '/v1/keys/vault/nothing', 404],
      ['GET', '/v2/keys', 404],
      ['GET', '/v1/keys/vault/sign', 405],
    ] as const) {
      const effect = await sent(async () => {
        const a = await api.call(method, path, method === 'POST' ? {} : undefined);
        assert.equal(a.status, status, `${method} ${path}: ${JSON.stringify(a.json)}`);
      });
      assert.deepEqual(effect, { envelopes: 0, requests: 0 }, `${method} ${path}`);
    }
  });

  test('a bad body is a 400 naming the field; a key it does not hold a 404; nothing goes on the wire', async () => {
    const stranger = 'not-a-peer-id';
    const cases: [string, unknown, number, RegExp][] = [
      ['/v1/keys', { name: 'x', threshold: 4, parties: net.ids }, 400, /threshold/],
      ['/v1/keys', { name: 'bad name', threshold: 2, parties: net.ids }, 400, /name/],
      ['/v1/keys', { name: 'vault', threshold: 2, parties: net.ids }, 409, /already exists/],
      ['/v1/keys/vault/sign', { drill: 'zz' }, 400, /drill/],
      ['/v1/keys/vault/sign', { drill: '00', message: '00' }, 400, /exactly one/],
      ['/v1/keys/vault/sign', { drill: '00', signers: [stranger] }, 400, /signers/],
      ['/v1/keys/vault/repair', { party: stranger }, 400, /party/],
      ['/v1/keys/nokey/sign', { drill: '00' }, 404, /no key named nokey/],
      ['/v1/keys/nokey/refresh', {}, 404, /no key named nokey/],
      ['/v1/keys/vault/sign', '{"drill":', 400, /JSON/i],
    ];
    for (const [path, body, status, message] of cases) {
      const effect = await sent(async () => {
        const a = await api.call('POST', path, body);
        assert.equal(a.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(a.json)}`);
        assert.match(a.json.error?.message ?? '', message);
      });
      assert.deepEqual(effect, { envelopes: 0, requests: 0 }, `${path} ${JSON.stringify(body)}`);
    }
  });
});
