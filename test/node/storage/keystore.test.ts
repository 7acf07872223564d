/**
 * The key store's record keeping beyond ceremonies: erasing a share at the operator's word, what the party then
 * tells others of the key, and bringing a share back after an erase.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { KeyStore } from '../../../node/storage/keystore.ts';
import { openStore, type Store } from '../../../node/storage/store.ts';
import { bytesToHex } from '../../../protocol/curve.ts';
import { groupKey } from '../../../protocol/keys.ts';
import { makeKey } from '../../helpers/keys.ts';

const root = mkdtempSync(join(tmpdir(), 'frostnet-keystore-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

async function withKeys(fn: (keys: KeyStore, store: Store) => Promise<void>): Promise<void> {
  const store = await openStore(join(root, `db${n++}`), 'keystore test passphrase', { kdf: { N: 2 ** 10 } });
  try {
    await fn(await KeyStore.open(store), store);
  } finally {
    await store.close();
  }
}

const shares = makeKey(2, 3);
const mine = shares.get('party-1')!;
const hex = bytesToHex(groupKey(mine.group).toBytes(true));

describe('erase', () => {
  test('leaves no secret, only a marker of the settled epoch that says it holds no share', () =>
    withKeys(async (keys, store) => {
      await keys.restore('vault', mine);
      assert.equal(await keys.erase('vault'), 0);
      assert.deepEqual(
        (await store.list()).filter((r) => r.kind === 'secret' && r.name.includes('vault')),
        [],
      );
      const { settled, pending } = keys.epochs(hex);
      assert.equal(settled?.share, false, 'the party tells others it holds no share');
      assert.deepEqual(settled?.group.transcript, mine.group.transcript, 'but still which epoch it settled');
      assert.equal(pending, undefined);
      assert.throws(() => keys.active('vault'), {
        code: 'UNKNOWN_KEY',
        message: /erased its share of key vault/,
      });
      await assert.rejects(keys.erase('vault'), { code: 'UNKNOWN_KEY' });
      // The marker survives a restart, and a repaired or restored share replaces it.
      const reopened = await KeyStore.open(store);
      assert.equal(reopened.epochs(hex).settled?.share, false);
      await reopened.restore('vault', mine);
      assert.equal(reopened.epochs(hex).settled?.share, true);
      assert.deepEqual(reopened.active('vault'), mine);
    }));

  test('a pending removal is taken as done; a pending share is not erased', () =>
    withKeys(async (keys) => {
      await keys.restore('vault', mine);
      const next = { ...mine.group, epoch: 1 };
      await keys.setPending('vault', { removed: true, group: next }, { create: false });
      assert.equal(await keys.erase('vault'), 1, 'the removal epoch is the one settled');
      assert.equal(keys.epochs(hex).settled?.group.epoch, 1);
      assert.throws(() => keys.active('vault'), { message: /was removed from key vault at epoch 1/ });

      await keys.restore('other', shares.get('party-2')!);
      await keys.setPending(
        'other',
        { ...shares.get('party-2')!, group: { ...mine.group, epoch: 1 } },
        {
          create: false,
        },
      );
      await assert.rejects(keys.erase('other'), { code: 'CONFLICT' });
      assert.ok(keys.get('other')?.active, 'nothing was erased');
    }));
});
