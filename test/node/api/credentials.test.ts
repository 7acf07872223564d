/**
 * The token files: one per scope with private modes, a deleted one made anew (rotation), and the single
 * api-token of a data dir from before scoped tokens retired: it opens nothing, and is told what to use now.
 */
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  Credentials,
  ensureTokens,
  LEGACY_TOKEN_FILE,
  TOKEN_SCOPES,
  TOKENS_DIR,
  tokenFile,
} from '../../../node/api/credentials.ts';

const root = await mkdtemp(join(tmpdir(), 'frostnet-tokens-'));
after(() => rm(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `party-${n++}`);
const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('token files', () => {
  test('one distinct token per scope, directory 700 and files 600; kept across calls', async () => {
    const dir = fresh();
    const first = await ensureTokens(dir);
    assert.deepEqual(first.created, [...TOKEN_SCOPES]);
    assert.equal(new Set(Object.values(first.tokens)).size, TOKEN_SCOPES.length);
    assert.equal(await mode(join(dir, TOKENS_DIR)), 0o700);
    for (const s of TOKEN_SCOPES) {
      assert.equal(await mode(tokenFile(dir, s)), 0o600, s);
      assert.equal((await readFile(tokenFile(dir, s), 'utf8')).trim(), first.tokens[s]);
    }
    const again = await ensureTokens(dir);
    assert.deepEqual(again.tokens, first.tokens);
    assert.deepEqual(again.created, []);
  });

  test('a deleted token file is made anew: that token is rotated, the others stay', async () => {
    const dir = fresh();
    const { tokens } = await ensureTokens(dir);
    await rm(tokenFile(dir, 'approve'));
    const { credentials, files } = await Credentials.open(dir);
    assert.deepEqual(files.created, ['approve']);
    assert.notEqual(files.tokens.approve, tokens.approve);
    assert.equal(files.tokens.request, tokens.request);
    assert.throws(() => credentials.authenticate(`Bearer ${tokens.approve}`), { code: 'UNAUTHORIZED' });
    assert.equal(credentials.authenticate(`Bearer ${files.tokens.approve}`), 'approve');
  });

  test('the api-token of an older data dir is retired: deleted, refused with what to use now', async () => {
    const dir = fresh();
    await mkdir(dir);
    const legacy = 'a'.repeat(64);
    await writeFile(join(dir, LEGACY_TOKEN_FILE), `${legacy}\n`, { mode: 0o600 });
    const { credentials, files } = await Credentials.open(dir);
    assert.equal(files.retiredLegacy, true);
    await assert.rejects(access(join(dir, LEGACY_TOKEN_FILE)), 'the old token file is gone');
    assert.ok(!Object.values(files.tokens).includes(legacy), 'no scope took the old token');
    assert.throws(
      () => credentials.authenticate(`Bearer ${legacy}`),
      (e: { code?: string; message?: string }) =>
        e.code === 'TOKEN_RETIRED' && e.message!.includes(tokenFile(dir, 'request')),
    );
    // Still told after a restart.
    const again = await Credentials.open(dir);
    assert.equal(again.files.retiredLegacy, false);
    assert.throws(() => again.credentials.authenticate(`Bearer ${legacy}`), { code: 'TOKEN_RETIRED' });
    assert.equal(again.credentials.authenticate(`Bearer ${files.tokens.admin}`), 'admin');
  });
});
