/**
 * VetoRecovery: the group's cancellation of a pending recovery of its ThresholdAccount (chains/evm/recovery.ts),
 * an EIP-712 action signed by the group key like Execute and RotateKey. Its type and decoder live here, apart
 * from the contract code, so that a signing party decodes it without loading the account's contracts.
 */
import {
  type AccountRef,
  accountTypedData,
  decodeEnvelope,
  type TypedData,
  type TypedDataField,
} from './typed-data.ts';

export const VETO_RECOVERY_TYPES = {
  VetoRecovery: [
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
} as const satisfies Record<string, readonly TypedDataField[]>;

export type VetoRecoveryFields = { readonly nonce: bigint; readonly deadline: bigint };
export type DecodedVetoRecovery = {
  readonly kind: 'VetoRecovery';
  readonly digest: Uint8Array;
  readonly account: AccountRef;
  readonly fields: VetoRecoveryFields;
};

/** Typed data of a VetoRecovery. */
export function vetoRecoveryTypedData(account: AccountRef, f: VetoRecoveryFields): TypedData<'VetoRecovery'> {
  const td = accountTypedData(account, 'VetoRecovery', VETO_RECOVERY_TYPES.VetoRecovery, {
    nonce: f.nonce.toString(),
    deadline: f.deadline.toString(),
  });
  decodeVetoRecovery(td); // the checks a signing party will run
  return td;
}

/** Validates typed data of a VetoRecovery for an account and recomputes its digest. */
export function decodeVetoRecovery(input: unknown): DecodedVetoRecovery {
  const { account, nonce, deadline, digestOf } = decodeEnvelope(input, VETO_RECOVERY_TYPES);
  const fields = { nonce, deadline };
  return { kind: 'VetoRecovery', digest: digestOf(fields), account, fields };
}
