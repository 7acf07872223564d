/**
 * Rule evaluation, pure: the rules of a key, the request as this party decoded it, and what this party has
 * already done (its rolling usage) go in; a verdict comes out. Hard rules deny, and every broken one is named.
 * Holds (manual approval, time lock) apply only to a request no hard rule denies: an operator can release a
 * held request, never a denied one.
 */
import { blocksDuration, formatRecoveryKey, type RecoveryPolicy } from '../../chains/bitcoin/recovery.ts';
import { bytesToHex } from '../../protocol/curve.ts';
import type { ResolvedRequest } from '../signing/targets.ts';
import { feeRate, selectorOf, spendOf } from './describe.ts';
import type { BitcoinRules, CeremonyRule, EvmRules, Rules, TimeLockRule } from './format.ts';

export type Usage = {
  /** Distinct requests of this key this party let through in the past hour, this one excluded. */
  readonly requestsLastHour: number;
  /** What this party signed (or has in flight) of the request's asset in the past 24 h, this one excluded. */
  readonly spentLastDay: bigint;
};

export type Hold = {
  /** Why this party's operator must approve; undefined when no approval rule applies. */
  readonly approval?: string;
  /** The time lock that applies, and why. */
  readonly lock?: { readonly delaySeconds: number; readonly reason: string };
};

export type Verdict =
  | { readonly decision: 'allow' }
  | { readonly decision: 'deny'; readonly reasons: readonly string[] }
  | ({ readonly decision: 'hold' } & Hold);

export type Subject = {
  readonly keyName: string;
  /** The requester's peer id. */
  readonly requester: string;
  /** This party's own peer id ("self" in the rules). */
  readonly self: string;
  readonly resolved: ResolvedRequest;
  /** Milliseconds since the epoch, this party's clock. */
  readonly now: number;
};

/** A VetoRecovery stays valid at most this long: one signed ahead of time could cancel a real recovery later. */
export const MAX_VETO_SECONDS = 86_400;

/**
 * Why this party refuses to give key `keyName` the recovery `policy` at its keygen; empty: it agrees. Every
 * leaf's key must be one its rules accept, and its N at least their minOlder.
 */
export function refuseRecovery(rules: Rules | undefined, keyName: string, policy: RecoveryPolicy): string[] {
  const r = rules?.recovery;
  if (!r)
    return [
      `this party's policy accepts no recovery path for key ${keyName} (its rules have no "recovery" with the keys it accepts)`,
    ];
  const why: string[] = [];
  policy.leaves.forEach((leaf, i) => {
    const key = formatRecoveryKey(leaf.key, 'mainnet');
    if (!r.keys.has(key)) why.push(`leaf ${i}: recovery key ${key} is not one this party's policy accepts`);
    if (leaf.older < r.minOlder)
      why.push(
        `leaf ${i}: it opens after ${leaf.older} blocks (${blocksDuration(leaf.older)}); this party's policy wants at least ${r.minOlder} (${blocksDuration(r.minOlder)})`,
      );
  });
  return why;
}

/** Evaluates `rules` (undefined: the key has no rules and is refused) for one request. */
export function evaluate(rules: Rules | undefined, s: Subject, usage: Usage): Verdict {
  if (!rules)
    return {
      decision: 'deny',
      reasons: [`this party's policy has no rules for key ${s.keyName} and no default`],
    };
  const deny: string[] = [];
  const r = s.resolved;
  const scheme = r.targets[0]?.scheme;
  // Custody proposals sign with bip340 by definition: the scheme rule is for the key's signatures.
  if (rules.schemes && scheme && r.kind !== 'proposal' && !rules.schemes.includes(scheme))
    deny.push(`scheme ${scheme} is not allowed (allowed: ${rules.schemes.join(', ')})`);
  if (rules.requesters && !listed(rules.requesters, s))
    deny.push(`requester ${s.requester === s.self ? 'self' : s.requester} may not request signatures`);
  if (rules.requestsPerHour !== undefined && usage.requestsLastHour + 1 > rules.requestsPerHour)
    deny.push(
      `${usage.requestsLastHour} requests of this key in the past hour already; the limit is ${rules.requestsPerHour}`,
    );

  // A drill's signature is worthless outside the drill: no operator is asked to approve one.
  let hold: Hold =
    rules.requireApproval && r.kind !== 'drill'
      ? { approval: 'every request of this key needs approval' }
      : {};
  if (r.kind === 'drill') {
    if (!rules.drills) deny.push('recovery drills are off for this key');
  } else if (r.kind === 'raw') {
    if (!rules.rawMessages) deny.push('raw message signing is off for this key');
  } else if (r.kind === 'proposal') {
    hold = merge(hold, ceremony(rules.ceremonies[r.proposal.kind], r, s, deny));
  } else if (r.kind === 'psbt') {
    if (rules.bitcoin === false) deny.push('this key signs no Bitcoin transactions');
    else hold = merge(hold, bitcoin(rules.bitcoin, r, usage, deny));
  } else if (rules.evm === false) deny.push('this key signs no EVM actions');
  else hold = merge(hold, evm(rules.evm, r, usage, s.now, deny));

  if (deny.length > 0) return { decision: 'deny', reasons: deny };
  if (hold.approval !== undefined || hold.lock !== undefined) return { decision: 'hold', ...hold };
  return { decision: 'allow' };
}

