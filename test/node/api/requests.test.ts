/**
 * The control API's request tracker: the running limit, the same request asked again answered by the one
 * already there (unless it failed), and the finished requests kept, the last 1,000 to end.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Requests } from '../../../node/api/requests.ts';
import { FrostnetError } from '../../../protocol/errors.ts';

const settled = () => new Promise((r) => setImmediate(r));

test('at most maxRunning at once; the count goes down as they end', async () => {
  const r = new Requests(2);
  let finish!: () => void;
  const held = new Promise<void>((res) => (finish = res));
  r.start('sign', () => held);
  r.start('sign', () => held);
  assert.equal(r.running, 2);
  assert.throws(
    () => r.start('sign', async () => {}),
    (e) => e instanceof FrostnetError && e.code === 'CONFLICT',
  );
  finish();
  await settled();
  assert.equal(r.running, 0);
  r.start('sign', async () => {});
});

test('asked again: the running or done request of that name answers; a failed one does not', async () => {
  const r = new Requests(10);
  const a = r.start('sign', async () => 'a', 'same-a');
  assert.equal(r.start('sign', async () => 'other', 'same-a').id, a.id);
  await settled();
  assert.equal(r.start('sign', async () => 'other', 'same-a').id, a.id);
  const f = r.start(
    'sign',
    async () => {
      throw new Error('no');
    },
    'same-f',
  );
  await settled();
  assert.equal((await r.get(f.id))?.state, 'failed');
  const again = r.start('sign', async () => 'ok', 'same-f');
  assert.notEqual(again.id, f.id);
  assert.equal(r.start('sign', async () => 'ok', 'same-f').id, again.id);
});

test('the last 1,000 requests to end are kept, every unfinished one too', async () => {
  const r = new Requests(2000);
  let finish!: () => void;
  const slow = r.start('dkg', () => new Promise<void>((res) => (finish = res)), 'slow');
  const first = r.start('sign', async () => {}, 'first');
  await settled();
  const ids = [];
  for (let i = 0; i < 1000; i++) ids.push(r.start('sign', async () => {}, `n${i}`).id);
  await settled();
  assert.equal(await r.get(first.id), undefined, 'the oldest finished one is dropped');
  assert.notEqual(r.start('sign', async () => {}, 'first').id, first.id, 'and its name is free again');
  assert.equal((await r.get(slow.id))?.state, 'running');
  finish();
  await settled();
  assert.equal((await r.get(slow.id))?.state, 'done');
  assert.equal(await r.get(ids[0]), undefined);
  assert.equal(r.list().length, 1000);
});
