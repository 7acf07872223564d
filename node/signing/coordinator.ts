/**
 * The coordinator side of signing, in the spirit of ROAST: ask the most responsive members for commitments,
 * replacing any that refuse, time out or cannot be reached, until t have committed; send them the package;
 * aggregate and verify. A party that refuses, stays silent or sends an invalid share is excluded and a fresh
 * attempt runs with the rest, so with t honest, responsive members a signature comes out within n-t+1
 * attempts. The outcome names every excluded party and why.
 */
import { randomBytes } from 'node:crypto';
import { bytesToHex } from '../../protocol/curve.ts';
import { ERROR_CODES, errorMessage, FrostnetError, toFrostnetError } from '../../protocol/errors.ts';
import { groupKey, identifierOf, type KeyShare } from '../../protocol/keys.ts';
import { aggregateSignature, type Scheme } from '../../protocol/sign.ts';
import type { Logger } from '../ops/log.ts';
import { remoteCode } from '../session/kernel.ts';
import {
  codecs,
  encodeSignOneRound,
  encodeSignRequest,
  fromWireCommitment,
  ROUND,
  type SignPackageMsg,
  type SignPayload,
  type SignRequestMsg,
  type WireCommitment,
} from '../session/messages.ts';
import type { Router, Session } from '../session/router.ts';
import type { Send } from '../session/rpc.ts';
import { request as rpc } from '../session/rpc.ts';
import type { KeyStore } from '../storage/keystore.ts';
import { type Envelope, envelope } from '../transport/wire.ts';
import { HELD_CODES, HeldError } from './hold-error.ts';
import { BATCH, NoncePool } from './nonce-pool.ts';
import type { Signer } from './signer.ts';
import { type ResolvedRequest, resolveRequest } from './targets.ts';

/** `signers`, when given, limits the signers to these members and tries them in this order. */
export type SignOptions = { scheme: Scheme; payload: SignPayload; signers?: readonly string[] };
/** `until`: for a party that holds the request, when its time lock ends or its approval expires. */
export type Exclusion = { party: string; code: string; reason: string; until?: string };

/** Fewer than t parties are left to sign; `excluded` says why each party was left out. */
export class SignersExhausted extends FrostnetError {
  readonly excluded: readonly Exclusion[];

  constructor(message: string, excluded: readonly Exclusion[]) {
    super('NOT_ENOUGH_SIGNERS', message, [...new Set(excluded.map((x) => x.party))]);
    this.excluded = [...excluded];
  }
}
export type SignOutcome = {
  signatures: Uint8Array[];
  resolved: ResolvedRequest;
  signers: string[];
  excluded: Exclusion[];
  attempts: number;
};

export type CoordinatorOptions = {
  self: string;
  keys: KeyStore;
  signer: Signer;
  router: Router;
  send: Send;
  /** Orders members by responsiveness, best first. */
  rank: (parties: readonly string[]) => string[];
  roundTimeoutMs: number;
  log: Logger;
  /** Keep preprocessed commitments from every member so that signing takes one round trip; default true. */
  preprocess?: boolean;
  /**
   * Subscribes to lost connections (the host's onDisconnect): a signer whose connection closes while the
   * coordinator waits for it is replaced at once, as UNREACHABLE, instead of after the round timeout.
   */
  onDisconnect?: (listener: (party: string) => void) => () => void;
  /** Milliseconds since the epoch (Date.now unless a test says otherwise), for a proposal's expiry. */
  clock?: () => number;
};

type Reply =
  | { ok: true; party: string; payload: Uint8Array }
  | { ok: false; party: string; error: FrostnetError };

/** One signing attempt's session at the coordinator: collects each asked party's reply for the round. */
class Attempt implements Session {
  readonly sessionId = randomBytes(32);
  private readonly waiting = new Map<string, { round: number; done: (r: Reply) => void }>();
  private readonly o: CoordinatorOptions;

  constructor(o: CoordinatorOptions) {
    this.o = o;
  }

  /** `party`'s connection closed: whatever this attempt waits for from it will not come. */
  lost(party: string): void {
    this.waiting.get(party)?.done({
      ok: false,
      party,
      error: new FrostnetError('UNREACHABLE', `${party} disconnected while this request waited for it`, [
        party,
      ]),
    });
  }

  receive(env: Envelope, from: string): void {
    const w = this.waiting.get(from);
    if (!w) throw new FrostnetError('UNEXPECTED_SENDER', `unsolicited signing reply from ${from}`, [from]);
    if (env.round === ROUND.sign.refusal) {
      const r = codecs.signRefusal.decode(env.payload, { from });
      const code = remoteCode(r.code, ERROR_CODES, 'POLICY_DENIED');
      const reason = `${from} refused: ${r.reason.slice(0, 500)}`;
      const until = r.until && !Number.isNaN(Date.parse(r.until)) ? r.until.slice(0, 40) : undefined;
      const error =
        code === 'APPROVAL_REQUIRED' || code === 'TIME_LOCKED'
          ? new HeldError(code, reason, until, [from])
          : new FrostnetError(code, reason, [from]);
      w.done({ ok: false, party: from, error });
    } else if (env.round === w.round) w.done({ ok: true, party: from, payload: env.payload });
    else throw new FrostnetError('INVALID_INPUT', `unexpected round ${env.round} from ${from}`, [from]);
  }

