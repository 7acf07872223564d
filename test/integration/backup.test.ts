/**
 * Backups on real daemons (issue 9), through `frostnet backup export|import`: a backup of epoch 0 imported after
 * a refresh into a party whose operator erased the key (`frostnet keys erase`: nothing left on disk) is reported
 * as outdated and not used to sign; an up-to-date one restores and signs. A whole machine lost comes back from a
 * backup under its old peer id (`init --from-backup`) and signs after the import. Attacks: an edited header, a wrong passphrase and another party's backup are refused.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { commands } from '../../cli/commands/admin.ts';
import { commands as partyCommands } from '../../cli/commands/party.ts';
import { Network } from '../helpers/network.ts';
import {
  assertSigns,
  runCommand,
  settledViews,
  shareRecords,
  signVia,
  wipeKey,
} from '../helpers/network-extra.ts';

const KEY = 'savings';
const PASSPHRASE = 'correct horse battery staple, backup';

describe('backups across daemons', () => {
  let net: Network;
  let dir: string;
  let key: { groupKey: string; chainCode: string };
  const files = { epoch0: '', epoch1: '', other: '' };

  const frostnet = (i: number, args: string[], extra: Record<string, string> = {}) =>
    runCommand(commands, [...args, '--json'], {
      FROSTNET_DATA_DIR: net.parties[i].dataDir,
      FROSTNET_BACKUP_PASSPHRASE: PASSPHRASE,
      ...extra,
    });
  const failure = (run: { code: number; stdout: string }) => {
    assert.equal(run.code, 1, run.stdout);
    return JSON.parse(run.stdout).error;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'frostnet-backup-'));
    net = await Network.create(3, { roundTimeoutMs: 4000 });
    await net.startAll();
    const dkg = await net.keygen(0, KEY, 2);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    key = dkg.result;
    await settledViews(net, KEY);
  });
  after(async () => {
    await net?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('export writes an encrypted file once; the passphrase comes from the environment or a file', async () => {
    files.epoch0 = join(dir, 'party3-epoch0.json');
    const run = await frostnet(2, ['backup', 'export', '--key', KEY, '--out', files.epoch0]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).epoch, 0);
    assert.equal((await stat(files.epoch0)).mode & 0o777, 0o600);
    const file = JSON.parse(await readFile(files.epoch0, 'utf8'));
    assert.equal(file.key.epoch, 0);
    assert.equal(file.key.groupKey, key.groupKey);
    assert.ok(!JSON.stringify(file).includes('signingShare'), 'the share is not readable in the file');
    const again = await frostnet(2, ['backup', 'export', '--key', KEY, '--out', files.epoch0]);
    assert.equal(failure(again).code, 'FILE_EXISTS');
    const noPassphrase = await runCommand(
      commands,
      ['backup', 'export', '--key', KEY, '--out', join(dir, 'x')],
      {
        FROSTNET_DATA_DIR: net.parties[2].dataDir,
      },
    );
    assert.equal(noPassphrase.code, 2, 'no passphrase is a usage error');
    files.other = join(dir, 'party1.json');
    const passFile = join(dir, 'passphrase');
    await writeFile(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
    const other = await runCommand(
      commands,
      ['backup', 'export', '--key', KEY, '--out', files.other, '--passphrase-file', passFile],
      { FROSTNET_DATA_DIR: net.parties[0].dataDir },
    );
    assert.equal(other.code, 0, other.stderr);
  });

  test('after a refresh, an erased party: the epoch-0 backup is outdated and refused; epoch 1 restores and signs', async () => {
    const refresh = await net.run(0, `/v1/keys/${KEY}/refresh`, {});
    assert.equal(refresh.state, 'done', JSON.stringify(refresh.error));
    await settledViews(net, KEY);
    files.epoch1 = join(dir, 'party3-epoch1.json');
    assert.equal((await frostnet(2, ['backup', 'export', '--key', KEY, '--out', files.epoch1])).code, 0);
    // Its operator erases the key (the device is to be re-provisioned); a wrong confirmation changes nothing.
    const unconfirmed = await net.call(2, 'POST', `/v1/keys/${KEY}/erase`, { confirm: 'vault' });
    assert.equal(unconfirmed.status, 400, JSON.stringify(unconfirmed.json));
    assert.equal((await net.call(2, 'GET', `/v1/keys/${KEY}`)).status, 200, 'still held');
    const erased = await frostnet(2, ['keys', 'erase', '--key', KEY, '--confirm', KEY]);
    assert.equal(erased.code, 0, erased.stderr);
    assert.equal(JSON.parse(erased.stdout).epoch, 1);
    const twice = failure(await frostnet(2, ['keys', 'erase', '--key', KEY, '--confirm', KEY]));
    assert.equal(twice.code, 'UNKNOWN_KEY');
    assert.match(twice.message, /erased its share of key savings at epoch 1/);
    await net.stop(2);
    assert.deepEqual(await shareRecords(net, 2, KEY), [], 'no share record is left on disk');
    await net.start(2);

    const outdated = failure(await frostnet(2, ['backup', 'import', '--file', files.epoch0]));
    assert.equal(outdated.code, 'EPOCH_MISMATCH');
    assert.match(outdated.message, /outdated: it holds epoch 0, the group is on epoch 1/);
    assert.equal((await net.call(2, 'GET', `/v1/keys/${KEY}`)).status, 404, 'nothing was restored');
    const own = await signVia(net, 2, KEY, [2, 0]);
    assert.equal(own.state, 'rejected', 'the party cannot start a signing');
    const asked = await signVia(net, 0, KEY, [0, 2]);
    assert.equal(asked.state, 'failed', 'nor sign for another coordinator');

    const restored = await frostnet(2, ['backup', 'import', '--file', files.epoch1]);
    assert.equal(restored.code, 0, restored.stderr);
    const out = JSON.parse(restored.stdout);
    assert.equal(out.epoch, 1);
    assert.equal(out.groupKey, key.groupKey);
    await assertSigns(net, 2, KEY, [2, 0], key);
    await assertSigns(net, 1, KEY, [1, 2], key);
  });

  test('an edited header, a wrong passphrase, another party share or a key already held are refused', async () => {
    const edited = JSON.parse(await readFile(files.epoch0, 'utf8'));
    edited.key.epoch = 1;
    const editedFile = join(dir, 'edited.json');
    await writeFile(editedFile, JSON.stringify(edited));
    await net.stop(2);
    await wipeKey(net, 2, KEY);
    await net.start(2);
    assert.equal(
      failure(await frostnet(2, ['backup', 'import', '--file', editedFile])).code,
      'WRONG_PASSPHRASE',
    );
    const wrong = await frostnet(2, ['backup', 'import', '--file', files.epoch1], {
      FROSTNET_BACKUP_PASSPHRASE: 'not the passphrase at all',
    });
    assert.equal(failure(wrong).code, 'WRONG_PASSPHRASE');
    const other = failure(await frostnet(2, ['backup', 'import', '--file', files.other]));
    assert.equal(other.code, 'INVALID_INPUT');
    assert.match(other.message, /another party's share/);
    assert.equal((await net.call(2, 'GET', `/v1/keys/${KEY}`)).status, 404);
    assert.equal((await frostnet(2, ['backup', 'import', '--file', files.epoch1])).code, 0);
    const held = failure(await frostnet(2, ['backup', 'import', '--file', files.epoch1]));
    assert.equal(held.code, 'CONFLICT');
  });

  test('a whole machine lost: init --from-backup takes the old peer id, the import restores, it signs', async () => {
    const withIdentity = join(dir, 'party3-identity.json');
    const exported = await frostnet(2, [
      'backup',
      'export',
      '--key',
      KEY,
      '--out',
      withIdentity,
      '--with-identity',
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(JSON.parse(exported.stdout).identity, true);
    assert.equal(JSON.parse(await readFile(withIdentity, 'utf8')).identity, true, 'the header says so');
    const badDir = join(dir, 'never-created');
    const init = (file: string, backupPassphrase: string) =>
      runCommand(partyCommands, ['init', '--data-dir', badDir, '--from-backup', file, '--json'], {
        FROSTNET_PASSPHRASE: 'store passphrase',
        FROSTNET_BACKUP_PASSPHRASE: backupPassphrase,
      });
    assert.equal(failure(await init(withIdentity, 'not the passphrase at all')).code, 'WRONG_PASSPHRASE');
    assert.equal(
      failure(await init(files.epoch1, PASSPHRASE)).code,
      'NO_IDENTITY',
      'made without the identity',
    );
    await assert.rejects(stat(badDir), { code: 'ENOENT' }, 'a refused init leaves nothing behind');

    const before = net.ids[2];
    await net.reinit(2, ['--from-backup', withIdentity], { FROSTNET_BACKUP_PASSPHRASE: PASSPHRASE });
    assert.equal(net.ids[2], before, 'the party is back under its old peer id');
    await net.start(2);
    assert.equal(
      (await net.call(2, 'GET', `/v1/keys/${KEY}`)).status,
      404,
      'the new machine holds no share yet',
    );
    const restored = await frostnet(2, ['backup', 'import', '--file', withIdentity]);
    assert.equal(restored.code, 0, restored.stderr);
    await assertSigns(net, 2, KEY, [2, 1], key);
    await assertSigns(net, 0, KEY, [0, 2], key);
  });
});
