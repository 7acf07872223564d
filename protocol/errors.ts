/**
 * Typed errors. Every failure a caller can act on carries a stable code, a sentence a person can act on,
 * and the parties to blame where there are any.
 */

/** Every error code, for checking one that came over the wire (remoteCode in node/session/kernel.ts). */
export const ERROR_CODES = [
  // Input that does not parse or fails validation (lengths, ranges, points, encodings).
  'INVALID_INPUT',
  // A message that belongs to another session, ceremony, round or key.
  'WRONG_CONTEXT',
  // A sender that is not a member of the ceremony, or that sent the same round twice with different content.
  'UNEXPECTED_SENDER',
  'DUPLICATE_MESSAGE',
  // DKG / refresh / reshare blame.
  'INVALID_COMMITMENT',
  'INVALID_PROOF',
  'INVALID_SHARE',
  'EQUIVOCATION',
  'CONFIRMATION_MISMATCH',
  'KEY_CHANGED',
  // Signing.
  'COMMITMENT_MISMATCH',
  'MESSAGE_MISMATCH',
  'NONCE_REUSED',
  'EPOCH_MISMATCH',
  'INVALID_SIGNATURE_SHARE',
  'INVALID_SIGNATURE',
  'NOT_ENOUGH_SIGNERS',
  'POLICY_DENIED',
  // A party's policy holds the request until its operator approves it, or until its time lock has passed.
  'APPROVAL_REQUIRED',
  'TIME_LOCKED',
  // Node-level.
  'UNKNOWN_KEY',
  'UNREACHABLE',
  'TIMEOUT',
  'WRONG_PASSPHRASE',
  'STORE_CORRUPT',
  'UNAUTHORIZED',
  'BAD_REQUEST',
  'CONFLICT',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class FrostnetError extends Error {
  readonly code: ErrorCode;
  /** Parties (peer ids) held responsible, empty when nobody is to blame. */
  readonly culprits: readonly string[];

  constructor(code: ErrorCode, message: string, culprits: readonly string[] = []) {
    super(message);
    this.name = 'FrostnetError';
    this.code = code;
    this.culprits = [...culprits];
  }

  toJSON(): { code: ErrorCode; message: string; culprits: string[] } {
    return { code: this.code, message: this.message, culprits: [...this.culprits] };
  }
}

export const isFrostnetError = (e: unknown): e is FrostnetError => e instanceof FrostnetError;

/**
 * Runs `fn` on input from `culprits`; any exception that does not already blame someone (a library parser's, or
 * a validation error of ours) becomes `code` blaming them.
 */
export function blameOnThrow<T>(code: ErrorCode, what: string, culprits: readonly string[], fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FrostnetError && e.culprits.length > 0) throw e;
    throw new FrostnetError(code, `${what}: ${errorMessage(e)}`, culprits);
  }
}

/** The message of anything thrown: an Error's message, else the value as text. */
export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A FrostnetError as it is, anything else thrown as a typed error: `code` (INTERNAL unless said), its message
 * after `context` when given, blaming `culprits`.
 */
export function toFrostnetError(
  e: unknown,
  o: { code?: ErrorCode; context?: string; culprits?: readonly string[] } = {},
): FrostnetError {
  if (isFrostnetError(e)) return e;
  const message = o.context === undefined ? errorMessage(e) : `${o.context}: ${errorMessage(e)}`;
  return new FrostnetError(o.code ?? 'INTERNAL', message, o.culprits);
}
