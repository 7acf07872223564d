/**
 * Epoch certificates. A DKG, refresh or reshare settles in two steps after its shares are dealt:
 * - prepare (round 3): each participant persists the outcome it computed and sends its hash, the confirmation;
 * - commit (round 4): a participant that saw every participant prepare the same confirmation, or saw another
 *   participant's commit of it, signs the confirmation with its identity key and sends the signature.
 * A party activates the outcome only once it holds every participant's signature (the certificate), and serves
 * what it holds to anyone who asks, so every honest party converges once any party has them all.
 *
 * A party that prepared but never committed may drop the outcome on its own: without its signature no
 * certificate can exist. It then signs, when asked, a renouncement: it holds nothing of that outcome and never
 * will sign it. A party that committed drops the outcome only on the renouncements of t other participants
 * (fewer than t are assumed malicious, so one of them is honest and no certificate can ever form), or at its
 * operator's explicit word. No unsigned claim moves a party from one epoch to another.
 */
import { bytesToHex, equalBytes, hexToBytes } from '../../protocol/curve.ts';
import { hashFields } from '../../protocol/transcript.ts';
import type { EpochCertificate } from '../session/messages.ts';
import type { Signatures } from '../storage/identity.ts';
import type { StoredConfirmations } from '../storage/keystore.ts';

/** What a participant signs to commit: its confirmation of one session's outcome, in a domain of its own. */
export const confirmationStatement = (sessionId: Uint8Array, confirmation: Uint8Array): Uint8Array =>
  hashFields('epoch-confirmation/v1', sessionId, confirmation);

/** What a participant signs to say it holds nothing of an outcome and never will sign it. */
export const renouncementStatement = (sessionId: Uint8Array, confirmation: Uint8Array): Uint8Array =>
  hashFields('epoch-renouncement/v1', sessionId, confirmation);

/** One ceremony's confirmation and the participants' signatures of it, as far as gathered. */
export class Confirmations {
  readonly sessionId: Uint8Array;
  readonly confirmation: Uint8Array;
  private readonly participants: readonly string[];
  private readonly signatures: Map<string, Uint8Array>;

  constructor(
    c: { sessionId: Uint8Array; confirmation: Uint8Array; signatures?: ReadonlyMap<string, Uint8Array> },
    participants: readonly string[],
  ) {
    this.sessionId = c.sessionId;
    this.confirmation = c.confirmation;
    this.participants = participants;
    this.signatures = new Map(c.signatures);
  }

  get statement(): Uint8Array {
    return confirmationStatement(this.sessionId, this.confirmation);
  }

  /** Whether `party` signed (this party: whether it committed). */
  has(party: string): boolean {
    return this.signatures.has(party);
  }

  /** Parties whose signature is still missing. */
  get missing(): string[] {
    return this.participants.filter((p) => !this.signatures.has(p));
  }

  get complete(): boolean {
    return this.missing.length === 0;
  }

  /** Records a signature already verified (this party's own, or one checked on arrival). */
  add(party: string, signature: Uint8Array): void {
    if (this.participants.includes(party)) this.signatures.set(party, signature);
  }

  /**
   * Takes from `cert` (another party's partial or complete certificate) every valid signature of this
   * confirmation by a participant not yet held. Returns how many were new.
   */
  async merge(cert: EpochCertificate | null | undefined, sigs: Signatures): Promise<number> {
    if (
      !cert ||
      !equalBytes(cert.confirmation, this.confirmation) ||
      !equalBytes(cert.sessionId, this.sessionId)
    )
      return 0;
    let added = 0;
    for (const { party, signature } of cert.signatures ?? []) {
      if (this.signatures.has(party) || !this.participants.includes(party)) continue;
      if (!(await sigs.verify(party, this.statement, signature))) continue;
      this.signatures.set(party, signature);
      added++;
    }
    return added;
  }

  /** Whether `cert` is about the same session and outcome. */
  matches(cert: EpochCertificate | null | undefined): cert is EpochCertificate {
    return (
      !!cert && equalBytes(cert.confirmation, this.confirmation) && equalBytes(cert.sessionId, this.sessionId)
    );
  }

  /** As the wire carries it; `only` limits the signatures to those parties'. */
  toWire(only?: readonly string[]): EpochCertificate {
    return {
      sessionId: this.sessionId,
      confirmation: this.confirmation,
      signatures: [...this.signatures]
        .filter(([party]) => !only || only.includes(party))
        .map(([party, signature]) => ({ party, signature })),
    };
  }

  toJSON(): StoredConfirmations {
    return {
      sessionId: bytesToHex(this.sessionId),
      confirmation: bytesToHex(this.confirmation),
      signatures: Object.fromEntries([...this.signatures].map(([p, s]) => [p, bytesToHex(s)])),
    };
  }

  static fromJSON(j: StoredConfirmations, participants: readonly string[]): Confirmations {
    return new Confirmations(
      {
        sessionId: hexToBytes(j.sessionId),
        confirmation: hexToBytes(j.confirmation),
        signatures: new Map(Object.entries(j.signatures).map(([p, s]) => [p, hexToBytes(s)])),
      },
      participants,
    );
  }
}
