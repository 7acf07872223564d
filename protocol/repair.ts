/**
 * Share repair: the repairable threshold scheme (RTS, eprint 2017/1155) as in ZF frost's `keys::repairable`.
 * A party that lost its share gets the share for its old identifier back from t helpers, and no helper learns it.
 *
 * Helper i's part of the lost share is λ_i·s_i, with λ_i its Lagrange coefficient for interpolating at the lost
 * party's identifier over the helper set. Step 1: helper i splits λ_i·s_i into one random delta per helper and
 * sends each its delta privately. Step 2: helper j sums the deltas it received into sigma_j and sends it privately
 * to the lost party. Step 3: the lost party sums the sigmas: Σ_j sigma_j = Σ_i λ_i·s_i = its share.
 *
 * Only the sum of a helper's deltas depends on its share, so no single delta or sigma reveals a share, and the
 * lost party sees only sigmas, each masked by deltas it never sees. Without commitments to the deltas a wrong
 * value cannot be traced to its sender: step 3 checks the result against the lost party's verifying share and
 * rejects it without naming anyone; a retry with other helpers is the remedy.
 *
 * Pure functions: the caller delivers the values, over authenticated and encrypted channels.
 */
import type { RNG } from '@noble/curves/abstract/frost.js';
import { randomBytes } from '@noble/curves/utils.js';
import { type Bytes, Fn, parseScalar, randomScalar, scalarToBytes } from './curve.ts';
import { mulBase } from './ecc.ts';
import { blameOnThrow, FrostnetError } from './errors.ts';
import { identifierOf, identifierScalar, type KeyGroup, type KeyShare, type PartyId } from './keys.ts';
import { checkGroupConsistency, verifyingShareOf } from './reshare.ts';
import { lagrangeCoefficient } from './vss.ts';

/** Who lost a share, and who helps: at least t other members, the same ordered list at every helper. */
export type RepairPlan = { readonly lost: PartyId; readonly helpers: readonly PartyId[] };

/** Scalars keyed by the helper they go to (step 1) or came from (steps 2 and 3), 32 bytes each. */
export type RepairValues = ReadonlyMap<PartyId, Uint8Array>;

function checkPlan(group: KeyGroup, { lost, helpers }: RepairPlan): void {
  if (!Array.isArray(helpers) || new Set(helpers).size !== helpers.length)
    throw new FrostnetError('INVALID_INPUT', 'repair helpers must be a list without repeats');
  const outsiders = [lost, ...helpers].filter((p) => !group.members.includes(p));
  if (outsiders.length)
    throw new FrostnetError('INVALID_INPUT', `${outsiders.join(', ')}: not a member of this key group`);
  if (helpers.includes(lost))
    throw new FrostnetError('INVALID_INPUT', `${lost} cannot help repair its own share`);
  if (helpers.length < group.threshold)
    throw new FrostnetError(
      'INVALID_INPUT',
      `a repair needs at least ${group.threshold} helpers, got ${helpers.length}`,
    );
}

/** Σ of one scalar from each of `from`, mod n. A malformed value names its sender; a missing one is misuse. */
function sumFrom(from: readonly PartyId[], values: RepairValues, what: string): bigint {
  const strangers = [...values.keys()].filter((p) => !from.includes(p));
  if (strangers.length)
    throw new FrostnetError(
      'UNEXPECTED_SENDER',
      `${strangers.join(', ')} sent a ${what} but is no helper`,
      strangers,
    );
  const missing = from.filter((p) => !values.has(p));
  if (missing.length) throw new FrostnetError('INVALID_INPUT', `no ${what} yet from ${missing.join(', ')}`);
  let sum = 0n;
  for (const p of from)
    sum = Fn.add(
      sum,
      blameOnThrow('INVALID_SHARE', `${what} from ${p}`, [p], () => parseScalar(values.get(p)!, what)),
    );
  return sum;
}

/**
 * Step 1, at helper `self`: splits λ_self·s_self into one delta per helper (its own included), to be sent
 * privately. Every delta that leaves is fresh randomness from `rng` (crypto randomness; a test may seed it), one
 * draw per other helper in plan order; the one fixed by the share is the one `self` keeps.
 */
export function repairStep1(
  share: KeyShare,
  self: PartyId,
  plan: RepairPlan,
  rng: RNG = randomBytes,
): Map<PartyId, Bytes> {
  const group = share.group;
  checkPlan(group, plan);
  if (!plan.helpers.includes(self)) throw new FrostnetError('INVALID_INPUT', `${self} is not a helper`);
  if (share.secret.identifier !== identifierOf(group, self))
    throw new FrostnetError('INVALID_INPUT', 'the key share does not belong to this party');
  const xs = plan.helpers.map((h) => identifierScalar(identifierOf(group, h)));
  const lambda = lagrangeCoefficient(
    xs,
    identifierScalar(share.secret.identifier),
    identifierScalar(identifierOf(group, plan.lost)),
  );
  let kept = Fn.mul(lambda, Fn.fromBytes(share.secret.signingShare));
  const deltas = new Map<PartyId, Bytes>();
  for (const h of plan.helpers) {
    if (h === self) continue;
    const delta = randomScalar(rng);
    kept = Fn.sub(kept, delta);
    deltas.set(h, scalarToBytes(delta));
  }
  deltas.set(self, scalarToBytes(kept));
  return deltas;
}

/** Step 2, at each helper: sigma = the sum of the deltas it got from every helper (its own included). */
export function repairStep2(helpers: readonly PartyId[], deltas: RepairValues): Bytes {
  return scalarToBytes(sumFrom(helpers, deltas, 'repair delta'));
}

/**
 * Step 3, at the party that lost its share: the sum of the helpers' sigmas, accepted only if it matches the
 * party's verifying share in `group` (whose consistency is checked first). Returns its share for `group`.
 */
export function repairStep3(group: KeyGroup, plan: RepairPlan, sigmas: RepairValues): KeyShare {
  checkPlan(group, plan);
  checkGroupConsistency(group);
  const share = sumFrom(plan.helpers, sigmas, 'repair sigma');
  if (share === 0n || !mulBase(share).equals(verifyingShareOf(group, plan.lost)))
    throw new FrostnetError(
      'INVALID_SHARE',
      `repair of ${plan.lost}'s share failed: the result does not match its verifying share, so a helper sent a ` +
        'wrong value or used another helper list; retry with other helpers',
    );
  return {
    group,
    secret: { identifier: identifierOf(group, plan.lost), signingShare: scalarToBytes(share) },
  };
}
