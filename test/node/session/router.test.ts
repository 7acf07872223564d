/**
 * The router's bookkeeping of session openers: a refused opener is remembered like a finished session, so the
 * same envelope sent again cannot make the party do the refusing work (and answer) again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nullLogger } from '../../../node/ops/log.ts';
import { Router, type Session } from '../../../node/session/router.ts';
import type { Envelope } from '../../../node/transport/wire.ts';
import { FrostnetError } from '../../../protocol/errors.ts';

const invite = (id: number): Envelope => ({
  version: 1,
  sessionId: new Uint8Array(32).fill(id),
  ceremony: 'REPAIR',
  round: 0,
  sender: 'party-1',
  payload: new Uint8Array(),
});

describe('router openers', () => {
  test('a refused opener is not run again for the same session; another session is', () => {
    const router = new Router(nullLogger);
    let calls = 0;
    router.onOpen('REPAIR', 0, () => {
      calls++;
      throw new FrostnetError('INVALID_INPUT', 'refused');
    });
    router.dispatch(invite(1), 'party-1');
    router.dispatch(invite(1), 'party-1');
    assert.equal(calls, 1, 'the replayed refused opener was dropped unread');
    router.dispatch(invite(2), 'party-1');
    assert.equal(calls, 2);
  });

  test('an open session gets the later messages of its id; a replayed opener does not open another', () => {
    const router = new Router(nullLogger);
    const received: number[] = [];
    const session: Session = { receive: (env) => received.push(env.round) };
    let opened = 0;
    router.onOpen('REPAIR', 0, () => {
      opened++;
      return session;
    });
    router.dispatch(invite(3), 'party-1');
    router.dispatch({ ...invite(3), round: 2 }, 'party-1');
    router.dispatch(invite(3), 'party-1');
    assert.equal(opened, 1, 'opened once');
    assert.deepEqual(received, [2, 0], 'later messages, the replayed opener too, go to the open session');
  });
});
