/**
 * The party side of signing. A request is decoded and checked (key, epoch, what is signed, this party's
 * policy) before any nonce is used; nonces live in memory only, each used at most once. Two ways in:
 * - two rounds: commit to fresh nonces for a checked request, then sign the package;
 * - one round: the coordinator holds commitments this party handed out ahead of time (preprocessing) and sends
 *   request and package together; each handed-out commitment is claimed once, by the coordinator it was given
 *   to, for the key and epoch it was made for.
 * Either way the package is signed only if every message is the one this party worked out itself and its own
 * commitments are in it unchanged; the nonces are used up whether it signs or not. A restart forgets every
 * nonce, so nothing can make this party sign twice with one.
 */
import type { NonceCommitments } from '@noble/curves/abstract/frost.js';
import { bytesToHex, equalBytes } from '../../protocol/curve.ts';
import { errorMessage, FrostnetError, toFrostnetError } from '../../protocol/errors.ts';
import { identifierOf, type KeyShare } from '../../protocol/keys.ts';
import { NonceStore, parseScheme, signShare } from '../../protocol/sign.ts';
import type { Logger } from '../ops/log.ts';
import {
  codecs,
  decodeSignOneRound,
  decodeSignRequest,
  fromWireCommitment,
  ROUND,
  type SignPackageMsg,
  type SignRequestMsg,
  toWireCommitment,
  type WireCommitment,
} from '../session/messages.ts';
import type { Router, Session } from '../session/router.ts';
import type { Send } from '../session/rpc.ts';
import type { KeyEntry, KeyStore } from '../storage/keystore.ts';
import { answerTo, type Envelope } from '../transport/wire.ts';
import { HeldError } from './hold-error.ts';
import { describeRequest, type ResolvedRequest, resolveRequest } from './targets.ts';

/** What a party's policy sees: the request as this party decoded it, never a coordinator's summary. */
export type PolicyRequest = { keyName: string; requester: string; resolved: ResolvedRequest };

/** A party's own rules. */
export interface Policy {
  /** Runs before any nonce is used; throws (POLICY_DENIED, or a hold awaiting approval) to refuse. */
  check(req: PolicyRequest): Promise<void> | void;
  /**
   * Told when this party has computed its signature shares for the request, before it releases them (for
   * rolling limits, audit). The shares leave only once this resolves, so that an amount is durably counted
   * before anyone can hold its signature: a crash cannot leave a signed amount outside a limit. A rejection
   * keeps the shares back.
   */
  signed?(req: PolicyRequest): Promise<void> | void;
}

export const allowAll: Policy = { check: () => {} };

/** Preprocessed commitments: at most this many per batch, and outstanding per coordinator. */
export const MAX_BATCH = 64;
export const MAX_HANDED_OUT = 512;
/** A handed-out commitment may be claimed for this many session lifetimes (sessionTtlMs), then its nonce goes. */
export const HANDED_OUT_TTLS = 30;

export type SignerOptions = {
  self: string;
  keys: KeyStore;
  router: Router;
  send: Send;
  policy: Policy;
  /** How long committed nonces wait for their package (two-round) or their use (preprocessed). */
  sessionTtlMs: number;
  maxSessionsPerPeer: number;
  log: Logger;
  /** Told when a request names a newer epoch than the active one (a pending epoch may need settling). */
  onEpochBehind?: (keyName: string) => void;
  /**
   * Milliseconds since the epoch (Date.now unless a test says otherwise): the one clock of this signer, for a
   * proposal's expiry and the expiry of handed-out commitments.
   */
  clock?: () => number;
};

type Checked = { entry: KeyEntry; share: KeyShare; resolved: ResolvedRequest };

type Committed = Checked & { commitments: NonceCommitments[]; requester: string; timer: NodeJS.Timeout };

