/**
 * Changing who holds a key: `reshare` moves it to a new committee or threshold, `repair` rebuilds a member's
 * lost share, `backup export|import` saves and restores this party's share. The group key, and so every
 * address and account, stays the same; the CLI checks that it did.
 *
 * `vouch` lets a member lost with its identity come back under a new one; `keys erase` drops this party's share.
 *
 * The backup passphrase comes from --passphrase-file or FROSTNET_BACKUP_PASSPHRASE, never from the command line.
 * It goes to the local daemon (on its loopback control API), which encrypts or decrypts there: these commands
 * never see the share unencrypted. (`init --from-backup` opens a backup in the CLI, on the party's own machine,
 * to take the identity from it.)
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { BACKUP_PASSPHRASE_FILE_OPTION, backupPassphrase, readBackupFile } from '../backup-file.ts';
import { type Command, defineCommand, integerOption, listOption, type OptionSpecs } from '../command.ts';
import { CUSTODY_OPTIONS, proposalBody } from '../custody.ts';
import { CliError, UsageError } from '../output.ts';
import { PartyBook } from '../parties.ts';
import { fetchKey } from '../signing.ts';

type ReshareResult = {
  name: string;
  epoch: number;
  groupKey: string;
  threshold: number;
  members: string[];
  dealers: string[];
  notErased: string[];
  removed: boolean;
};

const reshare = defineCommand({
  name: 'reshare',
  summary: 'Moves a key to a new committee or threshold; the group key and addresses stay the same.',
  usage: '--key NAME --threshold T --parties ID|NAME,... [--wait] [--expires-in SECONDS]',
  details: [
    'The parties are the NEW members, as peer ids or names from this party\'s config ("self" for this one).',
    'A custody proposal first: it runs only once t current members approved it under their own policies (by',
    'default each member\'s operator approves, "frostnet approvals"). Every new member must be running and have',
    'the current members as peers. Every current member that answers deals; at least the current threshold',
    'must. Removed members erase their shares when the new epoch starts; one that was unreachable keeps an old',
    'share that cannot combine with the new ones. Exit code 3: it waits for approvals or to settle.',
  ].join('\n'),
  daemon: 'request',
  options: {
    key: { type: 'string', arg: 'NAME', required: true, help: 'the key to reshare' },
    threshold: { type: 'string', arg: 'T', required: true, help: 'how many new members must sign' },
    parties: { type: 'string', arg: 'ID,...', required: true, help: 'the new members, comma-separated' },
    ...CUSTODY_OPTIONS,
  },
  async run({ values, out, client }) {
    const threshold = integerOption('reshare', 'threshold', values.threshold, 2, 255);
    const c = await client();
    const book = await PartyBook.load(c);
    const parties = book.resolve(listOption('reshare', 'parties', values.parties), 'reshare', 'parties');
    if (threshold > parties.length)
      throw new UsageError('reshare', `--threshold ${threshold} is more than the ${parties.length} parties`);
    const before = await fetchKey(c, values.key);
    out.note(
      `resharing key ${before.name} (epoch ${before.epoch}, ${before.threshold}-of-${before.members.length}) to ${threshold}-of-${parties.length}: ${parties.map((p) => book.short(p)).join(', ')}`,
    );
    const after = await c.run<ReshareResult>(
      `/v1/keys/${encodeURIComponent(before.name)}/reshare`,
      { threshold, parties, ...proposalBody('reshare', values['expires-in']) },
      (line) => out.note(`  ${line}`),
      { wait: values.wait === true, label: (p) => book.short(p) },
    );
    if (after.groupKey !== before.groupKey)
      throw new CliError(
        'KEY_CHANGED',
        `reshare of ${before.name} changed the group key from ${before.groupKey} to ${after.groupKey}`,
        'do not use this key; report it',
      );
    const removed = before.members.filter((m) => !after.members.includes(m));
    out.result({ ...after, previousEpoch: before.epoch, removedMembers: removed }, () =>
      [
        `key ${before.name} reshared: epoch ${before.epoch} -> ${after.epoch}, ${before.threshold}-of-${before.members.length} -> ${after.threshold}-of-${after.members.length}; group key unchanged (${after.groupKey})`,
        '  members',
        ...after.members.map((m, i) => `    ${i + 1}. ${book.label(m)}`),
        ...(removed.length ? ['  removed', ...removed.map((m) => `    ${book.label(m)}`)] : []),
        ...(after.notErased.length
          ? [
              `  not reached (their old shares were not erased): ${after.notErased.map((m) => book.short(m)).join(', ')}`,
            ]
          : []),
        ...(after.removed ? ['  this party was removed: its share is erased'] : []),
      ].join('\n'),
    );
    return 0;
  },
});

const repair = defineCommand({
  name: 'repair',
  summary: "Rebuilds a member's lost share of a key with the help of t members; none of them learns it.",
  usage: '--key NAME --party ID|NAME [--wait] [--expires-in SECONDS]',
  details: [
    "Run it from another member's daemon. A custody proposal first: t members approve it under their own",
    'policies (by default each operator approves). The party that lost its share runs with its old identity, or',
    'with a new one that t members vouched for ("frostnet vouch"), and has no share of the key; it checks the',
    'rebuilt share against the key group that every helper vouches for. Exit code 3: it waits for approvals.',
  ].join('\n'),
  daemon: 'request',
  options: {
    key: { type: 'string', arg: 'NAME', required: true, help: 'the key' },
    party: { type: 'string', arg: 'ID', required: true, help: 'the member whose share is rebuilt' },
    ...CUSTODY_OPTIONS,
  },
  async run({ values, out, client }) {
    const c = await client();
    const book = await PartyBook.load(c);
    const [party] = book.resolve([values.party], 'repair', 'party');
    const key = await fetchKey(c, values.key);
    out.note(`repairing the share of ${book.label(party)} for key ${key.name} (epoch ${key.epoch})`);
    const r = await c.run<{ name: string; party: string; helpers: string[]; epoch: number }>(
      `/v1/keys/${encodeURIComponent(key.name)}/repair`,
      { party, ...proposalBody('repair', values['expires-in']) },
      (line) => out.note(`  ${line}`),
      { wait: values.wait === true, label: (p) => book.short(p) },
    );
    out.result(
      r,
      () =>
        `share of ${book.label(party)} for key ${key.name} repaired at epoch ${r.epoch} (helpers: ${r.helpers.map((h) => book.short(h)).join(', ')})`,
    );
    return 0;
  },
});

const vouch = defineCommand({
  name: 'vouch',
  summary: 'Vouches that a new peer is a member come back after losing its device; then repair its share.',
  usage: '--key NAME --party ID|NAME --peer ID|NAME',
  details: [
    'For a member whose data dir is gone with its identity: it runs "frostnet init" again, and the operator of',
    'every other member checks its new peer id out of band, adds it ("frostnet peers add") and runs this. This',
    "party then lists the new peer under the old member's identifier. Once t members vouched, any of them runs",
    '"frostnet repair --party NEW". Refused while the old member still answers holding its share. If the lost',
    'device may be in the wrong hands, run "frostnet refresh" after the repair: it makes the old share useless.',
  ].join('\n'),
  daemon: 'admin',
  options: {
    key: { type: 'string', arg: 'NAME', required: true, help: 'the key' },
    party: { type: 'string', arg: 'ID', required: true, help: 'the member that lost its device' },
    peer: {
      type: 'string',
      arg: 'ID',
      required: true,
      help: 'its new peer id (or the name it was added as)',
    },
  },
  async run({ values, out, client }) {
    const c = await client();
    const book = await PartyBook.load(c);
    const [party] = book.resolve([values.party], 'vouch', 'party');
    const [peer] = book.resolve([values.peer], 'vouch', 'peer');
    const key = await fetchKey(c, values.key);
    const r = await c.run<{ name: string; party: string; peer: string; members: string[] }>(
      `/v1/keys/${encodeURIComponent(key.name)}/vouch`,
      { party, peer },
    );
    out.result(
      r,
      () =>
        `${book.label(peer)} now holds the place of ${party} in key ${key.name} on this party; repair its share once t members vouched`,
    );
    return 0;
  },
});

/** --key and --confirm: a command that drops something of a key takes the key's name twice. */
const CONFIRMED_KEY_OPTIONS = {
  key: { type: 'string', arg: 'NAME', required: true, help: 'the key' },
  confirm: { type: 'string', arg: 'NAME', required: true, help: 'the key name again' },
} as const satisfies OptionSpecs;

