/**
 * The web console's logins: a one-time link, asked for with a scoped token (`frostnet ui`), opens one browser
 * session bound to that token's scope. The session id travels in an HttpOnly, SameSite=Strict cookie; every
 * state-changing request also carries the session's CSRF token in a header that only a page of the console can
 * read (the console's origin answers no cross-origin read). Kept in memory: a daemon restart logs everyone out.
 *
 * Randomness and the clock are injected, so that tests can expire links and sessions without waiting.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TokenScope } from '../api/credentials.ts';

/** How long a login link may wait for its click. */
export const LINK_TTL_MS = 5 * 60_000;
/** A session ends this long after its login, however busy. */
export const SESSION_TTL_MS = 12 * 3_600_000;
/** Links and sessions at most; past this the oldest go first. */
export const MAX_LINKS = 32;
export const MAX_SESSIONS = 64;

/** The scopes a console session may have: the metrics token reads nothing the console shows. */
export type SessionScope = Exclude<TokenScope, 'metrics'>;

export type Session = {
  readonly scope: SessionScope;
  /** Sent by the console's pages in the X-Frostnet-CSRF header of each POST. */
  readonly csrf: string;
  readonly createdAt: number;
  readonly expiresAt: number;
};

export type SessionOptions = {
  clock?: () => number;
  random?: (bytes: number) => Uint8Array;
};

const hash = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Equal strings, in time independent of where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(hash(a), 'hex');
  const y = Buffer.from(hash(b), 'hex');
  return timingSafeEqual(x, y);
}

export class ConsoleSessions {
  private readonly clock: () => number;
  private readonly random: (bytes: number) => Uint8Array;
  /** By the hash of the link's code: a stolen memory dump holds no usable code. */
  private readonly links = new Map<string, { scope: SessionScope; expiresAt: number }>();
  /** By the hash of the session id. */
  private readonly sessions = new Map<string, Session>();

  constructor(o: SessionOptions = {}) {
    this.clock = o.clock ?? Date.now;
    this.random = o.random ?? ((n) => randomBytes(n));
  }

  private secret(): string {
    return Buffer.from(this.random(32)).toString('base64url');
  }

  /** A one-time login code for a session of `scope`, valid for LINK_TTL_MS. */
  issueLink(scope: SessionScope): { code: string; expiresAt: number } {
    this.sweep();
    const code = this.secret();
    const expiresAt = this.clock() + LINK_TTL_MS;
    this.links.set(hash(code), { scope, expiresAt });
    trim(this.links, MAX_LINKS);
    return { code, expiresAt };
  }

  /** Spends a login code: the new session's id and the session, or undefined for an unknown, used or late code. */
  redeem(code: string): { id: string; session: Session } | undefined {
    this.sweep();
    const key = hash(code);
    const link = this.links.get(key);
    this.links.delete(key);
    if (!link) return undefined;
    const now = this.clock();
    const id = this.secret();
    const session: Session = {
      scope: link.scope,
      csrf: this.secret(),
      createdAt: now,
      expiresAt: now + SESSION_TTL_MS,
    };
    this.sessions.set(hash(id), session);
    trim(this.sessions, MAX_SESSIONS);
    return { id, session };
  }

  /** The live session a cookie's id names. */
  session(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(hash(id));
    if (!s) return undefined;
    if (this.clock() >= s.expiresAt) {
      this.sessions.delete(hash(id));
      return undefined;
    }
    return s;
  }

  logout(id: string | undefined): void {
    if (id) this.sessions.delete(hash(id));
  }

  private sweep(): void {
    const now = this.clock();
    for (const [k, l] of this.links) if (now >= l.expiresAt) this.links.delete(k);
    for (const [k, s] of this.sessions) if (now >= s.expiresAt) this.sessions.delete(k);
  }
}

/** Drops the oldest entries of `m` (in insertion order) beyond `max`. */
function trim<K, V>(m: Map<K, V>, max: number): void {
  for (const k of m.keys()) {
    if (m.size <= max) return;
    m.delete(k);
  }
}
