/**
 * The request tracker (node/api/requests.ts): the states a request goes through, long polls that wake on its
 * end or its next change, the bound on running requests, the same request asked again, and the finished
 * requests kept (the last 1,000 to end).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Requests } from '../../../node/api/requests.ts';
import { FrostnetError } from '../../../protocol/errors.ts';

/** A promise the test settles by hand. */
function deferred<T = unknown>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const settled = () => new Promise((r) => setImmediate(r));

/** Long enough that a wait which returns did so because the request moved, not because it timed out. */
const FOREVER = 600_000;

describe('the request tracker', () => {
  test('a request runs, and a long poll returns when it ends, with its result', async () => {
    const r = new Requests(4);
    const work = deferred();
    const view = r.start('sign', () => work.promise);
    assert.equal(view.state, 'running');
    assert.equal(r.running, 1);
    const polled = r.get(view.id, FOREVER);
    work.resolve({ signature: 'ab' });
    const v = await polled;
    assert.equal(v?.state, 'done');
    assert.deepEqual(v?.result, { signature: 'ab' });
    assert.ok(v?.endedAt);
    assert.equal(r.running, 0);
    assert.equal(await r.get('no-such-id'), undefined);
  });

  test('a request is dated by the clock it is given: its start, and its end when it ends', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const r = new Requests(4, { clock: () => now });
    const work = deferred();
    const view = r.start('sign', () => work.promise);
    assert.equal(view.startedAt, '2030-01-01T00:00:00.000Z');
    now += 90_000;
    work.resolve(undefined);
    const v = await r.get(view.id, FOREVER);
    assert.equal(v?.endedAt, '2030-01-01T00:01:30.000Z');
  });

  test('a failure keeps its code, message and culprits', async () => {
    const r = new Requests(4);
    const view = r.start('refresh', async () => {
      throw new FrostnetError('TIMEOUT', 'party-3 did not answer', ['party-3']);
    });
    const v = await r.get(view.id, FOREVER);
    assert.equal(v?.state, 'failed');
    assert.deepEqual(
      { code: v?.error?.code, culprits: v?.error?.culprits },
      { code: 'TIMEOUT', culprits: ['party-3'] },
    );
    assert.match(v?.error?.message ?? '', /party-3 did not answer/);
  });

  test('a poll until the next change wakes on a progress line, a hold and settling', async () => {
    const r = new Requests(4);
    const work = deferred();
    let say!: (line: string) => void;
    let report!: Parameters<Parameters<Requests['start']>[1]>[1];
    const view = r.start('reshare', (progress, rep) => {
      say = progress;
      report = rep;
      return work.promise;
    });
    let next = r.get(view.id, FOREVER, true);
    say('round 1');
    assert.deepEqual((await next)?.progress, ['round 1']);
    next = r.get(view.id, FOREVER, true);
    report.held({ id: 'req', holders: [] } as never);
    assert.equal((await next)?.state, 'awaiting-approval');
    next = r.get(view.id, FOREVER, true);
    report.settling(['party-2']);
    const settling = await next;
    assert.equal(settling?.state, 'settling');
    assert.deepEqual(settling?.settling, { missing: ['party-2'] });
    work.resolve(undefined);
    const end = await r.get(view.id, FOREVER);
    assert.equal(end?.state, 'done');
    assert.equal(end?.held, undefined);
    assert.equal(end?.settling, undefined);
  });

  test('at most maxRunning run at once: one more is CONFLICT until one ends', async () => {
    const r = new Requests(2);
    const works = [deferred(), deferred()];
    const views = works.map((w) => r.start('sign', () => w.promise));
    assert.throws(() => r.start('sign', async () => 1), {
      code: 'CONFLICT',
      message: /too many requests running \(2\)/,
    });
    works[0]?.resolve(1);
    await r.get(views[0]?.id ?? '', FOREVER);
    assert.equal(r.start('sign', async () => 1).state, 'running');
  });

  test('the same request asked again is that request, running or done; after a failure it starts anew', async () => {
    const r = new Requests(4);
    const work = deferred();
    const first = r.start('sign', () => work.promise, 'same', { key: 'vault' });
    assert.equal(r.start('sign', async () => 'other', 'same').id, first.id, 'while running');
    work.resolve('ok');
    await r.get(first.id, FOREVER);
    assert.equal(r.start('sign', async () => 'other', 'same').id, first.id, 'once done');
    const failing = r.start('sign', async () => Promise.reject(new Error('no')), 'again');
    await r.get(failing.id, FOREVER);
    const retried = r.start('sign', async () => 'ok', 'again');
    assert.notEqual(retried.id, failing.id, 'a failed request is asked again as a new one');
    assert.deepEqual(
      r.list('vault').map((v) => v.id),
      [first.id],
    );
    assert.equal(r.list()[0]?.id, retried.id, 'newest first');
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
});
