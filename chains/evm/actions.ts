/**
 * Every EIP-712 action of a ThresholdAccount a signing party decodes: Execute and RotateKey (typed-data.ts) and
 * the group's VetoRecovery of a pending recovery (veto.ts). The typed data's primaryType picks the decoder; each
 * checks the whole of it and recomputes the digest itself.
 */
import { type DecodedAction, decodeTypedData } from './typed-data.ts';
import { type DecodedVetoRecovery, decodeVetoRecovery } from './veto.ts';

export type SignableAction = DecodedAction | DecodedVetoRecovery;

export function decodeSignableAction(input: unknown): SignableAction {
  const primaryType = (input as { primaryType?: unknown } | null)?.primaryType;
  return primaryType === 'VetoRecovery' ? decodeVetoRecovery(input) : decodeTypedData(input);
}
