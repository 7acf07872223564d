import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Level } from 'level';
import { IDENTITY_SECRET, loadOrCreateIdentity, peerIdOf } from '../../../node/storage/identity.ts';
import { openStore, readPassphrase, type Store } from '../../../node/storage/store.ts';
import { FrostnetError } from '../../../protocol/errors.ts';

const root = mkdtempSync(join(tmpdir(), 'frostnet-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `db${n++}`);
// Cheap scrypt for tests; one test below runs the default cost.
const FAST = { kdf: { N: 2 ** 10 } };
const PASS = 'correct horse battery staple';

const code = (c: string, pattern?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof FrostnetError, `expected FrostnetError, got ${String(e)}`);
  assert.equal(e.code, c);
  if (pattern) assert.match(e.message, pattern);
  return true;
};

/** Opens a store, runs fn, and always closes it. */
async function withStore<T>(dir: string, pass: string, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(dir, pass, FAST);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Every raw key and value in the LevelDB, bypassing the store. */
async function rawRecords(dir: string): Promise<Array<[string, string]>> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  try {
    const out: Array<[string, string]> = [];
    for await (const [k, v] of db.iterator()) out.push([k, Buffer.from(v).toString('hex')]);
    return out;
  } finally {
    await db.close();
  }
}

async function rawUpdate(dir: string, fn: (db: Level<string, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

describe('store', () => {
  test('secrets and public records survive close and reopen (default scrypt cost)', async () => {
    const dir = freshDir();
    const secret = new Uint8Array(randomBytes(32));
    const store = await openStore(dir, PASS);
    try {
      await store.putSecret('share/k1/epoch/0', secret);
      await store.putPublic('group/k1', { threshold: 2, members: ['a', 'b', 'c'], epoch: 0, key: null });
    } finally {
      await store.close();
    }
    const again = await openStore(dir, PASS);
    try {
      assert.deepEqual(await again.getSecret('share/k1/epoch/0'), secret);
      assert.deepEqual(await again.getPublic('group/k1'), {
        threshold: 2,
        members: ['a', 'b', 'c'],
        epoch: 0,
        key: null,
      });
      assert.equal(await again.getSecret('missing'), undefined);
      assert.equal(await again.getPublic('missing'), undefined);
    } finally {
      await again.close();
    }
  });

  test('a wrong passphrase is WRONG_PASSPHRASE and changes no record', async () => {
    const dir = freshDir();
    await withStore(dir, PASS, async (s) => {
      await s.putSecret('x', new Uint8Array([1, 2, 3]));
      await s.putPublic('y', { a: 1 });
    });
    const before = await rawRecords(dir);
    await assert.rejects(
      openStore(dir, 'not the passphrase', FAST),
      code('WRONG_PASSPHRASE', /wrong passphrase/),
    );
    assert.deepEqual(await rawRecords(dir), before);
    // The right passphrase still works afterwards, and the failed open did not keep the db locked.
    await withStore(dir, PASS, async (s) =>
      assert.deepEqual(await s.getSecret('x'), new Uint8Array([1, 2, 3])),
    );
  });

  test('secret bytes never appear in plaintext in the database files', async () => {
    const dir = freshDir();
    const secret = randomBytes(64);
    const marker = `public-marker-${randomBytes(8).toString('hex')}`;
    await withStore(dir, PASS, async (s) => {
      await s.putSecret('share', secret);
      await s.putPublic('meta', { marker });
    });
    const files = readdirSync(dir).map((f) => readFileSync(join(dir, f)));
    assert.ok(
      files.some((b) => b.includes(marker)),
      'the scan finds plaintext public data, so it would find a plaintext secret',
    );
    for (const b of files) {
      assert.equal(b.indexOf(secret), -1);
      assert.equal(b.indexOf(secret.subarray(0, 16)), -1);
      assert.equal(b.indexOf(Buffer.from(PASS)), -1);
    }
  });

  test('batch is all or nothing and can switch a key epoch', async () => {
    const dir = freshDir();
    const old = new Uint8Array([0xaa]);
    const next = new Uint8Array([0xbb]);
    await withStore(dir, PASS, async (s) => {
      await s.putSecret('share/k/0', old);
      await s.putPublic('group/k', { epoch: 0 });
      // The last op is invalid (bytes in a public record): nothing of the batch is written.
      await assert.rejects(
        s.batch([
          { type: 'putSecret', name: 'share/k/1', value: next },
          { type: 'del', kind: 'secret', name: 'share/k/0' },
          { type: 'putPublic', name: 'group/k', value: { epoch: 1, key: new Uint8Array(3) } },
        ]),
        code('INVALID_INPUT', /not JSON data/),
      );
      assert.deepEqual(await s.getSecret('share/k/0'), old);
      assert.equal(await s.getSecret('share/k/1'), undefined);
      assert.deepEqual(await s.getPublic('group/k'), { epoch: 0 });
      await s.batch([
        { type: 'putSecret', name: 'share/k/1', value: next },
        { type: 'del', kind: 'secret', name: 'share/k/0' },
        { type: 'putPublic', name: 'group/k', value: { epoch: 1 } },
      ]);
    });
    await withStore(dir, PASS, async (s) => {
      assert.equal(await s.getSecret('share/k/0'), undefined);
      assert.deepEqual(await s.getSecret('share/k/1'), next);
      assert.deepEqual(await s.getPublic('group/k'), { epoch: 1 });
    });
  });

  test('a record moved to another name or altered is STORE_CORRUPT', async () => {
    const dir = freshDir();
    await withStore(dir, PASS, async (s) => {
      await s.putSecret('a', new Uint8Array([1]));
      await s.putSecret('b', new Uint8Array([2]));
    });
    await rawUpdate(dir, async (db) => {
      const a = (await db.get('s:a'))!;
      const b = (await db.get('s:b'))!;
      const flipped = new Uint8Array(b);
      flipped[flipped.length - 1] ^= 1;
      await db.batch([
        { type: 'put', key: 's:b', value: a },
        { type: 'put', key: 's:a', value: flipped },
      ]);
    });
    await withStore(dir, PASS, async (s) => {
      await assert.rejects(s.getSecret('b'), code('STORE_CORRUPT', /"b" cannot be decrypted/));
      await assert.rejects(s.getSecret('a'), code('STORE_CORRUPT', /"a"/));
    });
  });

  test('list returns names of both kinds under a prefix, sorted', async () => {
    await withStore(freshDir(), PASS, async (s) => {
      await s.putPublic('key/b', 1);
      await s.putSecret('key/a', new Uint8Array(1));
      await s.putSecret('key/b', new Uint8Array(1));
      await s.putPublic('other', 2);
      await s.putPublic('key', 3);
      assert.deepEqual(await s.list('key/'), [
        { name: 'key/a', kind: 'secret' },
        { name: 'key/b', kind: 'secret' },
        { name: 'key/b', kind: 'public' },
      ]);
      await s.del('secret', 'key/b');
      assert.deepEqual(
        (await s.list()).map((e) => `${e.kind}:${e.name}`),
        ['public:key', 'secret:key/a', 'public:key/b', 'public:other'],
      );
    });
  });

  test('refuses bad names and values', async () => {
    await withStore(freshDir(), PASS, async (s) => {
      await assert.rejects(s.putSecret('', new Uint8Array(1)), code('INVALID_INPUT', /record name/));
      await assert.rejects(s.putSecret('a\nb', new Uint8Array(1)), code('INVALID_INPUT', /record name/));
      await assert.rejects(
        s.putSecret('x', 'text' as unknown as Uint8Array),
        code('INVALID_INPUT', /must be bytes/),
      );
      await assert.rejects(s.putPublic('x', { n: 1n }), code('INVALID_INPUT', /bigint/));
      await assert.rejects(s.putPublic('x', { n: Number.NaN }), code('INVALID_INPUT', /finite/));
      await assert.rejects(s.putPublic('x', undefined), code('INVALID_INPUT', /undefined/));
    });
  });

  test('a store in use is CONFLICT; a closed store refuses calls', async () => {
    const dir = freshDir();
    const store = await openStore(dir, PASS, FAST);
    try {
      await assert.rejects(openStore(dir, PASS, FAST), code('CONFLICT', /in use/));
    } finally {
      await store.close();
    }
    await assert.rejects(store.getSecret('x'), code('INTERNAL', /closed/));
  });

  test('an empty passphrase is refused', async () => {
    await assert.rejects(openStore(freshDir(), '', FAST), code('INVALID_INPUT', /empty/));
  });

  test('the identity key is created once and read back', async () => {
    const dir = freshDir();
    const first = await withStore(dir, PASS, (s) => loadOrCreateIdentity(s));
    const second = await withStore(dir, PASS, async (s) => {
      assert.ok((await s.getSecret(IDENTITY_SECRET)) !== undefined);
      return loadOrCreateIdentity(s);
    });
    assert.equal(peerIdOf(second), peerIdOf(first));
    assert.match(peerIdOf(first), /^12D3KooW/);
  });
});

describe('readPassphrase', () => {
  test('reads the default or a named environment variable', async () => {
    assert.equal(await readPassphrase({ environ: { FROSTNET_PASSPHRASE: 'p1' } }), 'p1');
    assert.equal(await readPassphrase({ env: 'MY_PASS', environ: { MY_PASS: 'p2' } }), 'p2');
  });

  test('missing or empty variables are clear errors', async () => {
    await assert.rejects(
      readPassphrase({ environ: {} }),
      code('INVALID_INPUT', /set the environment variable FROSTNET_PASSPHRASE/),
    );
    await assert.rejects(
      readPassphrase({ env: 'X', environ: { X: '' } }),
      code('INVALID_INPUT', /X is empty/),
    );
  });

  test('a file wins over the environment; one trailing newline is dropped', async () => {
    const file = join(root, 'pass.txt');
    writeFileSync(file, 'from file \n');
    assert.equal(await readPassphrase({ file, environ: { FROSTNET_PASSPHRASE: 'env' } }), 'from file ');
    writeFileSync(file, '\n');
    await assert.rejects(readPassphrase({ file }), code('INVALID_INPUT', /is empty/));
    await assert.rejects(
      readPassphrase({ file: join(root, 'nope') }),
      code('INVALID_INPUT', /does not exist/),
    );
  });
});
