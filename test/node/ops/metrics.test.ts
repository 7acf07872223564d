import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRegistry } from '../../../node/ops/metrics.ts';

test('renders counters, gauges and histograms in the Prometheus text format', () => {
  const m = createRegistry();
  const started = m.counter({
    name: 'frostnet_sessions_started_total',
    help: 'Sessions started.',
    labelNames: ['ceremony'],
  });
  let peers = 0;
  m.gauge({
    name: 'frostnet_connected_peers',
    help: 'Connected peers.',
    collect: (g) => g.set(undefined, peers),
  });
  const latency = m.histogram({
    name: 'frostnet_round_seconds',
    help: 'Round latency.',
    labelNames: ['ceremony'],
    buckets: [0.1, 1],
  });
  started.inc({ ceremony: 'SIGN' });
  started.inc({ ceremony: 'SIGN' }, 2);
  started.inc({ ceremony: 'DKG' });
  peers = 4;
  latency.observe({ ceremony: 'SIGN' }, 0.05);
  latency.observe({ ceremony: 'SIGN' }, 0.5);
  latency.observe({ ceremony: 'SIGN' }, 7);
  assert.equal(
    m.render(),
    [
      '# HELP frostnet_sessions_started_total Sessions started.',
      '# TYPE frostnet_sessions_started_total counter',
      'frostnet_sessions_started_total{ceremony="SIGN"} 3',
      'frostnet_sessions_started_total{ceremony="DKG"} 1',
      '# HELP frostnet_connected_peers Connected peers.',
      '# TYPE frostnet_connected_peers gauge',
      'frostnet_connected_peers 4',
      '# HELP frostnet_round_seconds Round latency.',
      '# TYPE frostnet_round_seconds histogram',
      'frostnet_round_seconds_bucket{ceremony="SIGN",le="0.1"} 1',
      'frostnet_round_seconds_bucket{ceremony="SIGN",le="1"} 2',
      'frostnet_round_seconds_bucket{ceremony="SIGN",le="+Inf"} 3',
      'frostnet_round_seconds_sum{ceremony="SIGN"} 7.55',
      'frostnet_round_seconds_count{ceremony="SIGN"} 3',
      '',
    ].join('\n'),
  );
  assert.equal(started.get({ ceremony: 'SIGN' }), 3);
});

test('escapes label values and help text', () => {
  const m = createRegistry();
  m.counter({ name: 'x_total', help: 'line\\one\ntwo', labelNames: ['reason'] }).inc({
    reason: 'a "quoted"\\\nvalue',
  });
  assert.equal(
    m.render(),
    '# HELP x_total line\\\\one\\ntwo\n# TYPE x_total counter\nx_total{reason="a \\"quoted\\"\\\\\\nvalue"} 1\n',
  );
});

test('gauges go up and down', () => {
  const m = createRegistry();
  const g = m.gauge({ name: 'g', help: 'h', labelNames: ['k'] });
  g.inc({ k: 'a' }, 5);
  g.dec({ k: 'a' });
  g.set({ k: 'b' }, -1.5);
  assert.match(m.render(), /g\{k="a"\} 4\ng\{k="b"\} -1.5\n$/);
});

test('refuses misuse: bad names, wrong labels, duplicates, decreasing counters, bad buckets', () => {
  const m = createRegistry();
  assert.throws(() => m.counter({ name: '1bad', help: '' }), /invalid metric name/);
  assert.throws(() => m.counter({ name: 'c', help: '', labelNames: ['le'] }), /invalid label name/);
  const c = m.counter({ name: 'c', help: '', labelNames: ['a'] });
  assert.throws(() => m.counter({ name: 'c', help: '' }), /already registered/);
  assert.throws(() => c.inc({ b: 'x' }), /takes labels \[a\]/);
  assert.throws(() => c.inc(), /takes labels \[a\]/);
  assert.throws(() => c.inc({ a: 'x' }, -1), /only increase/);
  assert.throws(() => m.histogram({ name: 'h', help: '', buckets: [1, 1] }), /strictly increasing/);
});

test('an empty registry renders nothing', () => {
  assert.equal(createRegistry().render(), '');
});
