/**
 * The key store's record keeping beyond ceremonies: erasing a share at the operator's word, what the party then
 * tells others of the key, and bringing a share back after an erase.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readKeyRecord } from '../../../node/storage/key-records.ts';
import { KeyStore } from '../../../node/storage/keystore.ts';
import { openStore, type Store } from '../../../node/storage/store.ts';
import { bytesToHex } from '../../../protocol/curve.ts';
import { groupKey, keyGroupToJSON } from '../../../protocol/keys.ts';
import { recoveryHolder } from '../../bitcoin/helpers.ts';
import { makeKey } from '../../helpers/keys.ts';

const root = mkdtempSync(join(tmpdir(), 'frostnet-keystore-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

async function withKeys(
  fn: (keys: KeyStore, store: Store) => Promise<void>,
  clock?: () => number,
): Promise<void> {
  const store = await openStore(join(root, `db${n++}`), 'keystore test passphrase', { kdf: { N: 2 ** 10 } });
  try {
    await fn(await KeyStore.open(store, clock), store);
  } finally {
    await store.close();
  }
}

const shares = makeKey(2, 3);
/** A pending epoch's confirmations as a ceremony records them (their content plays no part here). */
const confirmations = { sessionId: '00'.repeat(32), confirmation: '11'.repeat(32), signatures: {} };
const mine = shares.get('party-1')!;
const hex = bytesToHex(groupKey(mine.group).toBytes(true));

describe('the network of a key', () => {
  test('is stored with the key, kept through a new epoch and a restart, and a corrupt one is refused', () =>
    withKeys(async (keys, store) => {
      await keys.setPending('t', mine, { create: true, confirmations, network: 'testnet' });
      await keys.activatePending('t', confirmations);
      const next = { ...mine, group: { ...mine.group, epoch: 1 } };
      // A later epoch names no network: the key keeps its own.
      await keys.setPending('t', next, { create: false, confirmations });
      await keys.activatePending('t', confirmations);
      const reopened = await KeyStore.open(store);
      assert.equal(reopened.get('t')?.network, 'testnet');
      assert.equal(reopened.active('t').group.epoch, 1);
      const rec = await store.getPublic<Record<string, unknown>>('key/t');
      await store.batch([{ type: 'putPublic', name: 'key/t', value: { ...rec, network: 'moonnet' } }]);
      await assert.rejects(KeyStore.open(store), /key t: unknown network "moonnet"/);
    }));
});

describe('a key being created', () => {
  test('is refused as not settled yet (CONFLICT, try again), not as unknown, until its certificate comes', () =>
    withKeys(async (keys) => {
      await keys.setPending('c', mine, { create: true, confirmations });
      for (const use of [() => keys.active('c'), () => keys.settled('c')])
        assert.throws(use, {
          code: 'CONFLICT',
          message: /key c is not settled on this party yet.*try again once it settles/,
        });
      assert.throws(() => keys.active('other'), { code: 'UNKNOWN_KEY', message: /no key named other/ });
      await keys.activatePending('c', confirmations);
      assert.equal(keys.active('c').group.threshold, mine.group.threshold);
    }));
});

describe('the creation time of a key', () => {
  test('is read from the clock the store is given when the record is created, and kept by later epochs', () => {
    let now = Date.parse('2031-05-06T07:08:09Z');
    return withKeys(
      async (keys, store) => {
        await keys.setPending('c', mine, { create: true, confirmations });
        await keys.activatePending('c', confirmations);
        now += 86_400_000;
        await keys.setPending(
          'c',
          { ...mine, group: { ...mine.group, epoch: 1 } },
          { create: false, confirmations },
        );
        await keys.activatePending('c', confirmations);
        await keys.restore('r', makeKey(2, 2).get('party-1')!, undefined);
        const reopened = await KeyStore.open(store);
        assert.equal(reopened.get('c')?.createdAt, '2031-05-06T07:08:09.000Z');
        assert.equal(reopened.get('r')?.createdAt, '2031-05-07T07:08:09.000Z');
      },
      () => now,
    );
  });
});

