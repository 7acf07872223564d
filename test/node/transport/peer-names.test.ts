/** Parties by the names of this party's config in lines for people (node/transport/peer-names.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PeerNames, shortPeerId } from '../../../node/transport/peer-names.ts';

const SELF = `12D3KooW${'S'.repeat(44)}`;
const BOB = `12D3KooW${'B'.repeat(40)}bob1`;
const ANON = `12D3KooW${'A'.repeat(40)}anon`;
const STRANGER = `12D3KooW${'X'.repeat(44)}`;

describe('PeerNames', () => {
  const peers: { id: string; name?: string }[] = [{ id: BOB, name: 'bob' }, { id: ANON }];
  const names = new PeerNames(SELF, () => peers);

  test('self, the configured name, or a short id for a peer without one', () => {
    assert.equal(names.label(SELF), 'self');
    assert.equal(names.label(BOB), 'bob');
    assert.equal(names.label(ANON), `…${ANON.slice(-8)}`);
    assert.equal(shortPeerId(ANON), '…AAAAanon');
    assert.deepEqual(names.labels([BOB, ANON]), { [BOB]: 'bob', [ANON]: '…AAAAanon' });
  });

  test('every configured id in a text is replaced, "name (id)" becomes the name, strangers stay as they are', () => {
    const text = `key k needs 2 signers, 1 left (${BOB} refused: requester ${SELF} may not; bob (${BOB}) and ${ANON} and ${STRANGER})`;
    assert.equal(
      names.named(text),
      `key k needs 2 signers, 1 left (bob refused: requester self may not; bob and …AAAAanon and ${STRANGER})`,
    );
  });

  test('the config is read at each use: a rename shows at once', () => {
    peers[0] = { id: BOB, name: 'robert' };
    assert.equal(names.named(`${BOB} refused`), 'robert refused');
  });
});
