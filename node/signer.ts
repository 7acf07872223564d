/**
 * The party side of signing. A request is decoded and checked (key, epoch, what is signed, this party's
 * policy) before any nonce exists; then one fresh nonce per message is committed to and kept in memory only.
 * The package is signed only if every message is the one this party worked out itself and its own commitments
 * are in it unchanged; the nonces are used up either way. A restart forgets every nonce, so nothing can make
 * this party sign twice with one.
 */
import type { NonceCommitments } from '@noble/curves/abstract/frost.js';
import { bytesToHex, equalBytes } from '../protocol/curve.ts';
import { FrostnetError, isFrostnetError } from '../protocol/errors.ts';
import { identifierOf, type KeyShare } from '../protocol/keys.ts';
import { NonceStore, parseScheme, signShare } from '../protocol/sign.ts';
import type { KeyStore } from './keystore.ts';
import type { Logger } from './log.ts';
import {
  codecs,
  decodeSignRequest,
  fromWireCommitment,
  ROUND,
  type SignPackageMsg,
  type SignRequestMsg,
  toWireCommitment,
  type WireCommitment,
} from './messages.ts';
import type { Router, Session } from './router.ts';
import type { Send } from './rpc.ts';
import { describeRequest, type ResolvedRequest, resolveRequest } from './targets.ts';
import type { Envelope } from './wire.ts';

/** What a party's policy sees: the request as this party decoded it, never a coordinator's summary. */
export type PolicyRequest = { keyName: string; requester: string; resolved: ResolvedRequest };

/** A party's own rules. */
export interface Policy {
  /** Runs before any nonce exists; throws (POLICY_DENIED, or a hold awaiting approval) to refuse. */
  check(req: PolicyRequest): Promise<void> | void;
  /** Told once this party has released its signature shares for the request (for rolling limits, audit). */
  signed?(req: PolicyRequest): Promise<void> | void;
}

export const allowAll: Policy = { check: () => {} };

export type SignerOptions = {
  self: string;
  keys: KeyStore;
  router: Router;
  send: Send;
  policy: Policy;
  /** How long committed nonces wait for their package. */
  sessionTtlMs: number;
  maxSessionsPerPeer: number;
  log: Logger;
  /** Told when a request names a newer epoch than the active one (a pending epoch may need settling). */
  onEpochBehind?: (keyName: string) => void;
};

type Committed = {
  keyName: string;
  share: KeyShare;
  resolved: ResolvedRequest;
  commitments: NonceCommitments[];
  requester: string;
  timer: NodeJS.Timeout;
};

export class Signer {
  private readonly o: SignerOptions;
  private readonly nonces = new NonceStore();
  private readonly sessions = new Map<string, Committed>();
  private readonly perPeer = new Map<string, number>();

  constructor(o: SignerOptions) {
    this.o = o;
    o.router.onOpen('SIGN', ROUND.signRequest, (env, from) => this.onRequest(env, from));
  }

  get pendingNonces(): number {
    return this.nonces.size;
  }

  /**
   * Round 1: checks the request and commits to one nonce per message. `requester` is whoever coordinates; the
   * local coordinator calls this directly for its own share.
   */
  async commit(sessionId: Uint8Array, req: SignRequestMsg, requester: string): Promise<WireCommitment[]> {
    const id = bytesToHex(sessionId);
    if (this.sessions.has(id)) throw new FrostnetError('CONFLICT', 'session already committed');
    const count = this.perPeer.get(requester) ?? 0;
    if (count >= this.o.maxSessionsPerPeer)
      throw new FrostnetError('CONFLICT', `too many open signing sessions from ${requester}`, [requester]);
    const scheme = parseScheme(req.scheme);
    const entry = this.o.keys.byGroupKey(bytesToHex(req.groupKey));
    const share = entry?.active;
    if (!entry || !share) throw new FrostnetError('UNKNOWN_KEY', 'this party holds no such key');
    if (!share.group.members.includes(requester) && requester !== this.o.self)
      throw new FrostnetError('UNAUTHORIZED', `${requester} is not a member of key ${entry.name}`, [
        requester,
      ]);
    if (req.epoch !== share.group.epoch) {
      if (req.epoch > share.group.epoch) this.o.onEpochBehind?.(entry.name);
      throw new FrostnetError(
        'EPOCH_MISMATCH',
        `request is for epoch ${req.epoch}, this party is on ${share.group.epoch}`,
      );
    }
    const resolved = resolveRequest(share.group, scheme, req.payload);
    await this.o.policy.check({ keyName: entry.name, requester, resolved });
    if (this.sessions.has(id)) throw new FrostnetError('CONFLICT', 'session already committed');
    const commitments = resolved.targets.map(() => this.nonces.commit(share));
    const timer = setTimeout(() => this.forget(id), this.o.sessionTtlMs);
    timer.unref?.();
    this.sessions.set(id, { keyName: entry.name, share, resolved, commitments, requester, timer });
    this.perPeer.set(requester, count + 1);
    this.o.log.info('committed', { key: entry.name, requester, what: describeRequest(resolved) });
    return commitments.map(toWireCommitment);
  }

