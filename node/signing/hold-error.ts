/**
 * The error a party's policy gives for a request it holds (an approval, a time lock), with the time that
 * matters to the requester. Its own module, so that the policy, the signer and the coordinator share it.
 */
import { FrostnetError } from '../../protocol/errors.ts';

/** Why a party holds a request instead of signing it. */
export const HELD_CODES: ReadonlySet<string> = new Set(['APPROVAL_REQUIRED', 'TIME_LOCKED']);

/**
 * A party's policy holds the request. `until`: for a time lock, when it ends; for an approval, when the
 * request expires unless approved (ISO time).
 */
export class HeldError extends FrostnetError {
  readonly until?: string;

  constructor(
    code: 'APPROVAL_REQUIRED' | 'TIME_LOCKED',
    message: string,
    until?: string,
    culprits: readonly string[] = [],
  ) {
    super(code, message, culprits);
    this.until = until;
  }
}