function checkConfirmed(command: string, values: { key: string; confirm: string }): void {
  if (values.confirm !== values.key)
    throw new UsageError(command, '--confirm must repeat the key name given to --key');
}

const erase = defineCommand({
  name: 'keys erase',
  summary: "Deletes this party's share of a key; a public marker of its last epoch stays.",
  usage: '--key NAME --confirm NAME',
  details: [
    'For a device being retired, or a party that a reshare removed while it was away and that still holds its',
    'old share (its pending removal is then taken as done). The other members still count this party while it',
    'is a member: the group then signs with the others only. A backup import or a repair brings a share back.',
    '--confirm must repeat the key name. LevelDB may keep the deleted bytes until it compacts: wipe a retired disk.',
  ].join('\n'),
  daemon: 'admin',
  options: CONFIRMED_KEY_OPTIONS,
  async run({ values, out, client }) {
    checkConfirmed('keys erase', values);
    const c = await client();
    const r = await c.post<{ name: string; erased: boolean; epoch: number }>(
      `/v1/keys/${encodeURIComponent(values.key)}/erase`,
      { confirm: values.confirm },
    );
    out.result(r, () => `this party's share of key ${r.name} (epoch ${r.epoch}) is erased`);
    return 0;
  },
});

const abandon = defineCommand({
  name: 'keys abandon',
  summary: "Drops this party's pending epoch of a key that no certificate settled; it keeps its old share.",
  usage: '--key NAME --confirm NAME',
  details: [
    "A pending epoch normally settles by itself: it activates once every participant's signed confirmation",
    'arrives, and is dropped once no certificate can form. This is for one that cannot settle, say because a',
    'participant that never sent its confirmation is gone for good. The risk: if that participant did confirm',
    'and shows up again, the others activate the new epoch without this party, which then needs a repair. The',
    'answer names whose confirmations were missing. --confirm must repeat the key name.',
  ].join('\n'),
  daemon: 'admin',
  options: CONFIRMED_KEY_OPTIONS,
  async run({ values, out, client }) {
    checkConfirmed('keys abandon', values);
    const c = await client();
    const book = await PartyBook.load(c);
    const r = await c.post<{ name: string; epoch: number; missing: string[]; creating: boolean }>(
      `/v1/keys/${encodeURIComponent(values.key)}/abandon`,
      { confirm: values.confirm },
    );
    out.result(
      r,
      () =>
        `this party dropped the pending epoch ${r.epoch} of key ${r.name}${r.creating ? ' (the key it was creating is gone)' : '; it keeps its old share'}${r.missing.length ? `; confirmations were missing from ${r.missing.map((m) => book.label(m)).join(', ')}` : ''}`,
    );
    return 0;
  },
});