/** A commitment handed out ahead of time: to whom, for which key and epoch, until when. */
type HandedOut = {
  commitment: NonceCommitments;
  requester: string;
  groupKey: string;
  epoch: number;
  expires: number;
};

const commitmentKey = (c: { hiding: Uint8Array; binding: Uint8Array }) =>
  bytesToHex(c.hiding) + bytesToHex(c.binding);

export class Signer {
  private readonly o: SignerOptions;
  private readonly now: () => number;
  private readonly nonces = new NonceStore();
  private readonly sessions = new Map<string, Committed>();
  /** Open two-round sessions per coordinator, counting those still being checked. */
  private readonly perPeer = new Map<string, number>();
  /** Session ids being checked (between the limit check and the commitments). */
  private readonly opening = new Set<string>();
  private readonly handedOut = new Map<string, HandedOut>();
  private readonly handedOutPerPeer = new Map<string, number>();

  constructor(o: SignerOptions) {
    this.o = o;
    this.now = o.clock ?? Date.now;
    o.router.onOpen('SIGN', ROUND.sign.request, (env, from) => this.onRequest(env, from));
    o.router.onOpen('SIGN', ROUND.sign.nonceBatchRequest, (env, from) => this.onBatchRequest(env, from));
    o.router.onOpen('SIGN', ROUND.sign.oneRound, (env, from) => this.onOneRound(env, from));
  }

  /** Nonces held in memory, for metrics and tests. */
  get pendingNonces(): number {
    return this.nonces.size;
  }

  /** The request as this party sees it: key, membership, epoch, messages and keys, its own policy. */
  private async check(req: SignRequestMsg, requester: string): Promise<Checked> {
    const scheme = parseScheme(req.scheme);
    const { entry, share } = this.activeKey(req.groupKey, req.epoch, requester);
    const resolved = await resolveRequest(
      { group: share.group, network: entry.network, recovery: entry.recovery },
      scheme,
      req.payload,
      this.now(),
    );
    // A proposal is approved for the member that made it, and asked of the others by that member only.
    if (resolved.kind === 'proposal' && resolved.proposal.proposer !== requester)
      throw new FrostnetError(
        'UNAUTHORIZED',
        `${requester} asks for approval of a proposal made by ${resolved.proposal.proposer}`,
        [requester],
      );
    await this.o.policy.check({ keyName: entry.name, requester, resolved });
    return { entry, share, resolved };
  }

  private activeKey(
    groupKey: Uint8Array,
    epoch: number,
    requester: string,
  ): { entry: KeyEntry; share: KeyShare } {
    const entry = this.o.keys.byGroupKey(bytesToHex(groupKey));
    if (!entry) throw new FrostnetError('UNKNOWN_KEY', 'this party holds no such key');
    // A key whose first share here is still pending is refused as not settled yet (CONFLICT), not as unknown.
    const share = this.o.keys.active(entry.name);
    if (!share.group.members.includes(requester) && requester !== this.o.self)
      throw new FrostnetError('UNAUTHORIZED', `${requester} is not a member of key ${entry.name}`, [
        requester,
      ]);
    if (epoch !== share.group.epoch) {
      if (epoch > share.group.epoch) this.o.onEpochBehind?.(entry.name);
      throw new FrostnetError(
        'EPOCH_MISMATCH',
        `request is for epoch ${epoch}, this party is on ${share.group.epoch}`,
      );
    }
    return { entry, share };
  }

  // ---- Two rounds ----------------------------------------------------------------------------------------