/** The requester, as the rule lists name it ("self" for this party's own requests). */
const listed = (list: readonly string[], s: Subject) =>
  list.includes(s.requester) || (s.requester === s.self && list.includes('self'));

function merge(a: Hold, b: Hold): Hold {
  return { approval: a.approval ?? b.approval, lock: a.lock ?? b.lock };
}

type PsbtRequest = Extract<ResolvedRequest, { kind: 'psbt' }>;
type ProposalRequest = Extract<ResolvedRequest, { kind: 'proposal' }>;

/** A custody proposal under the rule for its kind. */
function ceremony(c: CeremonyRule, r: ProposalRequest, s: Subject, deny: string[]): Hold {
  const kind = r.proposal.kind;
  if (!c.allow) deny.push(`this party's policy allows no ${kind} of this key`);
  if (c.proposers && !listed(c.proposers, s))
    deny.push(`${s.requester === s.self ? 'self' : s.requester} may not propose a ${kind} of this key`);
  return {
    ...(c.requireApproval && { approval: `every ${kind} of this key needs approval` }),
    ...(c.timeLockSeconds !== undefined && {
      lock: {
        delaySeconds: c.timeLockSeconds,
        reason: `every ${kind} of this key waits ${c.timeLockSeconds} s`,
      },
    }),
  };
}
type TypedDataRequest = Extract<ResolvedRequest, { kind: 'typedData' }>;

/** Per-transaction and rolling-day limits of an amount, then the amount holds. */
function amountRules(
  amount: bigint,
  unit: string,
  limits: { perTx?: bigint; perDay?: bigint; approvalAbove?: bigint; timeLock?: TimeLockRule },
  usage: Usage,
  deny: string[],
): Hold {
  if (limits.perTx !== undefined && amount > limits.perTx)
    deny.push(`${amount} ${unit} is above the per-transaction limit of ${limits.perTx} ${unit}`);
  if (limits.perDay !== undefined && usage.spentLastDay + amount > limits.perDay)
    deny.push(
      `${amount} ${unit} on top of ${usage.spentLastDay} ${unit} in the past 24 h is above the daily limit of ${limits.perDay} ${unit}`,
    );
  const hold: { approval?: string; lock?: Hold['lock'] } = {};
  if (limits.approvalAbove !== undefined && amount > limits.approvalAbove)
    hold.approval = `${amount} ${unit} is above the approval threshold of ${limits.approvalAbove} ${unit}`;
  if (limits.timeLock && amount > limits.timeLock.above)
    hold.lock = {
      delaySeconds: limits.timeLock.delaySeconds,
      reason: `${amount} ${unit} is above the time-lock threshold of ${limits.timeLock.above} ${unit}`,
    };
  return hold;
}