const backupExport = defineCommand({
  name: 'backup export',
  summary: "Writes this party's share of a key, encrypted under a passphrase, to a new file.",
  usage: '--key NAME --out FILE [--passphrase-file FILE] [--with-identity]',
  details: [
    'The file holds the share and the key group at the current epoch; a refresh or reshare makes it outdated',
    "(an import then refuses it). It holds no nonces: they never leave the daemon's memory. With",
    '--with-identity it also holds this party\'s identity key, for "frostnet init --from-backup" on a new',
    'machine; whoever opens such a file can act as this party until a reshare replaces it, even after a refresh.',
  ].join('\n'),
  daemon: 'admin',
  options: {
    key: { type: 'string', arg: 'NAME', required: true, help: 'the key' },
    out: {
      type: 'string',
      arg: 'FILE',
      required: true,
      help: 'the backup file to create (never overwritten)',
    },
    'backup-passphrase-file': { ...BACKUP_PASSPHRASE_FILE_OPTION, aliases: ['passphrase-file'] },
    'with-identity': { type: 'boolean', help: "also keep this party's identity key in the file" },
  },
  async run({ values, out, client, env }) {
    const passphrase = await backupPassphrase(
      'backup export',
      'backup-passphrase-file',
      values['backup-passphrase-file'],
      env,
    );
    const c = await client();
    const file = await c.post<{ key: { name: string; epoch: number; groupKey: string }; identity?: true }>(
      `/v1/keys/${encodeURIComponent(values.key)}/backup`,
      { passphrase, withIdentity: values['with-identity'] === true },
    );
    const path = resolve(values.out);
    try {
      await writeFile(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new CliError(
        code === 'EEXIST' ? 'FILE_EXISTS' : 'NO_FILE',
        code === 'EEXIST'
          ? `${path} exists already`
          : `cannot write ${path}: ${code ?? (e as Error).message}`,
        code === 'EEXIST' ? 'choose another --out; a backup never overwrites a file' : 'check --out',
      );
    }
    const k = file.key;
    out.result(
      { file: path, key: k.name, epoch: k.epoch, groupKey: k.groupKey, identity: file.identity === true },
      () =>
        `backup of key ${k.name} (epoch ${k.epoch}) written to ${path}, encrypted; keep the passphrase apart from it`,
    );
    return 0;
  },
});

const backupImport = defineCommand({
  name: 'backup import',
  summary: 'Restores a key this party lost from a backup file, if the other members confirm it is current.',
  usage: '--file FILE [--passphrase-file FILE]',
  details: [
    'A backup of an older epoch than the group is on (after a refresh or reshare) is reported as outdated and',
    'not restored: ask a member to repair this party\'s share instead ("frostnet repair").',
  ].join('\n'),
  daemon: 'admin',
  options: {
    file: { type: 'string', arg: 'FILE', required: true, help: 'the backup file' },
    'backup-passphrase-file': { ...BACKUP_PASSPHRASE_FILE_OPTION, aliases: ['passphrase-file'] },
  },
  async run({ values, out, client, env }) {
    const passphrase = await backupPassphrase(
      'backup import',
      'backup-passphrase-file',
      values['backup-passphrase-file'],
      env,
    );
    const backup = await readBackupFile(values.file, '--file');
    const c = await client();
    const r = await c
      .run<{ name: string; epoch: number; groupKey: string; confirmedBy: string[] }>(
        '/v1/backups',
        { backup, passphrase },
        (line) => out.note(`  ${line}`),
      )
      .catch((e) => {
        // The generic advice for this code is about a settling refresh; an outdated backup needs another remedy.
        if (e instanceof CliError && e.code === 'EPOCH_MISMATCH')
          throw new CliError(
            e.code,
            e.message,
            'restore a newer backup, or ask a member to repair this share',
          );
        throw e;
      });
    out.result(
      r,
      () =>
        `key ${r.name} restored at epoch ${r.epoch} (group key ${r.groupKey}; confirmed current by ${r.confirmedBy.length} members)`,
    );
    return 0;
  },
});

export const commands: readonly Command[] = [
  reshare,
  repair,
  vouch,
  erase,
  abandon,
  backupExport,
  backupImport,
];
