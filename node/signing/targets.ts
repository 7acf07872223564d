/**
 * What a signing request asks for, worked out by each party from the request itself: the messages to sign and
 * the key (as tweak steps from the group key) each must verify under. A party never takes a hash or a tweak
 * from the coordinator: it decodes the PSBT or the EIP-712 data and derives the keys on its own.
 */
import type { PsbtSummary } from '../../chains/bitcoin/psbt.ts';
import { EVM_BRANCH, evmKey } from '../../chains/evm/keys.ts';
import type { DecodedAction } from '../../chains/evm/typed-data.ts';
import { bytesToHex } from '../../protocol/curve.ts';
import { derivePath } from '../../protocol/derive.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { groupKey, type KeyGroup } from '../../protocol/keys.ts';
import { type CustodyProposal, checkProposal, proposalDigest } from '../../protocol/proposal.ts';
import { MAX_MESSAGE_BYTES, type Scheme, type SigningTarget } from '../../protocol/sign.ts';
import { taprootStep } from '../../protocol/tweak.ts';
import type { SignPayload } from '../session/messages.ts';

/** At most this many messages (PSBT inputs) in one request. */
export const MAX_TARGETS = 256;
const MAX_TYPED_DATA_CHARS = 256 * 1024;

export type ResolvedRequest =
  | { kind: 'raw'; targets: SigningTarget[]; path: number[]; taproot: boolean }
  | { kind: 'psbt'; targets: SigningTarget[]; inputs: number[]; network: string; summary: PsbtSummary }
  | { kind: 'typedData'; targets: SigningTarget[]; account: number; action: DecodedAction }
  | { kind: 'proposal'; targets: SigningTarget[]; proposal: CustodyProposal; group: KeyGroup };

const rootOf = (g: KeyGroup) => ({ key: groupKey(g), chainCode: g.chainCode });

/** A module imported on first use only, once. */
const lazy = <T>(load: () => Promise<T>): (() => Promise<T>) => {
  let loaded: Promise<T> | undefined;
  return () => (loaded ??= load());
};

// The chain decoders (bitcoinjs-lib, ethers) load with the first request that needs them: a party that signs
// raw messages only never holds them.
const bitcoin = lazy(async () => ({
  ...(await import('../../chains/bitcoin/network.ts')),
  ...(await import('../../chains/bitcoin/psbt.ts')),
}));
const typedData = lazy(() => import('../../chains/evm/typed-data.ts'));

/** `nowMs`: the party's clock, against which a custody proposal's expiry is checked. */
export async function resolveRequest(
  group: KeyGroup,
  scheme: Scheme,
  payload: SignPayload,
  nowMs: number = Date.now(),
): Promise<ResolvedRequest> {
  if ('raw' in payload) {
    const { message, path, taproot } = payload.raw;
    if (!(message instanceof Uint8Array) || message.length > MAX_MESSAGE_BYTES)
      throw new FrostnetError('INVALID_INPUT', `a message is at most ${MAX_MESSAGE_BYTES} bytes`);
    if (taproot && scheme !== 'bip340')
      throw new FrostnetError('INVALID_INPUT', 'Taproot keys sign with bip340');
    // An EVM account accepts what its key signs: that key signs decoded EIP-712 data only, never a bare hash.
    if (path[0] === EVM_BRANCH)
      throw new FrostnetError(
        'POLICY_DENIED',
        'EVM account keys sign EIP-712 typed data only, not raw messages',
      );
    const derived = derivePath(rootOf(group), path);
    const steps = taproot ? [...derived.steps, taprootStep(derived.key)] : [...derived.steps];
    return { kind: 'raw', targets: [{ scheme, message, steps }], path: [...path], taproot };
  }
  if (scheme !== 'bip340')
    throw new FrostnetError('INVALID_INPUT', 'PSBT, EIP-712 and custody proposal requests sign with bip340');
  if ('proposal' in payload) {
    // The untweaked group key signs custody proposals and nothing else; their digest has a tag of its own.
    const proposal = payload.proposal.proposal;
    checkProposal(proposal, group, Math.floor(nowMs / 1000));
    return {
      kind: 'proposal',
      targets: [{ scheme, message: proposalDigest(proposal), steps: [] }],
      proposal,
      group,
    };
  }
  if ('psbt' in payload) {
    const { parseNetwork, planPsbtSigning } = await bitcoin();
    const network = parseNetwork(payload.psbt.network);
    const plan = planPsbtSigning(payload.psbt.psbt, { root: rootOf(group), network });
    if (plan.inputs.length === 0)
      throw new FrostnetError('INVALID_INPUT', 'the PSBT has no input of this key to sign');
    if (plan.inputs.length > MAX_TARGETS)
      throw new FrostnetError('INVALID_INPUT', `at most ${MAX_TARGETS} inputs per request`);
    return {
      kind: 'psbt',
      targets: plan.inputs.map((i) => ({ scheme, message: i.sighash, steps: i.steps })),
      inputs: plan.inputs.map((i) => i.index),
      network,
      summary: plan.summary,
    };
  }
  const { json, account } = payload.typedData;
  if (typeof json !== 'string' || json.length > MAX_TYPED_DATA_CHARS)
    throw new FrostnetError('INVALID_INPUT', 'typed data must be JSON text of at most 256 KiB');
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new FrostnetError('INVALID_INPUT', 'typed data is not valid JSON');
  }
  const action = (await typedData()).decodeTypedData(parsed);
  const key = evmKey(rootOf(group), account);
  return {
    kind: 'typedData',
    targets: [{ scheme, message: action.digest, steps: key.steps }],
    account,
    action,
  };
}

/** A short, stable description of what is signed, for logs and audit (no secrets in a request anyway). */
export function describeRequest(r: ResolvedRequest): string {
  if (r.kind === 'raw') return `message ${bytesToHex(r.targets[0].message).slice(0, 64)}`;
  if (r.kind === 'psbt') return `PSBT inputs ${r.inputs.join(',')} on ${r.network}`;
  if (r.kind === 'proposal') return `custody proposal: ${r.proposal.kind} of ${r.proposal.keyName}`;
  return `EIP-712 ${r.action.kind} on chain ${r.action.account.chainId} for ${r.action.account.address}`;
}