  /** Sends `payload` to `party` and waits for its answer on `replyRound`, a refusal, or the timeout. */
  ask(party: string, round: number, payload: Uint8Array, replyRound: number): Promise<Reply> {
    return new Promise<Reply>((resolve) => {
      const timer = setTimeout(
        () =>
          finish({
            ok: false,
            party,
            error: new FrostnetError('TIMEOUT', `${party} did not answer in time`, [party]),
          }),
        this.o.roundTimeoutMs,
      );
      const finish = (r: Reply) => {
        clearTimeout(timer);
        this.waiting.delete(party);
        resolve(r);
      };
      this.waiting.set(party, { round: replyRound, done: finish });
      const env = envelope(
        { sessionId: this.sessionId, ceremony: 'SIGN', sender: this.o.self },
        round,
        payload,
      );
      this.o.send(party, env).catch((e) =>
        finish({
          ok: false,
          party,
          error: toFrostnetError(e, { code: 'UNREACHABLE', context: party, culprits: [party] }),
        }),
      );
    });
  }
}

export class Coordinator {
  private readonly o: CoordinatorOptions;
  private readonly pool = new NoncePool();
  /** Attempts waiting for replies, told when a signer's connection closes. */
  private readonly attempts = new Set<Attempt>();

  constructor(o: CoordinatorOptions) {
    this.o = o;
    o.onDisconnect?.((party) => {
      for (const a of this.attempts) a.lost(party);
    });
  }

  async sign(keyName: string, opts: SignOptions): Promise<SignOutcome> {
    const share = this.o.keys.active(keyName);
    const { group } = share;
    // active() found the entry, or threw.
    const { network, recovery } = this.o.keys.get(keyName)!;
    const resolved = await resolveRequest(
      { group, network, recovery },
      opts.scheme,
      opts.payload,
      (this.o.clock ?? Date.now)(),
    );
    const pool = opts.signers ? [...new Set(opts.signers)] : [...group.members];
    for (const p of pool) identifierOf(group, p);
    const excluded: Exclusion[] = [];
    const exclude = (party: string, e: FrostnetError) => {
      const until = e instanceof HeldError ? e.until : undefined;
      excluded.push({ party, code: e.code, reason: e.message, ...(until && { until }) });
      this.o.log.warn('signer excluded', { party, code: e.code, reason: e.message });
    };
    const request: SignRequestMsg = {
      groupKey: groupKey(group).toBytes(true),
      epoch: group.epoch,
      scheme: opts.scheme,
      payload: opts.payload,
      requester: this.o.self,
    };
    const stale = new Set<string>();
    /** Every party asked during this request, in any round. */
    const asked = new Set<string>();
    try {
      for (let attempt = 1; ; attempt++) {
        const out = excluded.map((x) => x.party);
        // Signers the requester named are tried in the order given; otherwise the most responsive first.
        const left = pool.filter((p) => !out.includes(p));
        const available = opts.signers ? left : this.order(left);
        if (available.length < group.threshold && excluded.some((x) => HELD_CODES.has(x.code))) {
          // A held request waits while t members may still sign, so each one's answer must be known: a one-round
          // attempt asked only t of them. Those never asked are asked now (their refusals, holds or silence).
          const unasked = available.filter((p) => !asked.has(p));
          if (unasked.length > 0) await this.probe(request, unasked, resolved.targets.length, exclude);
        }
        if (available.length < group.threshold) {
          // Each reason names its party already ("<party> refused: ...", "<party> did not answer in time").
          const why = excluded
            .map((x) => (x.reason.includes(x.party) ? x.reason : `${x.party}: ${x.reason}`))
            .join('; ');
          throw new SignersExhausted(
            `key ${keyName} needs ${group.threshold} signers, ${available.length} left${why ? ` (${why})` : ''}`,
            excluded,
          );
        }
        const result = await this.attempt(share, resolved, request, available, exclude, stale, asked);
        if (result)
          return {
            signatures: result.signatures,
            resolved,
            signers: result.signers,
            excluded,
            attempts: attempt,
          };
      }
    } finally {
      this.refill(share);
    }
  }

  /** Self first (no round trip), then by the liveness ranking. */
  private order(parties: string[]): string[] {
    const others = this.o.rank(parties.filter((p) => p !== this.o.self));
    return parties.includes(this.o.self) ? [this.o.self, ...others] : others;
  }