  /**
   * Round 1: checks the request and commits to one nonce per message. `requester` is whoever coordinates; the
   * local coordinator calls this directly for its own share.
   */
  async commit(sessionId: Uint8Array, req: SignRequestMsg, requester: string): Promise<WireCommitment[]> {
    const id = bytesToHex(sessionId);
    if (this.sessions.has(id) || this.opening.has(id))
      throw new FrostnetError('CONFLICT', 'session already committed');
    const count = this.perPeer.get(requester) ?? 0;
    if (count >= this.o.maxSessionsPerPeer)
      throw new FrostnetError('CONFLICT', `too many open signing sessions from ${requester}`, [requester]);
    // The slot is taken before the first await, so concurrent opens cannot all pass the limit.
    this.perPeer.set(requester, count + 1);
    this.opening.add(id);
    let checked: Checked;
    try {
      checked = await this.check(req, requester);
    } catch (e) {
      decrement(this.perPeer, requester);
      throw e;
    } finally {
      this.opening.delete(id);
    }
    const commitments = checked.resolved.targets.map(() => this.nonces.commit(checked.share));
    const timer = setTimeout(() => this.forget(id), this.o.sessionTtlMs);
    timer.unref?.();
    this.sessions.set(id, { ...checked, commitments, requester, timer });
    this.o.log.info('committed', {
      key: checked.entry.name,
      requester,
      what: describeRequest(checked.resolved),
    });
    return commitments.map(toWireCommitment);
  }

  /** Round 2: signs every message of the package, or throws without releasing anything. */
  async sign(sessionId: Uint8Array, pkg: SignPackageMsg, requester: string): Promise<Uint8Array[]> {
    const id = bytesToHex(sessionId);
    const s = this.sessions.get(id);
    if (!s || s.requester !== requester)
      throw new FrostnetError(
        'NONCE_REUSED',
        'no open signing session for this package (already used or expired)',
      );
    this.forget(id, false);
    return this.signPackage(s, s.commitments, pkg, requester);
  }

  private forget(id: string, discard = true): void {
    const s = this.sessions.get(id);
    if (!s) return;
    clearTimeout(s.timer);
    this.sessions.delete(id);
    decrement(this.perPeer, s.requester);
    if (discard) for (const c of s.commitments) this.nonces.discard(c);
  }

  // ---- Preprocessing and one round -----------------------------------------------------------------------

