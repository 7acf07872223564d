/**
 * Custody consent on real daemons (issue 14), attacked by a member. Parties A, B, C are honest, X is a configured
 * party that holds no key (the outsider), and M is a member playing every attack with the real daemon code in
 * this process (a transform on what it sends), or, with its daemon stopped, a bare host under its identity that
 * sends what the test crafts. Every party runs the default policy: a reshare or repair waits for each party's
 * operator, a refresh runs unattended.
 *
 * (a) one member alone cannot reshare the key to itself and an outsider; (b) with t approvals it can; (c) a member
 * removed by a reshare cannot bring itself back, with a replayed or a self-made proposal; (d) a member that
 * withholds its confirmation and lies in its status answers leaves every honest party on one epoch; (e) a newcomer
 * given a fake key group accepts nothing and names the initiator; (f) a repair onto a party whose operator erased
 * its share runs only on a signed proposal.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PrivateKey } from '@libp2p/interface';
import { commands as adminCommands } from '../../cli/commands/admin.ts';
import { commands as approvalCommands } from '../../cli/commands/approvals.ts';
import { commands as requestCommands } from '../../cli/commands/requests.ts';
import type { RequestView } from '../../node/api/requests.ts';
import { openBackup } from '../../node/ceremonies/backup.ts';
import { renouncementStatement } from '../../node/ceremonies/certificates.ts';
import type { HeldProposal } from '../../node/ceremonies/proposals.ts';
import { nullLogger } from '../../node/ops/log.ts';
import {
  type CeremonyInvite,
  codecs,
  type EpochCertificate,
  encodeSignRequest,
  type KeyStatusMsg,
  proposalFromWire,
  ROUND,
  type WireSignedProposal,
} from '../../node/session/messages.ts';
import { loadOrCreateIdentity } from '../../node/storage/identity.ts';
import { createHost, type Host } from '../../node/transport/host.ts';
import type { Envelope } from '../../node/transport/wire.ts';
import { evalCommitment, G, hexToBytes, parsePoint, pointToBytes } from '../../protocol/curve.ts';
import { groupKey, identifierScalar, type KeyGroup, keyGroupToJSON } from '../../protocol/keys.ts';
import { type CustodyProposal, makeProposal, proposalDigest } from '../../protocol/proposal.ts';
import { makeKey, signWith } from '../helpers/keys.ts';
import { Network } from '../helpers/network.ts';
import {
  approveHeld,
  assertSigns,
  runCommand,
  settledViews,
  signVia,
  withStore,
} from '../helpers/network-extra.ts';

const [A, B, C, X, M] = [0, 1, 2, 3, 4];

/** A request's view as the tests read it: whichever of its parts the state at hand has. */
type Followed = RequestView &
  Required<Pick<RequestView, 'held' | 'settling' | 'error'>> & {
    held: HeldProposal;
    result: { groupKey: string; epoch: number };
  };

/** A daemon's JSON log line, as far as the test reads it. */
type LogLine = { msg: string; round?: number; reason: string; culprits?: string[] };
const BACKUP_PASSPHRASE = 'custody consent test backup passphrase';

type Attack = (to: string, env: Envelope) => Envelope | undefined | Promise<Envelope | undefined>;
const honestly: Attack = (_to, env) => env;

