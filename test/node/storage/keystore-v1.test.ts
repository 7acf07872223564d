/**
 * A data dir from before key records were versioned still works: test/fixtures/datadir-v1 holds three parties
 * made by the code of commit db45c93 (see its README): `vault`, a 2-of-3 testnet key at epoch 1, and `retired`,
 * erased by party-0. Today's code opens their stores, runs the three parties on the in-memory network, signs
 * with `vault`, refreshes it, and signs again; what it writes is the new record format, and what it reads
 * again after a restart is the same key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { DRILL_PATH, drillMessage } from '../../../chains/domains.ts';
import { loadConfig } from '../../../node/config.ts';
import { loadOrCreateIdentity, peerIdOf } from '../../../node/storage/identity.ts';
import { KEY_RECORD_VERSION } from '../../../node/storage/key-records.ts';
import { KeyStore } from '../../../node/storage/keystore.ts';
import type { Store } from '../../../node/storage/store.ts';
import { openPartyStore } from '../../../node/storage/store.ts';
import { bytesToHex, xOnly } from '../../../protocol/curve.ts';
import { derivePath } from '../../../protocol/derive.ts';
import { groupKey, type KeyGroup } from '../../../protocol/keys.ts';
import { MemNetwork, type MemParty } from '../../helpers/mem-network.ts';

const PASSPHRASE = 'fixture passphrase of datadir-v1';
/** The parties' peer ids, as the fixture was made (its README). */
const IDS = [
  '12D3KooWEY4vP11u1Rqi9G2WcVqtYsjH2QsKkk1DeWN2yH41tjgt',
  '12D3KooWPGFERo1ouwtF9zoCQxNubWEoRn4WPajYEjT2bxpiuvf7',
  '12D3KooWBFwcZmRsK3FK3Zhi6bXnRAoaNpttrTecB7ncFc6tuARn',
];

const root = mkdtempSync(join(tmpdir(), 'frostnet-datadir-v1-'));
const stores: Store[] = [];
let net: MemNetwork | undefined;
after(async () => {
  net?.close();
  for (const s of stores) await s.close().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

/** Each party's data dir, copied (LevelDB writes its log and lock) and opened as the daemon opens it. */
async function openParties() {
  const members = [];
  for (const i of [0, 1, 2]) {
    const dir = join(root, `party-${i}`);
    cpSync(new URL(`../../fixtures/datadir-v1/party-${i}`, import.meta.url), dir, { recursive: true });
    const store = await openPartyStore(await loadConfig(join(dir, 'config.json')), PASSPHRASE);
    stores.push(store);
    members.push({ identity: await loadOrCreateIdentity(store), store });
  }
  return members;
}

const hexKey = (g: KeyGroup) => bytesToHex(groupKey(g).toBytes(true));

test('a data dir of the previous record format opens, signs, refreshes and signs again', {
  timeout: 120_000,
}, async () => {
  const members = await openParties();
  assert.deepEqual(
    members.map((m) => peerIdOf(m.identity)),
    IDS,
  );
  // The fixture is of the old format: no version, a bag of optional fields.
  const old = await members[1]?.store.getPublic<Record<string, unknown>>('key/vault');
  assert.equal(old?.v, undefined);
  assert.ok(old?.active && old.activeCertificate);
  assert.equal((await members[0]?.store.getPublic<Record<string, unknown>>('key/retired'))?.erased, true);

  net = await MemNetwork.create(3, { members, roundTimeoutMs: 5000 });
  const [p0, p1, p2] = net.parties;
  assert.ok(p0 && p1 && p2);
  for (const p of net.parties) {
    const e = p.keys.get('vault');
    assert.equal(e?.network, 'testnet', `${p.id}: the key's network`);
    assert.equal(e?.active?.group.epoch, 1);
    assert.equal(e?.pending, undefined);
    assert.deepEqual(Object.keys(e?.activeCertificate?.signatures ?? {}).sort(), [...IDS].sort());
  }
  const key = hexKey(p0.keys.active('vault').group);
  assert.ok(net.parties.every((p) => hexKey(p.keys.active('vault').group) === key));
  // party-0 erased `retired`: it holds only the marker, and says so; the others hold their shares.
  assert.equal(p0.keys.get('retired'), undefined);
  assert.equal(p0.keys.removed('retired')?.erased, true);
  assert.throws(() => p0.keys.active('retired'), {
    code: 'UNKNOWN_KEY',
    message: /erased its share of key retired/,
  });
  assert.equal(p0.keys.epochs(hexKey(p1.keys.active('retired').group)).settled?.share, false);
  assert.equal(p2.keys.active('retired').group.epoch, 0);

  const group = p0.keys.active('vault').group;
  const drillKey = xOnly(derivePath({ key: groupKey(group), chainCode: group.chainCode }, DRILL_PATH).key);
  const drill = async (coordinator: MemParty) => {
    const challenge = randomBytes(32);
    const out = await coordinator.coordinator.sign('vault', {
      scheme: 'bip340',
      payload: { drill: { challenge } },
    });
    assert.ok(schnorr.verify(out.signatures[0] ?? new Uint8Array(), drillMessage(challenge), drillKey));
  };
  await drill(p2);

  await p1.ceremonies.refresh('vault');
  const parties = net.parties;
  await net.settleUntil(
    () => parties.every((p) => p.keys.get('vault')?.active?.group.epoch === 2),
    'every party on epoch 2',
  );
  for (const p of net.parties) {
    const share = p.keys.active('vault');
    assert.equal(share.group.epoch, 2, `${p.id} refreshed`);
    assert.equal(hexKey(share.group), key, 'the group key stays');
    const rec = await p.store.getPublic<Record<string, unknown>>('key/vault');
    assert.equal(rec?.v, KEY_RECORD_VERSION, 'the new epoch is written in the new format');
    assert.equal(rec?.state, 'held');
  }
  await drill(p0);

  // A restart reads what the new code wrote, and the untouched old records beside it.
  for (const p of net.parties) {
    const again = await KeyStore.open(p.store);
    assert.deepEqual(again.active('vault'), p.keys.active('vault'));
    assert.equal(again.get('vault')?.network, 'testnet');
    assert.deepEqual(again.get('vault')?.activeCertificate, p.keys.get('vault')?.activeCertificate);
  }
  assert.equal((await KeyStore.open(p0.store)).removed('retired')?.erased, true);
  assert.equal((await KeyStore.open(p1.store)).active('retired').group.epoch, 0);
});
