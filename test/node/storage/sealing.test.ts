/**
 * The sealing module shared by the store and backups: its bounds (each format's minimum cost), its derivation
 * against node's scrypt directly, and both on-disk formats as written before the module existed (fixtures made
 * by the code of commit 8690c04: a store with N = 2^10, a backup with N = 2^14) still open.
 */
import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openBackup, sealBackup } from '../../../node/ceremonies/backup.ts';
import { deriveKey, isBoundedScrypt, MAX_N, MIN_N, seal, unseal } from '../../../node/storage/sealing.ts';
import { openStore } from '../../../node/storage/store.ts';
import { bytesToHex } from '../../../protocol/curve.ts';
import { FrostnetError } from '../../../protocol/errors.ts';
import { groupKey } from '../../../protocol/keys.ts';
import { makeKey } from '../../helpers/keys.ts';

const FIXTURES = new URL('../../fixtures/', import.meta.url);
const PASSPHRASE = 'correct horse battery';
const utf8 = new TextEncoder();
const salt = '00112233445566778899aabbccddeeff';

describe('scrypt bounds', () => {
  const ok = { N: 2 ** 14, r: 8, p: 1, salt };

  test('a backup refuses a cost the store accepts', () => {
    const light = { ...ok, N: 2 ** 10 };
    assert.equal(isBoundedScrypt(light, MIN_N.store), true);
    assert.equal(isBoundedScrypt(light, MIN_N.backup), false);
    assert.equal(isBoundedScrypt(ok, MIN_N.backup), true);
  });

  test('refuses N above 2^20, N not a power of two, r and p out of range, bad salts, non-objects', () => {
    for (const bad of [
      { ...ok, N: MAX_N * 2 },
      { ...ok, N: 2 ** 14 + 1 },
      { ...ok, N: '16384' },
      { ...ok, r: 0 },
      { ...ok, r: 33 },
      { ...ok, p: 17 },
      { ...ok, p: 1.5 },
      { ...ok, salt: 'ab' },
      { ...ok, salt: salt.toUpperCase() },
      { ...ok, salt: undefined },
      null,
      'scrypt',
    ])
      assert.equal(isBoundedScrypt(bad, MIN_N.store), false, JSON.stringify(bad));
  });
});

describe('derivation and AEAD', () => {
  test('derives what scrypt derives from the NFKC form of the passphrase', async () => {
    const kdf = { N: 2 ** 10, r: 8, p: 1, salt };
    const key = await deriveKey('ﬁle passphrase', kdf); // U+FB01 normalizes to "fi"
    const expected = scryptSync(utf8.encode('file passphrase'), Buffer.from(salt, 'hex'), 32, {
      N: 2 ** 10,
      r: 8,
      p: 1,
    });
    assert.equal(bytesToHex(key), expected.toString('hex'));
  });

  test('a sealed value opens only under its key and associated data', () => {
    const key = new Uint8Array(32).fill(7);
    const { nonce, ciphertext } = seal(key, utf8.encode('ad'), utf8.encode('secret'));
    assert.equal(nonce.length, 24);
    assert.deepEqual(unseal(key, nonce, utf8.encode('ad'), ciphertext), utf8.encode('secret'));
    assert.equal(unseal(key, nonce, utf8.encode('other ad'), ciphertext), undefined);
    assert.equal(unseal(new Uint8Array(32), nonce, utf8.encode('ad'), ciphertext), undefined);
    const again = seal(key, utf8.encode('ad'), utf8.encode('secret'));
    assert.notDeepEqual(again.nonce, nonce, 'every seal takes a fresh nonce');
  });
});

describe('formats written before the sealing module', () => {
  const dir = mkdtempSync(join(tmpdir(), 'frostnet-sealing-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a store of the old code opens, reads its records, refuses a wrong passphrase', async () => {
    // Copied, so that opening it (LevelDB writes its log and lock) leaves the fixture as it is.
    const copy = join(dir, 'store');
    cpSync(new URL('store-v1', FIXTURES), copy, { recursive: true });
    const store = await openStore(copy, PASSPHRASE);
    try {
      assert.equal(
        new TextDecoder().decode(await store.getSecret('probe')),
        'a secret written before the sealing module',
      );
      assert.deepEqual(await store.getPublic('hello'), { a: 1 });
    } finally {
      await store.close();
    }
    await assert.rejects(openStore(copy, 'another passphrase'), { code: 'WRONG_PASSPHRASE' });
  });

  test('a backup of the old code opens; the same file made now has the same shape', async () => {
    const file = JSON.parse(readFileSync(new URL('backup-v1.json', FIXTURES), 'utf8'));
    const opened = await openBackup(file, PASSPHRASE);
    assert.equal(opened.name, 'vault');
    assert.equal(opened.party, 'party-3');
    assert.equal(bytesToHex(groupKey(opened.share.group).toBytes(true)), file.key.groupKey);
    await assert.rejects(openBackup(file, 'not the passphrase'), (e: unknown) => {
      return e instanceof FrostnetError && e.code === 'WRONG_PASSPHRASE';
    });
    const [party, share] = [...makeKey(2, 3)][0] ?? [];
    assert.ok(party && share);
    const made = await sealBackup('vault', share, party, PASSPHRASE, { kdf: { N: 2 ** 14, r: 8, p: 1 } });
    assert.deepEqual(Object.keys(made).sort(), Object.keys(file).sort());
    assert.deepEqual(Object.keys(made.kdf).sort(), Object.keys(file.kdf).sort());
    assert.equal((await openBackup(made, PASSPHRASE)).party, party);
  });

  test('a backup file below the backup minimum cost is refused before any derivation', async () => {
    const file = JSON.parse(readFileSync(new URL('backup-v1.json', FIXTURES), 'utf8'));
    await assert.rejects(openBackup({ ...file, kdf: { ...file.kdf, N: 2 ** 13 } }, PASSPHRASE), {
      code: 'INVALID_INPUT',
    });
  });
});