describe('the recovery policy of a key', () => {
  const policy = {
    version: 1 as const,
    leaves: [{ key: recoveryHolder('lawyer', 'mainnet').keyText, older: 144 }],
  };
  test('is stored with the key, kept through a new epoch, a restart and a restore; a malformed one is refused', () =>
    withKeys(async (keys, store) => {
      await keys.setPending('r', mine, { create: true, confirmations, recovery: policy });
      await keys.activatePending('r', confirmations);
      // A later epoch names none: the key keeps its own.
      await keys.setPending(
        'r',
        { ...mine, group: { ...mine.group, epoch: 1 } },
        { create: false, confirmations },
      );
      await keys.activatePending('r', confirmations);
      const reopened = await KeyStore.open(store);
      assert.deepEqual(reopened.get('r')?.recovery, policy);
      const rec = await store.getPublic<Record<string, unknown>>('key/r');
      assert.deepEqual(rec?.recovery, policy);
      // A key without one stores no field at all: a data dir without recovery keys is unchanged.
      await keys.restore('plain', makeKey(2, 2).get('party-1')!, undefined);
      assert.equal(Object.hasOwn((await store.getPublic<object>('key/plain'))!, 'recovery'), false);
      assert.equal((await KeyStore.open(store)).get('plain')?.recovery, undefined);
      await store.batch([
        { type: 'putPublic', name: 'key/r', value: { ...rec, recovery: { version: 1, leaves: [] } } },
      ]);
      await assert.rejects(KeyStore.open(store), /key r: its recovery policy is not a policy/);
      await store.batch([
        {
          type: 'putPublic',
          name: 'key/r',
          value: { ...rec, recovery: { version: 1, leaves: [{ key: 7 }] } },
        },
      ]);
      await assert.rejects(KeyStore.open(store), /key r: its recovery policy is not a policy/);
    }));
});

describe('erase', () => {
  test('leaves no secret, only a marker of the settled epoch that says it holds no share', () =>
    withKeys(async (keys, store) => {
      await keys.restore('vault', mine, 'mainnet');
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
      await reopened.restore('vault', mine, 'mainnet');
      assert.equal(reopened.epochs(hex).settled?.share, true);
      assert.deepEqual(reopened.active('vault'), mine);
    }));

  test('a pending removal is taken as done; a pending share is not erased', () =>
    withKeys(async (keys) => {
      await keys.restore('vault', mine, 'mainnet');
      const next = { ...mine.group, epoch: 1 };
      await keys.setPending('vault', { removed: true, group: next }, { create: false, confirmations });
      assert.equal(await keys.erase('vault'), 1, 'the removal epoch is the one settled');
      assert.equal(keys.epochs(hex).settled?.group.epoch, 1);
      assert.throws(() => keys.active('vault'), { message: /was removed from key vault at epoch 1/ });

      await keys.restore('other', shares.get('party-2')!, 'mainnet');
      await keys.setPending(
        'other',
        { ...shares.get('party-2')!, group: { ...mine.group, epoch: 1 } },
        { create: false, confirmations },
      );
      await assert.rejects(keys.erase('other'), { code: 'CONFLICT' });
      assert.ok(keys.get('other')?.active, 'nothing was erased');
    }));
});

describe('records of two formats', () => {
  test('a record from before certificates (no confirmations) reads back; its pending epoch is dropped only at the operator’s word', () =>
    withKeys(async (_keys, store) => {
      // What this party wrote before epochs settled on certificates: active and pending groups, no confirmations.
      const next = { ...mine.group, epoch: 1 };
      const group = (g: typeof mine.group) => keyGroupToJSON(g);
      const secret = (s: typeof mine.secret) =>
        new TextEncoder().encode(
          JSON.stringify({ identifier: s.identifier, signingShare: bytesToHex(s.signingShare) }),
        );
      await store.batch([
        { type: 'putSecret', name: 'share/active/old', value: secret(mine.secret) },
        { type: 'putSecret', name: 'share/pending/old', value: secret(mine.secret) },
        {
          type: 'putPublic',
          name: 'key/old',
          value: {
            name: 'old',
            createdAt: '2026-11-01T00:00:00.000Z',
            active: group(mine.group),
            pending: group(next),
          },
        },
      ]);
      const reopened = await KeyStore.open(store);
      const e = reopened.get('old');
      assert.deepEqual(reopened.active('old'), mine, 'the active share reads back as it was');
      assert.equal(e?.network, undefined, 'a record from before the network was stored has none');
      assert.equal(e?.pending && 'group' in e.pending && e.pending.group.epoch, 1);
      assert.equal(e?.pendingConfirmations, undefined, 'no confirmations: nothing to settle it on');
      assert.equal(e?.activeCertificate, undefined);
      await reopened.discardPending('old');
      assert.equal(reopened.get('old')?.pending, undefined);
      assert.deepEqual(reopened.active('old'), mine);
      // A pending epoch with its confirmations, then its certificate, both survive a restart.
      await reopened.setPending('old', { ...mine, group: next }, { create: false, confirmations });
      const signed = { ...confirmations, signatures: { 'party-1': 'aa'.repeat(64) } };
      await reopened.setPendingConfirmations('old', signed);
      assert.deepEqual((await KeyStore.open(store)).get('old')?.pendingConfirmations, signed);
      await reopened.activatePending('old', signed);
      const after = await KeyStore.open(store);
      assert.deepEqual(after.get('old')?.activeCertificate, signed);
      assert.deepEqual(
        after.epochs(hex).settled?.confirmations,
        signed,
        'shown to the others with the epoch',
      );
    }));
});