describe('custody consent: no change of who holds a key without t approvals; epochs settle on certificates', () => {
  let net: Network;
  let attack: Attack = honestly;
  let mKey: PrivateKey;
  /** Every envelope M's daemon sent, as sent (after the attack). */
  const sent: { to: string; env: Envelope }[] = [];

  before(async () => {
    net = await Network.create(5, { roundTimeoutMs: 3000 });
    mKey = await withStore(net, M, (s) => loadOrCreateIdentity(s));
    await Promise.all([A, B, C, X].map((i) => net.start(i)));
    await startRogue();
  });
  after(async () => net?.close());

  const startRogue = () =>
    net.startInProcess(M, {
      transformOutbound: async (to, env) => {
        const out = await attack(to, env);
        if (out) sent.push({ to, env: out });
        return out;
      },
    });

  const id = (i: number) => net.ids[i];
  const ids = (list: number[]) => list.map(id);

  async function keygen(name: string, members: number[]) {
    const r = await net.keygen(members[0], name, 2, ids(members));
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    await settledViews(net, name);
    return r.result as { groupKey: string; chainCode: string };
  }

  /** Party i's view of key `name`: status 404 when it holds nothing of it. */
  const view = (i: number, name: string) => net.call(i, 'GET', `/v1/keys/${name}`);

  /**
   * Every one of `parties` is on `epoch` of key `name` (whose members are `members`) with no pending epoch;
   * every one of `none` holds nothing of it.
   */
  async function assertUnchanged(
    name: string,
    parties: number[],
    epoch: number,
    none: number[] = [X],
    members = parties,
  ) {
    for (const i of parties) {
      const v = await view(i, name);
      assert.equal(v.status, 200, `party ${i + 1}: ${JSON.stringify(v.json)}`);
      assert.equal(v.json.epoch, epoch, `party ${i + 1} on epoch ${epoch}`);
      assert.equal(v.json.pendingEpoch, undefined, `party ${i + 1} holds no pending epoch`);
      assert.deepEqual(v.json.members, ids(members));
    }
    for (const i of none) assert.equal((await view(i, name)).status, 404, `party ${i + 1} holds nothing`);
  }

  /** The key group party i holds of `name`, as its backup shows it (public data only is used). */
  async function groupAt(i: number, name: string): Promise<KeyGroup> {
    const file = await net.call(i, 'POST', `/v1/keys/${name}/backup`, { passphrase: BACKUP_PASSPHRASE });
    assert.equal(file.status, 200, JSON.stringify(file.json));
    return (await openBackup(file.json, BACKUP_PASSPHRASE)).share.group;
  }
  const rogueGroup = (name: string) => groupAt(M, name);

  /** Follows request `rid` at party `via` until it ends or waits; returns its view. */
  async function follow(
    via: number,
    rid: string,
    until: (v: RequestView) => boolean = (v) => v.state !== 'running',
  ): Promise<Followed> {
    for (;;) {
      const r = await net.call(via, 'GET', `/v1/requests/${rid}?wait=20000&change=1`);
      if (until(r.json) || r.json.state === 'done' || r.json.state === 'failed') return r.json;
    }
  }

  const start = async (via: number, path: string, body: unknown) => {
    const r = await net.call(via, 'POST', path, body);
    assert.equal(r.status, 202, JSON.stringify(r.json));
    return r.json.id as string;
  };

  const invitesFromM = (ceremony: string) =>
    sent.filter((s) => s.env.ceremony === ceremony && s.env.round === ROUND.session.invite).length;

  /**
   * M's daemon stopped, a bare host under M's identity on M's address: sends what the test crafts and collects
   * what comes back. `fn` runs with it; M's daemon starts again after.
   */
  async function asRogueHost(fn: (h: Host, inbox: Envelope[]) => Promise<void>): Promise<void> {
    await net.stop(M);
    const inbox: Envelope[] = [];
    const host = await createHost({
      privateKey: mKey,
      listen: [net.parties[M].listen],
      peers: net.peerInfos.filter((p) => p.id !== id(M)),
      log: nullLogger,
      onEnvelope: (env) => inbox.push(env),
    });
    try {
      await fn(host, inbox);
    } finally {
      await host.stop();
      await startRogue();
    }
  }

  /** The first envelope in `inbox` from `from` for `sessionId` (waits up to 10 s). */
  async function answer(inbox: Envelope[], from: string, sessionId: Uint8Array): Promise<Envelope> {
    for (let tries = 0; tries < 100; tries++) {
      const hit = inbox.find(
        (e) => e.sender === from && Buffer.from(e.sessionId).equals(Buffer.from(sessionId)),
      );
      if (hit) return hit;
      await sleep(100);
    }
    assert.fail(`no answer from ${from}`);
  }

  const abortReason = (env: Envelope) => codecs.abort.decode(env.payload);

  /** The first JSON log line of party i after its `from`-th output chunk that `pred` accepts (waits 10 s). */
  async function logLine(i: number, from: number, pred: (l: LogLine) => boolean): Promise<LogLine> {
    for (let tries = 0; tries < 100; tries++) {
      const lines = net.parties[i].log.slice(from).join('').split('\n');
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const l = JSON.parse(line) as LogLine;
        if (pred(l)) return l;
      }
      await sleep(100);
    }
    assert.fail(`party ${i + 1} logged no such line`);
  }

  /**
   * `env` with M's own signature of any ceremony outcome left out (its status queries and answers), and its
   * status answers passed through `lie`.
   */
  async function hideSignature(
    env: Envelope,
    lie: (s: KeyStatusMsg) => KeyStatusMsg | Promise<KeyStatusMsg> = (s) => s,
  ): Promise<Envelope> {
    if (env.ceremony !== 'CONTROL') return env;
    const strip = <T extends EpochCertificate | null | undefined>(c: T): T =>
      (c && { ...c, signatures: c.signatures.filter((x) => x.party !== id(M)) }) as T;
    if (env.round === ROUND.control.keyStatusQuery) {
      const q = codecs.keyStatusQuery.decode(env.payload);
      return { ...env, payload: codecs.keyStatusQuery.encode({ ...q, pending: strip(q.pending) }) };
    }
    const s = codecs.keyStatus.decode(env.payload);
    const hidden = {
      ...s,
      pendingConfirmations: strip(s.pendingConfirmations),
      certificate: strip(s.certificate),
    };
    return { ...env, payload: codecs.keyStatus.encode(await lie(hidden)) };
  }

  test('(a) one member alone cannot reshare the key to itself and an outsider', async () => {
    const name = 'vault-a';
    const key = await keygen(name, [A, B, M]);
    // The attack, through M's own control API.
    const rid = await start(M, `/v1/keys/${name}/reshare`, { threshold: 2, parties: ids([M, X]) });
    const held = await follow(M, rid, (v) => v.state === 'awaiting-approval');
    assert.equal(held.state, 'awaiting-approval', JSON.stringify(held));
    assert.deepEqual(
      held.held.holders.map((h: { party: string }) => h.party).sort(),
      ids([A, B, M]).sort(),
      'every member holds it for its operator, M included',
    );
    assert.equal(held.held.needed, 2);
    await approveHeld(net, M, held.held.proposal);
    for (const i of [A, B]) {
      const list = await net.call(i, 'GET', '/v1/approvals');
      const entry = list.json.find((e: { id: string }) => e.id.startsWith(held.held.proposal));
      assert.equal(entry.details.kind, 'proposal');
      assert.deepEqual(entry.details.removed, ids([A, B]), `party ${i + 1} sees who would lose the key`);
      assert.deepEqual(entry.details.added, ids([X]));
      const r = await net.call(i, 'POST', `/v1/approvals/${entry.id}/reject`, {});
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
    const end = await follow(M, rid);
    assert.equal(end.state, 'failed');
    assert.equal(end.error.code, 'POLICY_DENIED', end.error.message);
    assert.deepEqual([...end.error.culprits].sort(), ids([A, B]).sort(), 'the refusing parties are named');
    assert.match(end.error.message, /rejected by this party's operator/);
    assert.equal(invitesFromM('RESHARE'), 0, 'nothing was dealt: no invite ever left M');
    await assertUnchanged(name, [A, B, M], 0);

    // M forges the invites instead. It holds a validly signed proposal, of a refresh (unattended), whose invite
    // it keeps to itself, and sends reshare invites of its own making.
    let refreshInvite: CeremonyInvite | undefined;
    attack = (_to, env) => {
      if (env.ceremony !== 'REFRESH' || env.round !== ROUND.session.invite) return env;
      refreshInvite = codecs.invite.decode(env.payload);
      return undefined;
    };
    try {
      const r = await net.run(M, `/v1/keys/${name}/refresh`, {});
      assert.equal(r.state, 'failed', 'the refresh nobody was invited to ends');
    } finally {
      attack = honestly;
    }
    assert.ok(refreshInvite?.proposal, 'M holds a signed refresh proposal');
    const g = await rogueGroup(name);
    const reshareOf = (proposal: WireSignedProposal | null): CeremonyInvite => ({
      keyName: name,
      threshold: 2,
      members: ids([M, X]),
      groupKey: hexToBytes(key.groupKey),
      epoch: 0,
      dealers: ids([A, B, M]),
      currentGroup: JSON.stringify(keyGroupToJSON(g)),
      proposal,
    });
    const signed = refreshInvite!.proposal!;
    await asRogueHost(async (host, inbox) => {
      const forgeries: [string, (sessionId: Uint8Array) => WireSignedProposal | null, RegExp][] = [
        ['no proposal', () => null, /carries no custody proposal/],
        ['the approved refresh proposal', () => signed, /does not describe the ceremony/],
        [
          'its own reshare proposal with the refresh signature',
          (sessionId) => ({
            proposal: proposalOf(g, name, 'reshare', sessionId, ids([M, X]), ids([A, B, M])),
            signature: signed.signature,
          }),
          /not signed by the key/,
        ],
      ];
      for (const [what, proposal, reason] of forgeries) {
        const sessionId = randomBytes(32);
        const payload = codecs.invite.encode(reshareOf(proposal(sessionId)));
        for (const to of [A, B, X])
          await host.send(id(to), {
            version: 1,
            sessionId,
            ceremony: 'RESHARE',
            round: ROUND.session.invite,
            sender: id(M),
            payload,
          });
        for (const from of [A, B, X]) {
          const r = abortReason(await answer(inbox, id(from), sessionId));
          assert.match(r.reason, reason, `${what}: party ${from + 1} refuses (${r.reason})`);
          assert.ok(r.reason.includes(id(M)), `${what}: party ${from + 1} names M`);
        }
      }
    });
    await assertUnchanged(name, [A, B, M], 0);
    await assertSigns(net, A, name, [A, B], key);
  });

  test('(b) the same reshare with t approvals goes through', async () => {
    const name = 'vault-b';
    const key = await keygen(name, [A, B, M]);
    const rid = await start(M, `/v1/keys/${name}/reshare`, { threshold: 2, parties: ids([M, X]) });
    const held = await follow(M, rid, (v) => v.state === 'awaiting-approval');
    assert.equal(held.state, 'awaiting-approval');
    await approveHeld(net, M, held.held.proposal);
    await approveHeld(net, A, held.held.proposal);
    const end = await follow(M, rid);
    assert.equal(end.state, 'done', JSON.stringify(end.error));
    assert.equal(end.result.groupKey, key.groupKey);
    const views = await settledViews(net, name);
    assert.deepEqual(
      views.flatMap((v, i) => (v.status === 200 ? [i] : [])),
      [X, M],
    );
    await assertSigns(net, M, name, [M, X], key);
    const removed = await signVia(net, A, name, [A, M]);
    assert.equal(removed.state, 'rejected', 'B and A, removed, hold no share to sign with');
  });

  test('frostnet reshare says the proposal waits and who must approve; requests show --wait completes it', async () => {
    const name = 'vault-g';
    const key = await keygen(name, [A, B, M]);
    const env = { FROSTNET_DATA_DIR: net.parties[A].dataDir };
    const args = ['reshare', '--key', name, '--threshold', '2', '--parties', `self,party-2,${id(X)}`];
    const asked = await runCommand(adminCommands, [...args, '--json'], env);
    assert.equal(asked.code, 3, asked.stderr);
    const waiting = JSON.parse(asked.stdout).waiting;
    assert.equal(waiting.code, 'AWAITING_APPROVAL');
    assert.match(waiting.message, /0 of 2 approvals; held by /);
    for (const holder of ['self', 'party-2', 'party-5']) assert.ok(waiting.message.includes(holder), holder);
    assert.match(waiting.hint, new RegExp(`requests show ${waiting.request} --wait`));
    const text = await runCommand(adminCommands, args, env);
    assert.equal(text.code, 3);
    assert.match(text.stderr, /^waiting: the reshare proposal \w+ awaits approval/m);
    // The first request goes on in the daemon: approved by A and B, it completes while requests show waits.
    const held = (await net.call(A, 'GET', `/v1/requests/${waiting.request}`)).json.held;
    // B's operator sees the proposal's parties by the names of B's config.
    const listed = await runCommand(approvalCommands, ['approvals', 'list'], {
      FROSTNET_DATA_DIR: net.parties[B].dataDir,
    });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      /reshare of key vault-g .*adds party-4; removes party-5; proposed by party-1/,
    );
    assert.doesNotMatch(listed.stdout, /12D3KooW/);
    const follow = runCommand(
      requestCommands,
      ['requests', 'show', waiting.request, '--wait', '--json'],
      env,
    );
    await approveHeld(net, A, held.proposal);
    await approveHeld(net, B, held.proposal);
    const done = await follow;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(JSON.parse(done.stdout).result.groupKey, key.groupKey);
    const views = await settledViews(net, name);
    assert.deepEqual(
      views.flatMap((v, i) => (v.status === 200 ? [i] : [])),
      [A, B, X],
    );
  });

  test('(c) a member removed by a reshare cannot bring itself back with a replayed or self-made proposal', async () => {
    const name = 'vault-c';
    const key = await keygen(name, [A, B, M]);
    const g0 = await rogueGroup(name);
    // M itself proposes the reshare that removes it (its operator agreed then); it keeps what it sent.
    const rid = await start(M, `/v1/keys/${name}/reshare`, { threshold: 2, parties: ids([A, B, X]) });
    const held = await follow(M, rid, (v) => v.state === 'awaiting-approval');
    for (const i of [M, A, B]) await approveHeld(net, i, held.held.proposal);
    const end = await follow(M, rid);
    assert.equal(end.state, 'done', JSON.stringify(end.error));
    const kept = sent.find(
      (s) =>
        s.env.ceremony === 'RESHARE' &&
        s.env.round === ROUND.session.invite &&
        s.to === id(A) &&
        codecs.invite.decode(s.env.payload).keyName === name,
    );
    assert.ok(kept, 'M sent the reshare invite');
    const oldInvite = codecs.invite.decode(kept.env.payload);
    await settledViews(net, name);
    await assertUnchanged(name, [A, B, X], 1, [M]);
    const g1 = await groupAt(A, name);

    await asRogueHost(async (host, inbox) => {
      const invite = async (to: number, inv: CeremonyInvite, sessionId: Uint8Array = randomBytes(32)) => {
        await host.send(id(to), {
          version: 1,
          sessionId,
          ceremony: 'RESHARE',
          round: ROUND.session.invite,
          sender: id(M),
          payload: codecs.invite.encode(inv),
        });
        return abortReason(await answer(inbox, id(to), sessionId));
      };
      // The old invite again, with its signed epoch-0 proposal (under a fresh session id: the same one would be
      // dropped unread as a replay).
      for (const to of [A, B, X]) {
        const r = await invite(to, oldInvite);
        assert.match(r.code, /EPOCH_MISMATCH|CONFLICT/, `party ${to + 1}: ${r.reason}`);
      }
      // The same proposal to put M back: a fresh session, members A, B, M.
      const back = { ...oldInvite, members: ids([A, B, M]) };
      for (const to of [A, B]) {
        const r = await invite(to, back);
        assert.match(r.reason, /epoch|does not describe/, `party ${to + 1}: ${r.reason}`);
      }
      // A proposal M makes itself for the current epoch (its public group is no secret), which it cannot sign:
      // the old epoch's signature will not do.
      const selfMade = randomBytes(32);
      const p1 = {
        ...proposalOf(
          g1,
          name,
          'reshare',
          selfMade,
          ids([A, B, X, M]),
          ids([A, B, X]),
          undefined,
          undefined,
          A,
        ),
        proposer: id(M),
      };
      const r = await invite(
        A,
        {
          ...oldInvite,
          members: ids([A, B, X, M]),
          dealers: ids([A, B, X]),
          epoch: 1,
          currentGroup: JSON.stringify(keyGroupToJSON(g1)),
          proposal: { proposal: p1, signature: oldInvite.proposal!.signature },
        },
        selfMade,
      );
      assert.match(r.reason, /not a member|not signed by the key/, r.reason);
      // M asks A to approve a proposal of its own: A refuses a requester that is no member.
      const sessionId = randomBytes(32);
      const p = proposalOf(g0, name, 'reshare', sessionId, ids([A, B, M]), ids([A, B, M]));
      await host.send(id(A), {
        version: 1,
        sessionId,
        ceremony: 'SIGN',
        round: ROUND.sign.request,
        sender: id(M),
        payload: encodeSignRequest({
          groupKey: hexToBytes(key.groupKey),
          epoch: 1,
          scheme: 'bip340',
          payload: { proposal: { proposal: { ...p, epoch: 1 } } },
          requester: id(M),
        }),
      });
      const refusal = codecs.signRefusal.decode((await answer(inbox, id(A), sessionId)).payload);
      assert.equal(refusal.code, 'UNAUTHORIZED', refusal.reason);
    });
    await assertUnchanged(name, [A, B, X], 1, [M]);
    await assertSigns(net, X, name, [X, A], key);
  });

  test('(d) a member withholding its confirmation and lying in status answers leaves the honest parties on one epoch', async () => {
    const name = 'vault-d';
    const key = await keygen(name, [A, C, M]);
    // M takes part in the refresh but shows its commit to nobody: its round 4 is dropped and its signature left
    // out of everything else it sends (status answers, its own status queries). It tells C, signed, that it
    // never held the new epoch, and tells A, unsigned, that it is on it.
    let lying = true;
    attack = async (to, env) => {
      if (!lying) return env;
      if (env.ceremony === 'REFRESH' && env.round === ROUND.vss.commit) return undefined;
      return hideSignature(env, async (s) => {
        const c = s.pendingConfirmations ?? s.certificate;
        if (to !== id(C) || !c) return s;
        return {
          ...s,
          hasPending: false,
          pendingConfirmations: null,
          renouncement: await mKey.sign(renouncementStatement(c.sessionId, c.confirmation)),
        };
      });
    };
    try {
      const rid = await start(A, `/v1/keys/${name}/refresh`, {});
      const settling = await follow(A, rid, (v) => v.state === 'settling');
      assert.equal(settling.state, 'settling', JSON.stringify(settling));
      assert.deepEqual(settling.settling.missing, [id(M)], 'the requester hears whose signature is missing');
      // Several settling rounds later, neither honest party moved on M's word.
      await sleep(4000);
      for (const i of [A, C]) {
        const v = await view(i, name);
        assert.equal(v.json.epoch, 0, `party ${i + 1} stays on epoch 0`);
        assert.equal(v.json.pendingEpoch, 1, `party ${i + 1} keeps the new epoch pending`);
      }
      await assertSigns(net, A, name, [A, C], key);
      await assertSigns(net, C, name, [C, A], key);
      const still = await net.call(A, 'GET', `/v1/requests/${rid}`);
      assert.equal(still.json.state, 'settling', 'never reported failed while it may still activate');
      // M gives in: its signature reaches the others, and everyone activates the same epoch.
      lying = false;
      const end = await follow(A, rid);
      assert.equal(end.state, 'done', JSON.stringify(end));
      assert.equal(end.result.epoch, 1);
    } finally {
      attack = honestly;
    }
    const views = await settledViews(net, name);
    for (const i of [A, C, M]) assert.equal(views[i].json.epoch, 1, `party ${i + 1} on epoch 1`);
    await assertSigns(net, A, name, [A, C], key);
  });

  test('(d) a member withholding its round 3 as well: every honest party drops the outcome and stays on epoch 0', async () => {
    const name = 'vault-d2';
    const key = await keygen(name, [A, C, M]);
    // M prepares and commits only for itself: it keeps its round 3 and its commit from everyone, and its status
    // answers leave its signature out.
    attack = (_to, env) =>
      env.ceremony === 'REFRESH' && (env.round === 3 || env.round === ROUND.vss.commit)
        ? undefined
        : hideSignature(env);
    try {
      const r = await net.run(A, `/v1/keys/${name}/refresh`, {});
      assert.equal(r.state, 'failed', JSON.stringify(r));
      assert.match(r.error.message, /never activates/);
      // C drops the outcome once it has every other participant's unsigned answer, a moment after the initiator
      // reports; M drops what it committed to, alone, on A's and C's renouncements. M keeps its commit hidden
      // until then: were it shown to C first, C would commit too and stay pending (the informational case of a
      // member who withholds, then shows one party its commit), so the attack lasts until everyone settled.
      await settledViews(net, name);
    } finally {
      attack = honestly;
    }
    await assertUnchanged(name, [A, C], 0, [X], [A, C, M]);
    assert.equal((await view(M, name)).json.epoch, 0);
    await assertSigns(net, C, name, [C, A], key);
  });

  test('(e) a newcomer given a fake key group accepts nothing and names the initiator', async () => {
    const name = 'vault-e';
    const key = await keygen(name, [A, B, M]);
    const real = await rogueGroup(name);
    const fakeKeys = relabel(makeKey(2, 3), ids([A, B, M]));
    const fake = fakeKeys.get(id(A))!.group;
    const cases: [string, (inv: CeremonyInvite, sessionId: Uint8Array) => CeremonyInvite, RegExp][] = [
      [
        'the real key with other shares',
        (inv) => ({ ...inv, currentGroup: JSON.stringify(keyGroupToJSON(doctored(real))) }),
        /another key group|names another/,
      ],
      [
        'a whole fake group with a proposal its own key signed',
        (inv, sessionId) => {
          const p = proposalOf(
            fake,
            name,
            'reshare',
            sessionId,
            inv.members,
            inv.dealers!,
            proposalFromWire(inv.proposal?.proposal, 'the invite'),
          );
          const signature = signWith(fakeKeys, ids([A, B]), {
            scheme: 'bip340',
            message: proposalDigest(p),
            steps: [],
          });
          return {
            ...inv,
            groupKey: groupKey(fake).toBytes(true),
            currentGroup: JSON.stringify(keyGroupToJSON(fake)),
            proposal: { proposal: p, signature },
          };
        },
        /another ceremony/,
      ],
    ];
    for (const [what, fakeFor, reason] of cases) {
      const logged = net.parties[X].log.length;
      const rid = await start(M, `/v1/keys/${name}/reshare`, { threshold: 2, parties: ids([A, B, M, X]) });
      const held = await follow(M, rid, (v) => v.state === 'awaiting-approval');
      attack = (to, env) => {
        if (to !== id(X) || env.ceremony !== 'RESHARE' || env.round !== ROUND.session.invite) return env;
        const inv = codecs.invite.decode(env.payload);
        return { ...env, payload: codecs.invite.encode(fakeFor(inv, env.sessionId)) };
      };
      try {
        await approveHeld(net, M, held.held.proposal);
        await approveHeld(net, A, held.held.proposal);
        // To its end: a retry that ran before A's approval may still report the request held.
        const end = await follow(M, rid, () => false);
        assert.equal(end.state, 'failed', `${what}: ${JSON.stringify(end)}`);
      } finally {
        attack = honestly;
      }
      assert.equal((await view(X, name)).status, 404, `${what}: the newcomer stored nothing`);
      // The newcomer's own verdict, from its log: it refused the invite, or ended the ceremony, naming M.
      const verdict = await logLine(
        X,
        logged,
        (l) =>
          (l.msg === 'dropped message' && l.round === ROUND.session.invite) || l.msg === 'ceremony failed',
      );
      const text = `${verdict.reason} ${JSON.stringify(verdict.culprits ?? [])}`;
      assert.match(verdict.reason, reason, what);
      assert.ok(text.includes(id(M)), `${what}: the initiator M is named: ${text}`);
      if (verdict.culprits) assert.deepEqual(verdict.culprits, [id(M)], `${what}: M alone is blamed`);
      await assertUnchanged(name, [A, B, M], 0);
    }
    await assertSigns(net, B, name, [B, M], key);
  });

  test('(f) a repair onto a party whose operator erased its share runs only on a signed proposal', async () => {
    const name = 'vault-f';
    const key = await keygen(name, [A, B, M]);
    const erased = await net.call(A, 'POST', `/v1/keys/${name}/erase`, { confirm: name });
    assert.equal(erased.status, 200, JSON.stringify(erased.json));
    // M alone: B's operator refuses, so fewer than t approve.
    const rid = await start(M, `/v1/keys/${name}/repair`, { party: id(A) });
    const held = await follow(M, rid, (v) => v.state === 'awaiting-approval');
    await approveHeld(net, M, held.held.proposal);
    const list = await net.call(B, 'GET', '/v1/approvals');
    const entry = list.json.find((e: { id: string }) => e.id.startsWith(held.held.proposal));
    assert.equal(entry.details.ceremony, 'repair');
    assert.equal(entry.details.lost, id(A));
    await net.call(B, 'POST', `/v1/approvals/${entry.id}/reject`, {});
    const end = await follow(M, rid);
    assert.equal(end.state, 'failed');
    assert.equal(end.error.code, 'POLICY_DENIED');
    assert.ok(end.error.culprits.includes(id(B)));
    assert.equal(invitesFromM('REPAIR'), 0, 'no repair invite left M');
    assert.equal((await view(A, name)).status, 404, 'A holds nothing');

    // A forged repair invite, without a proposal and with one nobody signed: helper B and party A refuse it.
    const g = await rogueGroup(name);
    await asRogueHost(async (host, inbox) => {
      for (const [what, signature] of [
        ['no proposal', undefined],
        ['a proposal nobody signed', new Uint8Array(64).fill(7)],
      ] as const) {
        const sessionId = randomBytes(32);
        const p = proposalOf(g, name, 'repair', sessionId, ids([A, B, M]), ids([M, B]), undefined, id(A));
        const payload = codecs.repairInvite.encode({
          keyName: name,
          groupKey: hexToBytes(key.groupKey),
          epoch: 0,
          lost: id(A),
          helpers: ids([M, B]),
          group: JSON.stringify(keyGroupToJSON(g)),
          proposal: signature ? { proposal: p, signature } : null,
        });
        for (const to of [B, A])
          await host.send(id(to), {
            version: 1,
            sessionId,
            ceremony: 'REPAIR',
            round: ROUND.session.invite,
            sender: id(M),
            payload,
          });
        for (const from of [B, A]) {
          const r = abortReason(await answer(inbox, id(from), sessionId));
          assert.match(r.reason, /no custody proposal|not signed by the key/, `${what}, party ${from + 1}`);
        }
      }
    });
    assert.equal((await view(A, name)).status, 404, 'A still holds nothing');

    // With B's approval too, the same repair runs.
    const again = await start(M, `/v1/keys/${name}/repair`, { party: id(A) });
    const held2 = await follow(M, again, (v) => v.state === 'awaiting-approval');
    await approveHeld(net, M, held2.held.proposal);
    await approveHeld(net, B, held2.held.proposal);
    const done = await follow(M, again);
    assert.equal(done.state, 'done', JSON.stringify(done.error));
    await assertSigns(net, A, name, [A, B], key);
  });

  /** A proposal of `kind` for `group` as M would make it: a valid one, but signed by nobody. */
  function proposalOf(
    group: KeyGroup,
    name: string,
    kind: 'reshare' | 'repair',
    sessionId: Uint8Array,
    members: string[],
    dealers: string[],
    like?: CustodyProposal,
    lost?: string,
    proposer = M,
  ): CustodyProposal {
    const now = Math.floor(Date.now() / 1000);
    return makeProposal(
      kind,
      name,
      group,
      { threshold: kind === 'repair' ? group.threshold : 2, members, dealers, ...(lost && { lost }) },
      // A proposal decoded from the wire carries its expiry as a bigint.
      { sessionId, proposer: id(proposer), expiresAt: Number(like?.expiresAt ?? now + 3600), now },
    );
  }
});

/** The same key group with other verifying shares (a consistent, doctored copy): another group, same key. */
function doctored(g: KeyGroup): KeyGroup {
  const commitments = g.public.commitments.map((c) => parsePoint(c));
  commitments[1] = commitments[1].add(G);
  const verifyingShares: Record<string, Uint8Array<ArrayBuffer>> = {};
  for (const i of g.identifiers)
    verifyingShares[i] = pointToBytes(evalCommitment(commitments, identifierScalar(i)));
  return { ...g, public: { ...g.public, commitments: commitments.map(pointToBytes), verifyingShares } };
}

/** In-process shares of party-1..n relabelled to `members` (party-i becomes members[i - 1]). */
function relabel<T extends { group: KeyGroup }>(keys: Map<string, T>, members: string[]): Map<string, T> {
  return new Map(
    members.map((m, i) => {
      const k = keys.get(`party-${i + 1}`)!;
      return [m, { ...k, group: { ...k.group, members: [...members] } }];
    }),
  );
}
