/**
 * What a signing request asks for, worked out by each party from the request itself: the messages to sign and
 * the key (as tweak steps from the group key) each must verify under. A party never takes a hash or a tweak
 * from the coordinator: it decodes the PSBT or the EIP-712 data and derives the keys on its own.
 */
import type { NetworkName } from '../../chains/bitcoin/network-names.ts';
import type { PsbtSummary } from '../../chains/bitcoin/psbt.ts';
import type { RecoveryPolicy, RecoveryPolicyJson } from '../../chains/bitcoin/recovery.ts';
import {
  assertInDomain,
  type Domain,
  DRILL_PATH,
  drillMessage,
  rawMessagePath,
} from '../../chains/domains.ts';
import type { SignableAction } from '../../chains/evm/actions.ts';
import { evmKey, evmKeyPath } from '../../chains/evm/keys.ts';
import { bytesToHex, equalBytes, xOnly } from '../../protocol/curve.ts';
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
  /** `path` below the raw-message branch, as the requester gave it. */
  | { kind: 'raw'; targets: SigningTarget[]; path: number[]; taproot: boolean }
  /** `challenge` as asked; the target's message is drillMessage(challenge). */
  | { kind: 'drill'; targets: SigningTarget[]; challenge: Uint8Array }
  | { kind: 'psbt'; targets: SigningTarget[]; inputs: number[]; network: string; summary: PsbtSummary }
  /** `accountKey`: the x-only key the account verifies now (what a RotateKey replaces). */
  | {
      kind: 'typedData';
      targets: SigningTarget[];
      account: number;
      accountKey: Uint8Array;
      action: SignableAction;
    }
  | { kind: 'proposal'; targets: SigningTarget[]; proposal: CustodyProposal; group: KeyGroup };

/**
 * The signing domain of each kind of request (chains/domains.ts): a kind added here must name one, and every
 * key a request of that kind signs under is checked to lie in it.
 */
export const DOMAIN_OF: Readonly<Record<ResolvedRequest['kind'], Domain>> = {
  raw: 'raw',
  drill: 'drill',
  psbt: 'bitcoin',
  typedData: 'evm',
  proposal: 'proposal',
};

/**
 * A key as a request is resolved against: its public group, and the properties its members agreed on (a key
 * made before the network was stored has none; a key without a recovery policy has none).
 */
export type SigningKey = {
  readonly group: KeyGroup;
  readonly network?: NetworkName;
  /** The key's own recovery policy: every PSBT input of the key is signed for exactly its tree. */
  readonly recovery?: RecoveryPolicyJson;
};

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
  ...(await import('../../chains/bitcoin/recovery.ts')),
}));

/** Each stored policy parsed once (an entry's policy object lives as long as the entry). */
const parsedPolicies = new WeakMap<RecoveryPolicyJson, RecoveryPolicy>();
async function policyOf(json: RecoveryPolicyJson): Promise<RecoveryPolicy> {
  const known = parsedPolicies.get(json);
  if (known) return known;
  const policy = (await bitcoin()).parseRecoveryPolicy(json);
  parsedPolicies.set(json, policy);
  return policy;
}
const typedData = lazy(() => import('../../chains/evm/actions.ts'));

/**
 * The messages and keys of a request, as this party decodes it against `key`. `nowMs`: the party's clock,
 * against which a custody proposal's expiry is checked.
 */
export async function resolveRequest(
  key: SigningKey,
  scheme: Scheme,
  payload: SignPayload,
  nowMs: number,
): Promise<ResolvedRequest> {
  const { resolved, paths } = await decode(key, scheme, payload, nowMs);
  const what = `a ${resolved.kind} request`;
  for (const path of paths) assertInDomain(DOMAIN_OF[resolved.kind], path, what);
  return resolved;
}