function bitcoin(b: BitcoinRules, r: PsbtRequest, usage: Usage, deny: string[]): Hold {
  const s = r.summary;
  if (b.networks && !b.networks.includes(s.network))
    deny.push(`Bitcoin network ${s.network} is not allowed (allowed: ${b.networks.join(', ')})`);
  if (b.destinationScripts) {
    for (const o of s.outputs) {
      if (o.change) continue;
      const script = bytesToHex(o.script);
      if (!b.destinationScripts.has(`${s.network}:${script}`))
        deny.push(
          `output ${o.index} pays ${o.amount} sat to ${o.address ?? `script ${script}`}, which is not an allowed destination`,
        );
    }
  }
  if (b.changeToSelf) {
    for (const o of s.outputs) {
      if (!o.change || !o.path) continue;
      const [branch, index] = o.path;
      if (o.path.length !== 2 || branch !== 1 || index > b.maxChangeIndex)
        deny.push(
          `output ${o.index} returns change to m/${o.path.join('/')}, not to a change address of this key (m/1/0 .. m/1/${b.maxChangeIndex})`,
        );
    }
  }
  if (b.maxFee !== undefined && s.fee > b.maxFee)
    deny.push(`the fee of ${s.fee} sat is above the limit of ${b.maxFee} sat`);
  if (b.maxFeeRate !== undefined) {
    const rate = feeRate(r);
    if (rate > b.maxFeeRate)
      deny.push(`the fee rate of ${rate.toFixed(2)} sat/vB is above the limit of ${b.maxFeeRate} sat/vB`);
  }
  // The fee against what is sent (against what is spent when all of it comes back as change), in integers:
  // fee > share * base, with the share in millionths.
  const base = s.sent === 0n ? s.totalIn : s.sent;
  if (
    b.maxFeeShare !== undefined &&
    s.fee * 1_000_000n > BigInt(Math.round(b.maxFeeShare * 1_000_000)) * base
  )
    deny.push(
      `the fee of ${s.fee} sat is ${((Number(s.fee) / Number(base)) * 100).toFixed(2)}% of the ${base} sat ${s.sent === 0n ? 'spent' : 'sent'}, above the limit of ${b.maxFeeShare * 100}%`,
    );
  return amountRules(
    s.sent,
    'sat',
    { perTx: b.maxSentPerTx, perDay: b.maxSentPerDay, approvalAbove: b.approvalAbove, timeLock: b.timeLock },
    usage,
    deny,
  );
}

function evm(e: EvmRules, r: TypedDataRequest, usage: Usage, now: number, deny: string[]): Hold {
  const a = r.action;
  if (e.chainIds && !e.chainIds.includes(a.account.chainId))
    deny.push(`chain id ${a.account.chainId} is not allowed (allowed: ${e.chainIds.join(', ')})`);
  if (!e.actions.includes(a.kind))
    deny.push(`EVM action ${a.kind} is not allowed (allowed: ${e.actions.join(', ')})`);
  // A veto only cancels a pending recovery: it moves nothing and calls nothing, so no target or value rule
  // applies. But it resets the account's inactivity clock: one valid for long, signed while nothing is pending,
  // could be kept to cancel a real recovery later.
  if (a.kind === 'VetoRecovery') {
    const latest = BigInt(Math.floor(now / 1000) + MAX_VETO_SECONDS);
    if (a.fields.deadline > latest)
      deny.push(
        `a VetoRecovery may be valid for at most ${MAX_VETO_SECONDS} s; this one is valid until ${a.fields.deadline} (at most ${latest} now)`,
      );
    return {};
  }
  if (a.kind === 'RotateKey')
    return e.rotateKeyRequiresApproval
      ? { approval: 'a key rotation hands the account to another key and needs approval' }
      : {};
  const { to, data } = a.fields;
  if (e.targets && !e.targets.includes(to.toLowerCase()))
    deny.push(`target ${to} is not an allowed contract`);
  if (e.selectors) {
    const selector = selectorOf(data);
    if (selector === undefined || !e.selectors.includes(selector))
      deny.push(
        selector === '0x'
          ? 'a call without data (a plain transfer) is not allowed'
          : `function selector ${selector ?? data} is not allowed (allowed: ${e.selectors.join(', ')})`,
      );
  }
  const spend = spendOf(r);
  return amountRules(
    spend?.amount ?? 0n,
    'wei',
    {
      perTx: e.maxValuePerTx,
      perDay: e.maxValuePerDay,
      approvalAbove: e.approvalAbove,
      timeLock: e.timeLock,
    },
    usage,
    deny,
  );
}