  private poolKey(share: KeyShare): string {
    return `${bytesToHex(groupKey(share.group).toBytes(true))}:${share.group.epoch}`;
  }

  /**
   * One attempt with the first t available parties: one round when preprocessed commitments for all of them
   * are at hand, two rounds otherwise. Returns undefined after excluding whoever failed it.
   */
  private async attempt(
    share: KeyShare,
    resolved: ResolvedRequest,
    request: SignRequestMsg,
    available: string[],
    exclude: (party: string, e: FrostnetError) => void,
    stale: Set<string>,
    asked: Set<string>,
  ): Promise<{ signatures: Uint8Array[]; signers: string[] } | undefined> {
    const session = new Attempt(this.o);
    this.o.router.add('SIGN', session.sessionId, session);
    this.attempts.add(session);
    try {
      const t = share.group.threshold;
      const n = resolved.targets.length;
      const chosen = available.slice(0, t);
      const pooled = this.o.preprocess === false ? undefined : this.pool.take(this.poolKey(share), chosen, n);
      if (pooled) for (const p of chosen) asked.add(p);
      const committed =
        pooled ?? (await this.collectCommitments(session, request, available, t, n, exclude, asked));
      if (!committed) return undefined;
      const signers = share.group.members.filter((m) => committed.has(m));
      const pkg: SignPackageMsg = {
        messages: resolved.targets.map((x) => x.message),
        signers: signers.map((party) => ({ party, commitments: committed.get(party)! })),
      };
      const replies = pooled
        ? await this.askOneRound(session, request, pkg, signers)
        : await this.askShares(session, pkg, signers);
      const shares = new Map<string, Uint8Array[]>();
      for (const r of replies) {
        if (!r.ok) {
          // A party that forgot its preprocessed nonces (it restarted) gets a second chance with fresh ones.
          if (pooled && r.error.code === 'NONCE_REUSED' && !stale.has(r.party)) {
            stale.add(r.party);
            this.pool.drop(this.poolKey(share), r.party);
          } else exclude(r.party, r.error);
          continue;
        }
        try {
          shares.set(r.party, codecs.signShares.decode(r.payload, { from: r.party }).shares);
        } catch (e) {
          exclude(r.party, e as FrostnetError);
        }
      }
      if (shares.size < signers.length) return undefined;
      const signatures = this.aggregate(share, resolved, signers, committed, shares, exclude);
      if (!signatures) return undefined;
      this.o.log.info('signed', {
        key: bytesToHex(request.groupKey).slice(0, 16),
        signers,
        messages: n,
        rounds: pooled ? 1 : 2,
      });
      return { signatures, signers };
    } finally {
      this.attempts.delete(session);
      this.o.router.remove('SIGN', session.sessionId);
    }
  }

  /** Round 1 of two: commitments from t parties, replacing each one that fails. */
  private async collectCommitments(
    session: Attempt,
    request: SignRequestMsg,
    available: string[],
    t: number,
    n: number,
    exclude: (party: string, e: FrostnetError) => void,
    asked: Set<string>,
  ): Promise<Map<string, WireCommitment[]> | undefined> {
    const committed = new Map<string, WireCommitment[]>();
    const queue = [...available];
    const inFlight = new Map<string, Promise<Reply>>();
    const requestBytes = encodeSignRequest(request);
    while (committed.size < t) {
      while (committed.size + inFlight.size < t && queue.length) {
        const p = queue.shift()!;
        asked.add(p);
        inFlight.set(p, this.askCommit(session, p, request, requestBytes));
      }
      if (inFlight.size === 0) return undefined;
      const r = await Promise.race(inFlight.values());
      inFlight.delete(r.party);
      if (!r.ok) {
        exclude(r.party, r.error);
        continue;
      }
      try {
        committed.set(
          r.party,
          checkCommitments(
            r.party,
            codecs.signCommitments.decode(r.payload, { from: r.party }).commitments,
            n,
          ),
        );
      } catch (e) {
        exclude(r.party, e as FrostnetError);
      }
    }
    return committed;
  }

  /**
   * Round 1 asked of `parties` only for their answers: each refusal, hold or silence is excluded as in an
   * attempt; commitments given are never used (the signers drop them when their sessions expire).
   */
  private async probe(
    request: SignRequestMsg,
    parties: string[],
    n: number,
    exclude: (party: string, e: FrostnetError) => void,
  ): Promise<void> {
    const session = new Attempt(this.o);
    this.o.router.add('SIGN', session.sessionId, session);
    this.attempts.add(session);
    try {
      await this.collectCommitments(session, request, parties, parties.length, n, exclude, new Set());
    } finally {
      this.attempts.delete(session);
      this.o.router.remove('SIGN', session.sessionId);
    }
  }

