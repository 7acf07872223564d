/**
 * Envelope rounds are scoped per ceremony (node/session/messages.ts): within the rounds one ceremony uses, no
 * number may stand for two messages, or a session would decode one as the other.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROUND } from '../../../node/session/messages.ts';

/** The rounds each ceremony's sessions take, by name (the VSS protocol's own rounds 1 to 3 included). */
const USED: Record<string, Record<string, number>> = {
  'DKG, REFRESH, RESHARE': { ...ROUND.session, vss1: 1, vss2: 2, vss3: 3, ...ROUND.vss },
  REPAIR: { ...ROUND.session, ...ROUND.repair },
  SIGN: ROUND.sign,
  CONTROL: ROUND.control,
};

test('within each ceremony, every round number names one message', () => {
  for (const [ceremony, rounds] of Object.entries(USED)) {
    const byNumber = new Map<number, string>();
    for (const [name, n] of Object.entries(rounds)) {
      assert.ok(Number.isInteger(n) && n >= 0, `${ceremony} ${name}: round ${n}`);
      const other = byNumber.get(n);
      assert.equal(other, undefined, `${ceremony}: ${name} and ${other} are both round ${n}`);
      byNumber.set(n, name);
    }
  }
});