describe('key records: held, creating or removed, versioned', () => {
  const g = keyGroupToJSON(mine.group);
  const base = { name: 'k', createdAt: '2026-11-01T00:00:00.000Z' };

  test('each version-1 shape reads as the state it describes', () => {
    assert.deepEqual(
      readKeyRecord({ ...base, network: 'testnet', active: g, activeCertificate: confirmations }, 'key/k'),
      {
        v: 2,
        ...base,
        network: 'testnet',
        state: 'held',
        active: { group: g, confirmations },
      },
    );
    const removal = readKeyRecord(
      { ...base, active: g, pending: g, pendingRemoval: true, pendingParticipants: ['a'] },
      'key/k',
    );
    assert.equal(removal.state, 'held');
    assert.deepEqual(removal.state === 'held' && removal.pending, {
      group: g,
      participants: ['a'],
      removal: true,
    });
    assert.equal(readKeyRecord({ ...base, pending: g }, 'key/k').state, 'creating');
    assert.deepEqual(
      readKeyRecord({ ...base, removed: g, removedParticipants: ['a'], erased: true }, 'key/k'),
      {
        v: 2,
        ...base,
        state: 'removed',
        removed: { group: g, participants: ['a'] },
        erased: true,
      },
    );
  });

  test('a record of no state, a later version, another name or a bad field is refused naming the key', () => {
    const refused = (raw: unknown, message: RegExp) =>
      assert.throws(() => readKeyRecord(raw, 'key/k'), { code: 'STORE_CORRUPT', message });
    refused(base, /key k: no active, pending or removed epoch/);
    refused(
      { ...base, pending: g, pendingRemoval: true },
      /key k: a pending removal from a key it holds no share of/,
    );
    refused(
      { ...base, v: 3, state: 'held', active: { group: g } },
      /key k: version 3; this code reads versions 1 and 2/,
    );
    refused({ ...base, v: 2, state: 'lost' }, /key k: unknown state "lost"/);
    refused({ ...base, v: 2, state: 'held' }, /key k: its active epoch is not a group/);
    refused({ ...base, v: 2, state: 'removed', removed: { group: g } }, /key k: a removal that says neither/);
    refused({ ...base, name: 'other', active: g }, /key k: its record \(key\/k\) names "other"/);
    refused({ ...base, network: 'moonnet', active: g }, /key k: unknown network "moonnet"/);
  });

  test('what the store writes is version 2, and a key erased reads back as removed', () =>
    withKeys(async (keys, store) => {
      await keys.setPending('n', mine, { create: true, confirmations, network: 'signet' });
      assert.deepEqual(await store.getPublic('key/n'), {
        v: 2,
        name: 'n',
        createdAt: keys.get('n')?.createdAt,
        network: 'signet',
        state: 'creating',
        pending: { group: g, confirmations },
      });
      await keys.activatePending('n', confirmations);
      assert.equal((await store.getPublic<{ state: string }>('key/n'))?.state, 'held');
      await keys.erase('n');
      const rec = await store.getPublic<{ state: string; erased: boolean }>('key/n');
      assert.equal(rec?.state, 'removed');
      assert.equal(rec?.erased, true);
      assert.equal((await KeyStore.open(store)).removed('n')?.erased, true);
    }));
});