  /** Hands `requester` `count` commitments for this key and epoch, to be claimed by a one-round request. */
  preprocess(groupKey: Uint8Array, epoch: number, count: number, requester: string): WireCommitment[] {
    const { share } = this.activeKey(groupKey, epoch, requester);
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_BATCH)
      throw new FrostnetError('INVALID_INPUT', `a nonce batch holds 1 to ${MAX_BATCH} commitments`, [
        requester,
      ]);
    this.expireHandedOut();
    const outstanding = this.handedOutPerPeer.get(requester) ?? 0;
    if (outstanding + count > MAX_HANDED_OUT)
      throw new FrostnetError('CONFLICT', `${requester} already holds ${outstanding} unused commitments`, [
        requester,
      ]);
    const expires = this.now() + this.o.sessionTtlMs * HANDED_OUT_TTLS;
    const out: WireCommitment[] = [];
    for (let i = 0; i < count; i++) {
      const commitment = this.nonces.commit(share);
      this.handedOut.set(commitmentKey(commitment), {
        commitment,
        requester,
        groupKey: bytesToHex(groupKey),
        epoch,
        expires,
      });
      out.push(toWireCommitment(commitment));
    }
    this.handedOutPerPeer.set(requester, outstanding + count);
    return out;
  }

  /** Request and package at once, naming commitments this party handed out to `requester` earlier. */
  async signOneRound(req: SignRequestMsg, pkg: SignPackageMsg, requester: string): Promise<Uint8Array[]> {
    const own = pkg.signers.find((s) => s.party === this.o.self)?.commitments ?? [];
    // Claimed before anything else can fail, so a refused request still burns the nonces it named.
    const claimed = own.map((c) => this.claim(c, requester, bytesToHex(req.groupKey), req.epoch));
    try {
      if (claimed.some((c) => !c))
        throw new FrostnetError(
          'NONCE_REUSED',
          'the package names commitments this party did not hand out, or used',
        );
      const checked = await this.check(req, requester);
      return this.signPackage(checked, claimed as NonceCommitments[], pkg, requester);
    } finally {
      for (const c of claimed) if (c) this.nonces.discard(c);
    }
  }

  private claim(
    c: WireCommitment,
    requester: string,
    groupKey: string,
    epoch: number,
  ): NonceCommitments | undefined {
    const key = commitmentKey(c);
    const h = this.handedOut.get(key);
    if (
      !h ||
      h.requester !== requester ||
      h.groupKey !== groupKey ||
      h.epoch !== epoch ||
      h.expires < this.now()
    )
      return undefined;
    this.handedOut.delete(key);
    decrement(this.handedOutPerPeer, requester);
    return h.commitment;
  }

  private expireHandedOut(): void {
    const now = this.now();
    for (const [key, h] of this.handedOut) {
      if (h.expires >= now) continue;
      this.handedOut.delete(key);
      decrement(this.handedOutPerPeer, h.requester);
      this.nonces.discard(h.commitment);
    }
  }

  // ---- Signing a package ---------------------------------------------------------------------------------

  /**
   * Signs each message with the nonce behind this party's commitment for it; all nonces are gone after. The
   * shares are returned only once the policy has recorded the signature (Policy.signed).
   */
  private async signPackage(
    c: Checked,
    ownCommitments: NonceCommitments[],
    pkg: SignPackageMsg,
    requester: string,
  ): Promise<Uint8Array[]> {
    const shares = this.sharesOf(c, ownCommitments, pkg, requester);
    const req = { keyName: c.entry.name, requester, resolved: c.resolved };
    try {
      await this.o.policy.signed?.(req);
    } catch (e) {
      this.o.log.error('policy could not record a signature: shares withheld', { reason: errorMessage(e) });
      throw new FrostnetError(
        'INTERNAL',
        'this party could not record the signature, so it keeps its shares',
      );
    }
    return shares;
  }

  private sharesOf(
    c: Checked,
    ownCommitments: NonceCommitments[],
    pkg: SignPackageMsg,
    requester: string,
  ): Uint8Array[] {
    let shares: Uint8Array[];
    try {
      const { group } = c.share;
      const targets = c.resolved.targets;
      if (
        pkg.messages.length !== targets.length ||
        pkg.messages.some((m, i) => !equalBytes(m, targets[i].message))
      )
        throw new FrostnetError(
          'MESSAGE_MISMATCH',
          'the package signs other messages than this party checked',
        );
      if (ownCommitments.length !== targets.length)
        throw new FrostnetError(
          'COMMITMENT_MISMATCH',
          "the package names the wrong number of this party's commitments",
        );
      this.checkOwnCommitments(pkg, ownCommitments, requester);
      shares = targets.map((target, i) => {
        const commitments = pkg.signers.map((p) => {
          const w = p.commitments[i];
          if (!w) throw new FrostnetError('INVALID_INPUT', `package lacks a commitment of ${p.party}`);
          return fromWireCommitment(identifierOf(group, p.party), w);
        });
        const message = target.message;
        return signShare(
          c.share,
          this.nonces,
          { epoch: group.epoch, scheme: target.scheme, message, commitments },
          target,
        );
      });
    } finally {
      // Whatever happened, none of these nonces can be used again.
      for (const n of ownCommitments) this.nonces.discard(n);
    }
    return shares;
  }

  /**
   * The package must name exactly this session's commitments for this party: never another unused nonce of
   * this party's (one handed out to another coordinator, or committed in another session), which would then be
   * used here and be missing where it belongs.
   */
  private checkOwnCommitments(pkg: SignPackageMsg, own: NonceCommitments[], requester: string): void {
    const named = pkg.signers.filter((p) => p.party === this.o.self);
    if (named.length !== 1)
      throw new FrostnetError('COMMITMENT_MISMATCH', 'the package must name this party exactly once', [
        requester,
      ]);
    const other = named[0].commitments.find((w, i) => !own[i] || commitmentKey(w) !== commitmentKey(own[i]));
    if (named[0].commitments.length === own.length && !other) return;
    if (other && !this.isUnusedNonce(other))
      throw new FrostnetError(
        'NONCE_REUSED',
        'the package names a commitment that is not an unused nonce of this party (used already, or never made)',
        [requester],
      );
    throw new FrostnetError(
      'COMMITMENT_MISMATCH',
      "the package names other commitments of this party than this session's own (another session's or coordinator's)",
      [requester],
    );
  }

  /** Whether `c` is a commitment of this party's still waiting for its use: handed out, or in a session. */
  private isUnusedNonce(c: WireCommitment): boolean {
    const key = commitmentKey(c);
    if (this.handedOut.has(key)) return true;
    for (const s of this.sessions.values())
      if (s.commitments.some((x) => commitmentKey(x) === key)) return true;
    return false;
  }

  // ---- Network handlers ----------------------------------------------------------------------------------

  private replier(env: Envelope, from: string) {
    const reply = (round: number, payload: Uint8Array) =>
      this.o
        .send(from, answerTo(env, this.o.self, round, payload))
        .catch((e) => this.o.log.warn('reply not delivered', { to: from, reason: errorMessage(e) }));
    const refuse = (e: unknown) => {
      const err = toFrostnetError(e);
      this.o.log.warn('refused to sign', { requester: from, code: err.code, reason: err.message });
      const until = err instanceof HeldError ? err.until : undefined;
      void reply(
        ROUND.sign.refusal,
        codecs.signRefusal.encode({ code: err.code, reason: err.message, ...(until && { until }) }),
      );
    };
    return { reply, refuse };
  }

  /** A sign request from a remote coordinator opens a session that answers its package. */
  private onRequest(env: Envelope, from: string): Session | undefined {
    const { sessionId } = env;
    const { reply, refuse } = this.replier(env, from);
    const session: Session = {
      receive: (e, sender) => {
        if (sender !== from || e.round !== ROUND.sign.package) return;
        this.o.router.remove('SIGN', sessionId);
        try {
          const pkg = codecs.signPackage.decode(e.payload, { from });
          this.sign(sessionId, pkg, from).then(
            (shares) => reply(ROUND.sign.shares, codecs.signShares.encode({ shares })),
            refuse,
          );
        } catch (err) {
          refuse(err);
        }
      },
    };
    let req: SignRequestMsg;
    try {
      req = decodeSignRequest(env.payload, from);
    } catch (e) {
      refuse(e);
      return undefined;
    }
    this.commit(sessionId, req, from).then(
      (commitments) => {
        const expire = setTimeout(() => this.o.router.remove('SIGN', sessionId), this.o.sessionTtlMs);
        expire.unref?.();
        return reply(ROUND.sign.commitments, codecs.signCommitments.encode({ commitments }));
      },
      (e) => {
        this.o.router.remove('SIGN', sessionId);
        refuse(e);
      },
    );
    return session;
  }

  private onBatchRequest(env: Envelope, from: string): undefined {
    const { reply, refuse } = this.replier(env, from);
    try {
      const q = codecs.nonceBatchRequest.decode(env.payload, { from });
      const commitments = this.preprocess(q.groupKey, q.epoch, q.count, from);
      void reply(ROUND.sign.nonceBatch, codecs.nonceBatch.encode({ commitments }));
    } catch (e) {
      refuse(e);
    }
    return undefined;
  }

  private onOneRound(env: Envelope, from: string): undefined {
    const { reply, refuse } = this.replier(env, from);
    try {
      const m = decodeSignOneRound(env.payload, from);
      this.signOneRound(m.request, m.package, from).then(
        (shares) => reply(ROUND.sign.shares, codecs.signShares.encode({ shares })),
        refuse,
      );
    } catch (e) {
      refuse(e);
    }
    return undefined;
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}
