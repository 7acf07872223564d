/**
 * The ceremony-session kernel every ceremony session extends: one settlement, the abort told once to every
 * other participant, remote codes read one way, and a failed send logged rather than thrown.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nullLogger } from '../../../node/ops/log.ts';
import { CeremonySession, remoteCode, type SessionLink } from '../../../node/session/kernel.ts';
import { codecs, ROUND } from '../../../node/session/messages.ts';
import type { Envelope } from '../../../node/transport/wire.ts';
import { FrostnetError } from '../../../protocol/errors.ts';

type Sent = { to: string; env: Envelope };

class Probe extends CeremonySession<string> {
  kept = 0;
  timeouts = 0;
  receive(env: Envelope, from: string): void {
    const a = this.readAbort(env, from, ['CONFLICT'], 'INVALID_SHARE');
    this.fail(new FrostnetError(a.code, a.reason, a.culprits), false);
  }
  protected override onTimeout(): void {
    this.timeouts++;
    this.fail(new FrostnetError('TIMEOUT', 'no answer'), false);
  }
  protected override onFail(): Promise<void> {
    this.kept++;
    return Promise.resolve();
  }
  complete(value: string) {
    this.finish(value);
  }
  abort(err: FrostnetError, tell: boolean) {
    this.fail(err, tell);
  }
  arm() {
    this.armTimer();
  }
}

function probe(send: SessionLink['send'] = async () => {}, timeoutMs = 60_000) {
  const link: SessionLink = {
    sessionId: new Uint8Array(32).fill(1),
    ceremony: 'REPAIR',
    self: 'me',
    send,
    log: nullLogger,
  };
  return new Probe(link, ['me', 'bob', 'carol'], timeoutMs);
}

test('a failure is told once to every other participant and settles the session once', async () => {
  const sent: Sent[] = [];
  const s = probe(async (to, env) => {
    sent.push({ to, env });
  });
  s.abort(new FrostnetError('INVALID_SHARE', 'bad delta', ['bob']), true);
  s.abort(new FrostnetError('TIMEOUT', 'later'), true);
  s.complete('too late');
  await assert.rejects(s.done, { code: 'INVALID_SHARE', message: 'bad delta' });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    sent.map((x) => x.to),
    ['bob', 'carol'],
  );
  assert.equal(s.kept, 1);
  for (const { env } of sent) {
    assert.equal(env.round, ROUND.session.abort);
    assert.equal(env.ceremony, 'REPAIR');
    assert.equal(env.sender, 'me');
    assert.deepEqual(codecs.abort.decode(env.payload), {
      code: 'INVALID_SHARE',
      reason: 'bad delta',
      culprits: ['bob'],
    });
  }
});

test('an abort that comes in keeps only an accepted code and culprits that take part, never this party', async () => {
  const s = probe();
  const payload = codecs.abort.encode({
    code: 'MADE_UP',
    reason: 'x'.repeat(1000),
    culprits: ['carol', 'mallory', 'me'],
  });
  s.receive(
    {
      version: 1,
      sessionId: new Uint8Array(32),
      ceremony: 'REPAIR',
      round: ROUND.session.abort,
      sender: 'bob',
      payload,
    },
    'bob',
  );
  await assert.rejects(s.done, (e: unknown) => {
    assert.ok(e instanceof FrostnetError);
    assert.equal(e.code, 'INVALID_SHARE');
    assert.deepEqual(e.culprits, ['carol']);
    assert.equal(e.message.length, 300);
    return true;
  });
  assert.equal(remoteCode('CONFLICT', ['CONFLICT'], 'INTERNAL'), 'CONFLICT');
  assert.equal(remoteCode('', ['CONFLICT'], 'POLICY_DENIED'), 'POLICY_DENIED');
});

test('a send that fails is logged, not thrown; a finished session ignores a later failure and its timer', async () => {
  const s = probe(async () => {
    throw new Error('unreachable');
  }, 1);
  s.arm();
  s.complete('ok');
  assert.equal(await s.done, 'ok');
  s.abort(new FrostnetError('INTERNAL', 'after the end'), true);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(s.timeouts, 0, 'the timer was cleared when the session settled');
  assert.equal(s.kept, 0);
});

test('the round timer fails the session through onTimeout', async () => {
  // The kernel's timer is unref'd (a daemon's host keeps the process up): this stands in for the host.
  const alive = setInterval(() => {}, 1000);
  try {
    const s = probe(undefined, 1);
    s.arm();
    await assert.rejects(s.done, { code: 'TIMEOUT' });
    assert.equal(s.timeouts, 1);
  } finally {
    clearInterval(alive);
  }
});