  /** Every message's signature, or undefined after excluding the parties whose shares are invalid. */
  private aggregate(
    share: KeyShare,
    resolved: ResolvedRequest,
    signers: string[],
    committed: Map<string, WireCommitment[]>,
    shares: Map<string, Uint8Array[]>,
    exclude: (party: string, e: FrostnetError) => void,
  ): Uint8Array[] | undefined {
    const { group } = share;
    const signatures: Uint8Array[] = [];
    for (const [i, target] of resolved.targets.entries()) {
      const commitments = signers.map((p) =>
        fromWireCommitment(identifierOf(group, p), committed.get(p)![i]),
      );
      const perTarget = new Map(signers.map((p) => [p, shares.get(p)![i] ?? new Uint8Array()]));
      try {
        signatures.push(aggregateSignature(group, target, commitments, perTarget));
      } catch (e) {
        const err = e as FrostnetError;
        if (!err.culprits?.length) throw e;
        for (const c of err.culprits) exclude(c, err);
        return undefined;
      }
    }
    return signatures;
  }

  private askCommit(
    session: Attempt,
    party: string,
    request: SignRequestMsg,
    bytes: Uint8Array,
  ): Promise<Reply> {
    if (party !== this.o.self) return session.ask(party, ROUND.sign.request, bytes, ROUND.sign.commitments);
    return settle(party, async () =>
      codecs.signCommitments.encode({
        commitments: await this.o.signer.commit(session.sessionId, request, party),
      }),
    );
  }

  private askShares(session: Attempt, pkg: SignPackageMsg, signers: string[]): Promise<Reply[]> {
    const bytes = codecs.signPackage.encode(pkg);
    return Promise.all(
      signers.map((p) =>
        p !== this.o.self
          ? session.ask(p, ROUND.sign.package, bytes, ROUND.sign.shares)
          : settle(p, async () =>
              codecs.signShares.encode({ shares: await this.o.signer.sign(session.sessionId, pkg, p) }),
            ),
      ),
    );
  }

  private askOneRound(
    session: Attempt,
    request: SignRequestMsg,
    pkg: SignPackageMsg,
    signers: string[],
  ): Promise<Reply[]> {
    const bytes = encodeSignOneRound({ request, package: pkg });
    return Promise.all(
      signers.map((p) =>
        p !== this.o.self
          ? session.ask(p, ROUND.sign.oneRound, bytes, ROUND.sign.shares)
          : settle(p, async () =>
              codecs.signShares.encode({ shares: await this.o.signer.signOneRound(request, pkg, p) }),
            ),
      ),
    );
  }

  /** Tops up the stock of preprocessed commitments of every member, in the background. */
  private refill(share: KeyShare): void {
    if (this.o.preprocess === false) return;
    const key = this.poolKey(share);
    const { group } = share;
    const groupKeyBytes = groupKey(group).toBytes(true);
    for (const party of this.pool.startRefill(key, group.members)) {
      void settle(party, async () => {
        if (party === this.o.self)
          return codecs.nonceBatch.encode({
            commitments: this.o.signer.preprocess(groupKeyBytes, group.epoch, BATCH, party),
          });
        const payload = codecs.nonceBatchRequest.encode({
          groupKey: groupKeyBytes,
          epoch: group.epoch,
          count: BATCH,
        });
        const env = await rpc(
          this.o,
          party,
          'SIGN',
          ROUND.sign.nonceBatchRequest,
          payload,
          this.o.roundTimeoutMs,
        );
        if (env.round !== ROUND.sign.nonceBatch)
          throw new FrostnetError('CONFLICT', `${party} handed out no nonces`, [party]);
        return env.payload;
      })
        .then((r) => {
          if (!r.ok) return;
          const batch = codecs.nonceBatch.decode(r.payload, { from: party }).commitments;
          this.pool.add(key, party, checkCommitments(party, batch, batch.length));
        })
        .catch((e) => this.o.log.debug('nonce batch not added', { party, reason: errorMessage(e) }))
        .finally(() => this.pool.endRefill(key, party));
    }
  }
}

/** Commitments from `party` must be `n` well-formed pairs. */
function checkCommitments(party: string, list: WireCommitment[], n: number): WireCommitment[] {
  if (list.length !== n || list.some((x) => x.hiding.length !== 33 || x.binding.length !== 33))
    throw new FrostnetError('INVALID_INPUT', `${party} sent malformed commitments`, [party]);
  return list;
}

/** Runs local work as if it were a party's reply. */
async function settle(party: string, work: () => Promise<Uint8Array>): Promise<Reply> {
  try {
    return { ok: true, party, payload: await work() };
  } catch (e) {
    return { ok: false, party, error: asTyped(e, party) };
  }
}

const asTyped = (e: unknown, party: string): FrostnetError => toFrostnetError(e, { context: party });