/** The request and the derivation path of each of its targets' keys (before any Taproot tweak). */
async function decode(
  key: SigningKey,
  scheme: Scheme,
  payload: SignPayload,
  nowMs: number,
): Promise<{ resolved: ResolvedRequest; paths: (readonly number[])[] }> {
  const { group } = key;
  if ('raw' in payload) {
    const { message, path, taproot } = payload.raw;
    checkMessage(message);
    if (taproot && scheme !== 'bip340')
      throw new FrostnetError('INVALID_INPUT', 'Taproot keys sign with bip340');
    const full = rawMessagePath(path);
    const derived = derivePath(rootOf(group), full);
    const steps = taproot ? [...derived.steps, taprootStep(derived.key)] : [...derived.steps];
    return {
      resolved: { kind: 'raw', targets: [{ scheme, message, steps }], path: [...path], taproot },
      paths: [full],
    };
  }
  if ('drill' in payload) {
    const { challenge } = payload.drill;
    checkMessage(challenge);
    const { steps } = derivePath(rootOf(group), DRILL_PATH);
    return {
      resolved: {
        kind: 'drill',
        targets: [{ scheme, message: drillMessage(challenge), steps: [...steps] }],
        challenge,
      },
      paths: [DRILL_PATH],
    };
  }
  if (scheme !== 'bip340')
    throw new FrostnetError('INVALID_INPUT', 'PSBT, EIP-712 and custody proposal requests sign with bip340');
  if ('proposal' in payload) {
    // The untweaked group key signs custody proposals and nothing else; their digest has a tag of its own.
    const proposal = payload.proposal.proposal;
    checkProposal(proposal, group, Math.floor(nowMs / 1000));
    return {
      resolved: {
        kind: 'proposal',
        targets: [{ scheme, message: proposalDigest(proposal), steps: [] }],
        proposal,
        group,
      },
      paths: [[]],
    };
  }
  if ('psbt' in payload) {
    const { parseNetwork, planPsbtSigning } = await bitcoin();
    const asked = parseNetwork(payload.psbt.network);
    // The network is the key's, agreed at keygen: the coordinator's label cannot change how outputs are read
    // (and opens no second daily counter: there is one per key). A key from before then reads the label.
    if (key.network !== undefined && asked !== key.network)
      throw new FrostnetError(
        'POLICY_DENIED',
        `the request is for a ${asked} PSBT, but this key is a ${key.network} key`,
      );
    const network = key.network ?? asked;
    // The tree every input's output key commits to is the key's own policy's, never one the PSBT names.
    const recovery = key.recovery && (await policyOf(key.recovery));
    const plan = planPsbtSigning(payload.psbt.psbt, {
      root: rootOf(group),
      network,
      ...(recovery && { recovery }),
    });
    if (plan.inputs.length === 0)
      throw new FrostnetError('INVALID_INPUT', 'the PSBT has no input of this key to sign');
    if (plan.inputs.length > MAX_TARGETS)
      throw new FrostnetError('INVALID_INPUT', `at most ${MAX_TARGETS} inputs per request`);
    return {
      resolved: {
        kind: 'psbt',
        targets: plan.inputs.map((i) => ({ scheme, message: i.sighash, steps: i.steps })),
        inputs: plan.inputs.map((i) => i.index),
        network,
        summary: plan.summary,
      },
      paths: plan.inputs.map((i) => i.path),
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
  const action = (await typedData()).decodeSignableAction(parsed);
  const evm = evmKey(rootOf(group), account);
  if (action.kind === 'RotateKey') refuseOwnKey(group, action.fields.newKey);
  return {
    resolved: {
      kind: 'typedData',
      targets: [{ scheme, message: action.digest, steps: evm.steps }],
      account,
      accountKey: evm.px,
      action,
    },
    paths: [evmKeyPath(account)],
  };
}

/**
 * A rotation to a key of this group's other domains (the group key, the drill key, the raw-message branch) would
 * let requests of those kinds act for the account: refused, whatever the policy says.
 */
function refuseOwnKey(group: KeyGroup, newKey: Uint8Array): void {
  const root = rootOf(group);
  for (const [what, path] of [
    ['the group key (custody proposals)', []],
    ['the drill key', DRILL_PATH],
    ['the raw-message key', rawMessagePath([])],
  ] as const)
    if (equalBytes(xOnly(derivePath(root, path).key), newKey))
      throw new FrostnetError(
        'POLICY_DENIED',
        `RotateKey would hand the account to ${what} of this very group, which signs other requests`,
      );
}

function checkMessage(message: unknown): asserts message is Uint8Array {
  if (!(message instanceof Uint8Array) || message.length > MAX_MESSAGE_BYTES)
    throw new FrostnetError('INVALID_INPUT', `a message is at most ${MAX_MESSAGE_BYTES} bytes`);
}

/** A short, stable description of what is signed, for logs and audit (no secrets in a request anyway). */
export function describeRequest(r: ResolvedRequest): string {
  if (r.kind === 'raw') return `message ${bytesToHex(r.targets[0].message).slice(0, 64)}`;
  if (r.kind === 'drill') return 'recovery drill';
  if (r.kind === 'psbt') return `PSBT inputs ${r.inputs.join(',')} on ${r.network}`;
  if (r.kind === 'proposal') return `custody proposal: ${r.proposal.kind} of ${r.proposal.keyName}`;
  return `EIP-712 ${r.action.kind} on chain ${r.action.account.chainId} for ${r.action.account.address}`;
}
