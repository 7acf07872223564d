import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Liveness } from '../../../node/transport/liveness.ts';

/** A host whose connections and measured round trips the test sets. */
function fakeHost() {
  const state = { connected: new Set<string>(), rtt: new Map<string, number>() };
  return {
    state,
    host: { connected: () => [...state.connected], rtt: (p: string) => state.rtt.get(p) },
  };
}

test('a connected peer is seen at each observation, with the monitor’s last round trip', () => {
  const { state, host } = fakeHost();
  let now = Date.UTC(2026, 0, 1);
  const l = new Liveness(
    host,
    () => ['alice', 'bob', 'carol'],
    () => now,
  );
  state.connected.add('alice');
  state.connected.add('bob');
  state.rtt.set('alice', 12.345);
  l.observe();
  assert.deepEqual(l.view(), [
    { id: 'alice', connected: true, lastSeen: '2026-01-01T00:00:00.000Z', rttMs: 12.35 },
    // Connected but not measured yet: seen, no round trip.
    { id: 'bob', connected: true, lastSeen: '2026-01-01T00:00:00.000Z', rttMs: undefined },
    { id: 'carol', connected: false, lastSeen: undefined, rttMs: undefined },
  ]);
  // alice's connection closes (the monitor closes one whose ping fails): lastSeen stays where it was.
  state.connected.delete('alice');
  state.rtt.delete('alice');
  now += 5000;
  l.observe();
  const [alice, bob] = l.view();
  assert.equal(alice?.connected, false);
  assert.equal(alice?.lastSeen, '2026-01-01T00:00:00.000Z');
  assert.equal(alice?.rttMs, 12.35);
  assert.equal(bob?.lastSeen, '2026-01-01T00:00:05.000Z');
});

test('ranks connected peers first, by round trip, the never measured last', () => {
  const { state, host } = fakeHost();
  const l = new Liveness(
    host,
    () => ['a', 'b', 'c', 'd'],
    () => 0,
  );
  for (const p of ['a', 'b', 'c']) state.connected.add(p);
  state.rtt.set('a', 30);
  state.rtt.set('b', 5);
  l.observe();
  assert.deepEqual(l.rank(['d', 'c', 'a', 'b']), ['b', 'a', 'c', 'd']);
});