  /** Round 2: signs every message of the package, or throws without releasing anything. */
  sign(sessionId: Uint8Array, pkg: SignPackageMsg, requester: string): Uint8Array[] {
    const id = bytesToHex(sessionId);
    const s = this.sessions.get(id);
    if (!s || s.requester !== requester)
      throw new FrostnetError(
        'NONCE_REUSED',
        'no open signing session for this package (already used or expired)',
      );
    this.forget(id, false);
    let shares: Uint8Array[];
    try {
      const { group } = s.share;
      const targets = s.resolved.targets;
      if (
        pkg.messages.length !== targets.length ||
        pkg.messages.some((m, i) => !equalBytes(m, targets[i].message))
      )
        throw new FrostnetError(
          'MESSAGE_MISMATCH',
          'the package signs other messages than this party checked',
        );
      shares = targets.map((target, i) => {
        const commitments = pkg.signers.map((p) => {
          const c = p.commitments[i];
          if (!c) throw new FrostnetError('INVALID_INPUT', `package lacks a commitment of ${p.party}`);
          return fromWireCommitment(identifierOf(group, p.party), c);
        });
        return signShare(
          s.share,
          this.nonces,
          { epoch: group.epoch, scheme: target.scheme, message: target.message, commitments },
          target,
        );
      });
    } finally {
      // Whatever happened, none of this session's nonces can be used again.
      for (const c of s.commitments) this.nonces.discard(c);
    }
    const req = { keyName: s.keyName, requester: s.requester, resolved: s.resolved };
    void Promise.resolve(this.o.policy.signed?.(req)).catch((e) =>
      this.o.log.error('policy could not record a signature', { reason: (e as Error).message }),
    );
    return shares;
  }

  private forget(id: string, discard = true): void {
    const s = this.sessions.get(id);
    if (!s) return;
    clearTimeout(s.timer);
    this.sessions.delete(id);
    const left = (this.perPeer.get(s.requester) ?? 1) - 1;
    if (left > 0) this.perPeer.set(s.requester, left);
    else this.perPeer.delete(s.requester);
    if (discard) for (const c of s.commitments) this.nonces.discard(c);
  }

  /** A sign request from a remote coordinator opens a session that answers its package. */
  private onRequest(env: Envelope, from: string): Session | undefined {
    const sessionId = env.sessionId;
    const reply = (round: number, payload: Uint8Array) =>
      this.o
        .send(from, { version: 1, sessionId, ceremony: 'SIGN', round, sender: this.o.self, payload })
        .catch((e) => this.o.log.warn('reply not delivered', { to: from, reason: (e as Error).message }));
    const refuse = (e: unknown) => {
      const err = isFrostnetError(e) ? e : new FrostnetError('INTERNAL', (e as Error).message);
      this.o.log.warn('refused to sign', { requester: from, code: err.code, reason: err.message });
      void reply(ROUND.signRefusal, codecs.signRefusal.encode({ code: err.code, reason: err.message }));
    };
    const session: Session = {
      receive: (e, sender) => {
        if (sender !== from || e.round !== ROUND.signPackage) return;
        this.o.router.remove('SIGN', sessionId);
        try {
          const pkg = codecs.signPackage.decode(e.payload, { from });
          void reply(ROUND.signShares, codecs.signShares.encode({ shares: this.sign(sessionId, pkg, from) }));
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
        return reply(ROUND.signCommitments, codecs.signCommitments.encode({ commitments }));
      },
      (e) => {
        this.o.router.remove('SIGN', sessionId);
        refuse(e);
      },
    );
    return session;
  }
}
