/**
 * A request's view calls the parties by name in its lines for people, with peer ids in its fields (names
 * beside); an error answer gives the culprits' names beside their ids.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type RequestReport, Requests } from '../../../node/api/requests.ts';
import { errorReply } from '../../../node/api/server.ts';
import { SignersExhausted } from '../../../node/signing/coordinator.ts';
import { PeerNames } from '../../../node/transport/peer-names.ts';
import { FrostnetError } from '../../../protocol/errors.ts';

const SELF = `12D3KooW${'S'.repeat(44)}`;
const BOB = `12D3KooW${'B'.repeat(44)}`;
const CAROL = `12D3KooW${'C'.repeat(44)}`;

describe('request views with names', () => {
  const names = new PeerNames(SELF, () => [
    { id: BOB, name: 'bob' },
    { id: CAROL, name: 'carol' },
  ]);

  test('progress, held reasons and the error message by name; holders, approvals and culprits by id', async () => {
    const requests = new Requests(4, { names });
    let go!: () => void;
    const cleared = new Promise<void>((r) => (go = r));
    const view = requests.start('sign', async (progress, report) => {
      progress(`asking ${BOB} and ${CAROL}`);
      report.held({
        id: 'abcd1234',
        kind: 'sign',
        holders: [{ party: BOB, code: 'APPROVAL_REQUIRED', reason: `${BOB} refused: awaits approval` }],
        approvals: [SELF],
        needed: 2,
      });
      await cleared;
      throw new SignersExhausted(
        `key k needs 2 signers, 1 left (${BOB} refused: rejected; ${CAROL} refused: no)`,
        [
          { party: BOB, code: 'POLICY_DENIED', reason: `${BOB} refused: rejected` },
          { party: CAROL, code: 'POLICY_DENIED', reason: `${CAROL} refused: no` },
        ],
      );
    });
    const held = await requests.get(view.id);
    assert.equal(held?.state, 'awaiting-approval');
    assert.deepEqual(held?.progress, ['asking bob and carol']);
    assert.equal(held?.held?.holders[0]?.party, BOB);
    assert.equal(held?.held?.holders[0]?.reason, 'bob refused: awaits approval');
    assert.deepEqual(held?.names, { [BOB]: 'bob', [SELF]: 'self' });
    go();
    const failed = await requests.get(view.id, 10_000);
    assert.equal(failed?.state, 'failed');
    assert.equal(
      failed?.error?.message,
      'key k needs 2 signers, 1 left (bob refused: rejected; carol refused: no)',
    );
    assert.deepEqual(failed?.error?.culprits, [BOB, CAROL]);
    assert.deepEqual(failed?.names, { [BOB]: 'bob', [CAROL]: 'carol' });
  });

  test('held as before, in another order, is no change: a long poll for the next change is not woken', async () => {
    const requests = new Requests(4, { names });
    const hold = (holders: string[]) => ({
      id: 'abcd1234',
      kind: 'sign',
      holders: holders.map((party) => ({ party, code: 'APPROVAL_REQUIRED', reason: 'awaits approval' })),
      approvals: [SELF],
      needed: 2,
    });
    let report!: RequestReport;
    let end!: () => void;
    const view = requests.start('sign', async (_progress, r) => {
      report = r;
      report.held(hold([BOB, CAROL]));
      await new Promise<void>((resolve) => (end = resolve));
    });
    const polls: string[] = [];
    const next = requests.get(view.id, 60_000, true).then(() => polls.push('woken'));
    report.held(hold([CAROL, BOB]));
    // Every promise the reorder might have settled runs before the next turn of the event loop.
    await new Promise((r) => setImmediate(r));
    polls.push('reordered');
    report.held(hold([CAROL]));
    await next;
    assert.deepEqual(polls, ['reordered', 'woken'], 'only the change of holders woke the poll');
    end();
  });

  test('without names the view is as the work reported it', async () => {
    const requests = new Requests(4);
    const view = requests.start('sign', async () => {
      throw new SignersExhausted(`key k needs 2 signers, 1 left (${BOB} refused: no)`, [
        { party: BOB, code: 'POLICY_DENIED', reason: 'no' },
      ]);
    });
    const failed = await requests.get(view.id, 10_000);
    assert.match(failed?.error?.message ?? '', new RegExp(BOB));
    assert.equal(failed?.names, undefined);
  });
});

describe('error answers with names', () => {
  test("the culprits' names beside their peer ids; the message as it was", () => {
    const names = new PeerNames(SELF, () => [{ id: BOB, name: 'bob' }]);
    const e = new FrostnetError('BAD_REQUEST', `"signers" names parties that are not members: ${BOB}`, [BOB]);
    const { status, json } = errorReply(e, names);
    assert.equal(status, 400);
    assert.deepEqual(json.error, {
      code: 'BAD_REQUEST',
      message: `"signers" names parties that are not members: ${BOB}`,
      culprits: [BOB],
      names: { [BOB]: 'bob' },
    });
    assert.deepEqual(errorReply(new FrostnetError('BAD_REQUEST', 'no'), names).json.error, {
      code: 'BAD_REQUEST',
      message: 'no',
      culprits: [],
    });
  });
});
