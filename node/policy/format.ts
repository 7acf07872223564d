/**
 * The policy file: one per party (default <dataDir>/policy.json), rules per key name and a default. It is
 * validated whole on load; every problem names the offending field, and unknown fields are refused (they are
 * almost always typos that would otherwise silently switch a rule off). docs/policy.md documents the format.
 *
 * {
 *   "version": 1,
 *   "approvalExpirySeconds": 86400,
 *   "default": { ...rules },              // for keys without an entry; without it such keys are refused
 *   "keys": { "treasury": { ...rules } }   // an entry replaces the default entirely (no inheritance)
 * }
 */
import { readFile } from 'node:fs/promises';
import { NETWORK_NAMES, type NetworkName } from '../../chains/bitcoin/network-names.ts';
import { formatRecoveryKey, MAX_RECOVERY_BLOCKS, parseRecoveryKey } from '../../chains/bitcoin/recovery.ts';
import { bytesToHex } from '../../protocol/curve.ts';
import { errorMessage, FrostnetError } from '../../protocol/errors.ts';
import { PROPOSAL_KINDS, type ProposalKind } from '../../protocol/proposal.ts';
import { SCHEMES, type Scheme } from '../../protocol/sign.ts';
import { parsePeerId } from '../storage/identity.ts';
import { type AddressChecks, loadAddressChecks } from './address-checks.ts';

export const POLICY_FILE = 'policy.json';
export const DEFAULT_APPROVAL_EXPIRY_SECONDS = 86_400;
export const DEFAULT_MAX_CHANGE_INDEX = 10_000;
const MAX_SECONDS = 366 * 86_400;

/** Requests above `above` (satoshis or wei) wait `delaySeconds` at this party from when it first saw them. */
export type TimeLockRule = { readonly above: bigint; readonly delaySeconds: number };

export type BitcoinRules = {
  readonly networks?: readonly NetworkName[];
  /** Satoshis paid to outputs that are not this key's change. */
  readonly maxSentPerTx?: bigint;
  readonly maxSentPerDay?: bigint;
  /** Allowed payment addresses, as written in the file. */
  readonly destinations?: readonly string[];
  /** The same as `<network>:<scriptPubKey hex>`: outputs are compared by script, not by address spelling. */
  readonly destinationScripts?: ReadonlySet<string>;
  readonly changeToSelf: boolean;
  readonly maxChangeIndex: number;
  readonly maxFee?: bigint;
  /** sat/vB. */
  readonly maxFeeRate?: number;
  /** The fee's largest share of what is sent (0.05 = 5%); of what is spent when nothing leaves the key. */
  readonly maxFeeShare?: number;
  readonly approvalAbove?: bigint;
  readonly timeLock?: TimeLockRule;
};

/** VetoRecovery cancels a pending recovery of the account (docs/recovery.md); it moves nothing. */
export type EvmAction = 'Execute' | 'RotateKey' | 'VetoRecovery';

export type EvmRules = {
  readonly chainIds?: readonly bigint[];
  /** The account actions this key may sign, by name: DEFAULT_EVM_ACTIONS where the file says nothing. */
  readonly actions: readonly EvmAction[];
  /** A RotateKey hands the account to another key: held for this party's operator unless set to false. */
  readonly rotateKeyRequiresApproval: boolean;
  /** Lower-case 0x addresses. */
  readonly targets?: readonly string[];
  /** Lower-case 0x + 8 hex digits, or "0x" for a call without data (a plain transfer). */
  readonly selectors?: readonly string[];
  readonly maxValuePerTx?: bigint;
  readonly maxValuePerDay?: bigint;
  readonly approvalAbove?: bigint;
  readonly timeLock?: TimeLockRule;
};

/** Whether and how this party approves custody proposals of one kind (refresh, reshare, repair). */
export type CeremonyRule = {
  readonly allow: boolean;
  /** This party's operator approves each proposal of this kind. */
  readonly requireApproval: boolean;
  /** Proposals wait this long at this party from when it first saw them. */
  readonly timeLockSeconds?: number;
  /** Peer ids (or "self") that may propose; any member when absent. */
  readonly proposers?: readonly string[];
};

export type CeremonyRules = Readonly<Record<ProposalKind, CeremonyRule>>;

/** Refresh changes no one's power and may run unattended; reshare and repair change who holds the key. */
export const DEFAULT_CEREMONIES: CeremonyRules = {
  refresh: { allow: true, requireApproval: false },
  reshare: { allow: true, requireApproval: true },
  repair: { allow: true, requireApproval: true },
};

/**
 * The recovery paths this party agrees to give a key it helps make (keygen --recovery): each leaf's key must be
 * listed, and its N (blocks without moving) at least `minOlder`. A key's rules without it accept none.
 */
export type RecoveryRules = {
  /** The accepted recovery keys, in the form a key's stored policy writes them (mainnet, with origin). */
  readonly keys: ReadonlySet<string>;
  readonly minOlder: number;
};

/** About 30 days of blocks: a path that opens sooner hands the coins to its key holder too easily. */
export const DEFAULT_RECOVERY_MIN_OLDER = 4320;

/** Only execute: a key rotation hands the account to another key and must be allowed by name. */
export const DEFAULT_EVM_ACTIONS: readonly EvmAction[] = ['Execute'];

export type Rules = {
  readonly schemes?: readonly Scheme[];
  /** Raw messages, below the raw-message branch only (chains/domains.ts); off unless the file turns them on. */
  readonly rawMessages: boolean;
  /** Recovery drill signatures (the drill's own key, worthless elsewhere); on unless the file turns them off. */
  readonly drills: boolean;
  /** Peer ids allowed to request; "self" stands for this party's own (local) requests. */
  readonly requesters?: readonly string[];
  readonly requestsPerHour?: number;
  readonly requireApproval: boolean;
  /** false: this key signs no PSBT at all. */
  readonly bitcoin: BitcoinRules | false;
  /** false: this key signs no EIP-712 action at all. */
  readonly evm: EvmRules | false;
  /** Custody proposals of this key (DEFAULT_CEREMONIES where the file says nothing). */
  readonly ceremonies: CeremonyRules;
  /** The recovery paths this party accepts for the key at its keygen; absent: none. */
  readonly recovery?: RecoveryRules;
};

export type PolicyFile = {
  readonly approvalExpirySeconds: number;
  readonly default?: Rules;
  readonly keys: Readonly<Record<string, Rules>>;
};

/**
 * No file: the defaults of an empty rule set. PSBTs, EVM executes and drills are allowed (and audited); raw
 * messages are off, key rotations held for approval, reshares and repairs held for approval.
 */
export const NO_RULES: Rules = {
  rawMessages: false,
  drills: true,
  requireApproval: false,
  bitcoin: { changeToSelf: false, maxChangeIndex: DEFAULT_MAX_CHANGE_INDEX },
  evm: { actions: DEFAULT_EVM_ACTIONS, rotateKeyRequiresApproval: true },
  ceremonies: DEFAULT_CEREMONIES,
};

/** The rules for a key: its own entry, else the default, else undefined (refused). */
export function rulesFor(p: PolicyFile, keyName: string): Rules | undefined {
  return Object.hasOwn(p.keys, keyName) ? p.keys[keyName] : p.default;
}

type Fail = (field: string, problem: string) => never;
type Obj = Record<string, unknown>;
/** The address checks, or a throw of NeedsAddressChecks when the caller gave none. */
type Checks = () => AddressChecks;

/** Thrown by parsePolicy given no address checks for a file that names an address to check. */
class NeedsAddressChecks extends FrostnetError {
  constructor() {
    super('INTERNAL', 'this policy names addresses: parse it with the address checks (loadAddressChecks)');
  }
}

/**
 * Validates a parsed policy file; throws INVALID_INPUT naming the field. `checks` is needed only when the
 * file names Bitcoin destinations or mixed-case EVM targets (parsePolicyLoading loads them then).
 */
export function parsePolicy(input: unknown, source = 'policy', checks?: AddressChecks): PolicyFile {
  const fail: Fail = (field, problem) => {
    throw new FrostnetError('INVALID_INPUT', `${source}: "${field}" ${problem}`);
  };
  const need: Checks = () => {
    if (!checks) throw new NeedsAddressChecks();
    return checks;
  };
  const top = object(input, '(top level)', fail);
  only(top, ['version', 'approvalExpirySeconds', 'default', 'keys'], '', fail);
  if (top.version !== undefined && top.version !== 1) fail('version', 'must be 1');
  const approvalExpirySeconds =
    top.approvalExpirySeconds === undefined
      ? DEFAULT_APPROVAL_EXPIRY_SECONDS
      : integer(top.approvalExpirySeconds, 'approvalExpirySeconds', 1, MAX_SECONDS, fail);
  const keys: Record<string, Rules> = {};
  if (top.keys !== undefined) {
    for (const [name, rules] of Object.entries(object(top.keys, 'keys', fail)))
      keys[name] = parseRules(rules, `keys.${name}`, fail, need);
  }
  return {
    approvalExpirySeconds,
    ...(top.default !== undefined && { default: parseRules(top.default, 'default', fail, need) }),
    keys,
  };
}

/** Reads and validates a policy file; undefined when there is none. */
export async function loadPolicyFile(file: string): Promise<PolicyFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw new FrostnetError('INVALID_INPUT', `cannot read policy ${file}: ${errorMessage(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FrostnetError('INVALID_INPUT', `policy ${file} is not valid JSON: ${errorMessage(e)}`);
  }
  return parsePolicyLoading(json, `policy ${file}`);
}

/** parsePolicy, with the chain decoders of the address checks loaded only if the file names an address. */
export async function parsePolicyLoading(input: unknown, source = 'policy'): Promise<PolicyFile> {
  try {
    return parsePolicy(input, source);
  } catch (e) {
    if (!(e instanceof NeedsAddressChecks)) throw e;
  }
  return parsePolicy(input, source, await loadAddressChecks());
}

function parseRules(v: unknown, at: string, fail: Fail, checks: Checks): Rules {
  const r = object(v, at, fail);
  only(
    r,
    [
      'schemes',
      'rawMessages',
      'drills',
      'requesters',
      'requestsPerHour',
      'requireApproval',
      'bitcoin',
      'evm',
      'ceremonies',
      'recovery',
    ],
    `${at}.`,
    fail,
  );
  return {
    ...(r.schemes !== undefined && {
      schemes: choices(r.schemes, `${at}.schemes`, SCHEMES, fail),
    }),
    rawMessages: r.rawMessages === undefined ? false : boolean(r.rawMessages, `${at}.rawMessages`, fail),
    drills: r.drills === undefined ? true : boolean(r.drills, `${at}.drills`, fail),
    ...(r.requesters !== undefined && { requesters: parties(r.requesters, `${at}.requesters`, fail) }),
    ...(r.requestsPerHour !== undefined && {
      requestsPerHour: integer(r.requestsPerHour, `${at}.requestsPerHour`, 1, 1_000_000, fail),
    }),
    requireApproval:
      r.requireApproval === undefined ? false : boolean(r.requireApproval, `${at}.requireApproval`, fail),
    bitcoin:
      r.bitcoin === false
        ? false
        : parseBitcoin(r.bitcoin === undefined ? {} : r.bitcoin, `${at}.bitcoin`, fail, checks),
    evm: r.evm === false ? false : parseEvm(r.evm === undefined ? {} : r.evm, `${at}.evm`, fail, checks),
    ceremonies: parseCeremonies(r.ceremonies, `${at}.ceremonies`, fail),
    ...(r.recovery !== undefined && { recovery: parseRecoveryRules(r.recovery, `${at}.recovery`, fail) }),
  };
}

/** The recovery keys as a descriptor writes them (see RecoveryRules), each parsed and put in its stored form. */
function parseRecoveryRules(v: unknown, at: string, fail: Fail): RecoveryRules {
  const o = object(v, at, fail);
  only(o, ['keys', 'minOlder'], `${at}.`, fail);
  const keys = nonEmpty(o.keys, `${at}.keys`, fail).map((k, i) => {
    try {
      return formatRecoveryKey(parseRecoveryKey(k as string, 'the key'), 'mainnet');
    } catch (e) {
      return fail(`${at}.keys[${i}]`, errorMessage(e));
    }
  });
  return {
    keys: new Set(keys),
    minOlder:
      o.minOlder === undefined
        ? DEFAULT_RECOVERY_MIN_OLDER
        : integer(o.minOlder, `${at}.minOlder`, 1, MAX_RECOVERY_BLOCKS, fail),
  };
}

/** Peer ids, or "self" for this party. */
function parties(v: unknown, at: string, fail: Fail): string[] {
  return nonEmpty(v, at, fail).map((p, i) => {
    const field = `${at}[${i}]`;
    if (p === 'self') return p;
    if (typeof p !== 'string') fail(field, 'must be a peer id or "self"');
    try {
      parsePeerId(p as string);
    } catch {
      fail(field, `is not a peer id (nor "self"): ${p}`);
    }
    return p as string;
  });
}

/** Each kind's rule; a kind the file leaves out, or a field it leaves out, keeps its default. */
function parseCeremonies(v: unknown, at: string, fail: Fail): CeremonyRules {
  if (v === undefined) return DEFAULT_CEREMONIES;
  const c = object(v, at, fail);
  only(c, PROPOSAL_KINDS, `${at}.`, fail);
  const rule = (kind: ProposalKind): CeremonyRule => {
    const d = DEFAULT_CEREMONIES[kind];
    if (c[kind] === undefined) return d;
    const k = object(c[kind], `${at}.${kind}`, fail);
    only(k, ['allow', 'requireApproval', 'timeLockSeconds', 'proposers'], `${at}.${kind}.`, fail);
    return {
      allow: k.allow === undefined ? d.allow : boolean(k.allow, `${at}.${kind}.allow`, fail),
      requireApproval:
        k.requireApproval === undefined
          ? d.requireApproval
          : boolean(k.requireApproval, `${at}.${kind}.requireApproval`, fail),
      ...(k.timeLockSeconds !== undefined && {
        timeLockSeconds: integer(k.timeLockSeconds, `${at}.${kind}.timeLockSeconds`, 1, MAX_SECONDS, fail),
      }),
      ...(k.proposers !== undefined && { proposers: parties(k.proposers, `${at}.${kind}.proposers`, fail) }),
    };
  };
  return { refresh: rule('refresh'), reshare: rule('reshare'), repair: rule('repair') };
}

const SAT_UNITS = { sat: 0, btc: 8 };
const WEI_UNITS = { wei: 0, gwei: 9, eth: 18, ether: 18 };

function parseBitcoin(v: unknown, at: string, fail: Fail, checks: Checks): BitcoinRules {
  const b = object(v, at, fail);
  only(
    b,
    [
      'networks',
      'maxSentPerTx',
      'maxSentPerDay',
      'destinations',
      'changeToSelf',
      'maxChangeIndex',
      'maxFee',
      'maxFeeRate',
      'maxFeeShare',
      'approvalAbove',
      'timeLock',
    ],
    `${at}.`,
    fail,
  );
  const sats = (k: string) =>
    b[k] === undefined ? {} : { [k]: amount(b[k], `${at}.${k}`, SAT_UNITS, fail) };
  const networks =
    b.networks === undefined ? undefined : choices(b.networks, `${at}.networks`, NETWORK_NAMES, fail);
  let destinationScripts: Set<string> | undefined;
  let destinations: string[] | undefined;
  if (b.destinations !== undefined) {
    const scripts = new Set<string>();
    destinationScripts = scripts;
    destinations = nonEmpty(b.destinations, `${at}.destinations`, fail).map((a, i) => {
      const field = `${at}.destinations[${i}]`;
      if (typeof a !== 'string') fail(field, 'must be a Bitcoin address');
      const c = checks();
      const valid = (networks ?? NETWORK_NAMES).filter((n) => {
        try {
          scripts.add(`${n}:${bytesToHex(c.outputScript(a as string, n))}`);
          return true;
        } catch {
          return false;
        }
      });
      if (valid.length === 0)
        fail(field, `is not a Bitcoin address on ${(networks ?? NETWORK_NAMES).join(' or ')}: ${a}`);
      return a as string;
    });
  }
  if (
    b.maxFeeRate !== undefined &&
    (typeof b.maxFeeRate !== 'number' || !(b.maxFeeRate > 0) || b.maxFeeRate > 1e6)
  )
    fail(`${at}.maxFeeRate`, 'must be a positive number of sat/vB (at most 1000000)');
  if (
    b.maxFeeShare !== undefined &&
    (typeof b.maxFeeShare !== 'number' || !(b.maxFeeShare > 0) || b.maxFeeShare > 1)
  )
    fail(`${at}.maxFeeShare`, 'must be a number above 0 and at most 1 (0.05 = 5% of what is sent)');
  if (b.maxChangeIndex !== undefined && b.changeToSelf !== true)
    fail(`${at}.maxChangeIndex`, 'only applies with "changeToSelf": true');
  return {
    ...(networks && { networks }),
    ...sats('maxSentPerTx'),
    ...sats('maxSentPerDay'),
    ...(destinations && { destinations, destinationScripts }),
    changeToSelf: b.changeToSelf === undefined ? false : boolean(b.changeToSelf, `${at}.changeToSelf`, fail),
    maxChangeIndex:
      b.maxChangeIndex === undefined
        ? DEFAULT_MAX_CHANGE_INDEX
        : integer(b.maxChangeIndex, `${at}.maxChangeIndex`, 0, 2 ** 31 - 1, fail),
    ...sats('maxFee'),
    ...(b.maxFeeRate !== undefined && { maxFeeRate: b.maxFeeRate as number }),
    ...(b.maxFeeShare !== undefined && { maxFeeShare: b.maxFeeShare as number }),
    ...sats('approvalAbove'),
    ...(b.timeLock !== undefined && { timeLock: timeLock(b.timeLock, `${at}.timeLock`, SAT_UNITS, fail) }),
  } as BitcoinRules;
}

function parseEvm(v: unknown, at: string, fail: Fail, checks: Checks): EvmRules {
  const e = object(v, at, fail);
  only(
    e,
    [
      'chainIds',
      'actions',
      'rotateKeyRequiresApproval',
      'targets',
      'selectors',
      'maxValuePerTx',
      'maxValuePerDay',
      'approvalAbove',
      'timeLock',
    ],
    `${at}.`,
    fail,
  );
  const wei = (k: string) => (e[k] === undefined ? {} : { [k]: amount(e[k], `${at}.${k}`, WEI_UNITS, fail) });
  return {
    ...(e.chainIds !== undefined && {
      chainIds: nonEmpty(e.chainIds, `${at}.chainIds`, fail).map((c, i) => {
        const id = amount(c, `${at}.chainIds[${i}]`, {}, fail);
        if (id === 0n) fail(`${at}.chainIds[${i}]`, 'must not be 0');
        return id;
      }),
    }),
    actions:
      e.actions === undefined
        ? DEFAULT_EVM_ACTIONS
        : choices(e.actions, `${at}.actions`, ['Execute', 'RotateKey', 'VetoRecovery'] as const, fail),
    rotateKeyRequiresApproval:
      e.rotateKeyRequiresApproval === undefined
        ? true
        : boolean(e.rotateKeyRequiresApproval, `${at}.rotateKeyRequiresApproval`, fail),
    ...(e.targets !== undefined && {
      targets: nonEmpty(e.targets, `${at}.targets`, fail).map((a, i) => {
        if (typeof a !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(a))
          fail(`${at}.targets[${i}]`, 'must be a 0x address');
        const hex = (a as string).slice(2);
        // EIP-55: an address in one case carries no checksum; one in mixed case must carry the right one.
        const mixed = hex !== hex.toLowerCase() && hex !== hex.toUpperCase();
        if (mixed && !checks().checksumOk(a as string))
          fail(`${at}.targets[${i}]`, `has a wrong checksum: ${a}`);
        return (a as string).toLowerCase();
      }),
    }),
    ...(e.selectors !== undefined && {
      selectors: nonEmpty(e.selectors, `${at}.selectors`, fail).map((s, i) => {
        if (typeof s !== 'string' || !/^0x([0-9a-fA-F]{8})?$/.test(s))
          fail(
            `${at}.selectors[${i}]`,
            'must be a 4-byte selector like 0xa9059cbb, or "0x" for no call data',
          );
        return (s as string).toLowerCase();
      }),
    }),
    ...wei('maxValuePerTx'),
    ...wei('maxValuePerDay'),
    ...wei('approvalAbove'),
    ...(e.timeLock !== undefined && { timeLock: timeLock(e.timeLock, `${at}.timeLock`, WEI_UNITS, fail) }),
  } as EvmRules;
}

function timeLock(v: unknown, at: string, units: Record<string, number>, fail: Fail): TimeLockRule {
  const t = object(v, at, fail);
  only(t, ['above', 'delaySeconds'], `${at}.`, fail);
  if (t.above === undefined) fail(`${at}.above`, 'is required');
  if (t.delaySeconds === undefined) fail(`${at}.delaySeconds`, 'is required');
  return {
    above: amount(t.above, `${at}.above`, units, fail),
    delaySeconds: integer(t.delaySeconds, `${at}.delaySeconds`, 1, MAX_SECONDS, fail),
  };
}

/**
 * A whole amount in the chain's base unit (satoshis, wei): a JSON integer, a decimal string, or a decimal with
 * a unit ("0.5 btc", "20 gwei", "1.5 ether"). Strings because wei amounts do not fit a JSON number.
 */
function amount(v: unknown, field: string, units: Record<string, number>, fail: Fail): bigint {
  const names = Object.keys(units);
  const how = `must be a whole number${names.length ? ` of ${names[0]}` : ''} (a JSON integer or a decimal string${
    names.length > 1 ? `, or like "1.5 ${names[names.length - 1]}"` : ''
  })`;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) fail(field, how);
    return BigInt(v);
  }
  if (typeof v !== 'string') return fail(field, how);
  const m = /^\s*(\d{1,80})(?:\.(\d{1,36}))?\s*([a-zA-Z]+)?\s*$/.exec(v);
  if (!m) return fail(field, how);
  const [, whole, frac = '', unit] = m;
  const decimals = unit === undefined ? 0 : units[unit.toLowerCase()];
  if (decimals === undefined) return fail(field, `has an unknown unit "${unit}" (use ${names.join(', ')})`);
  if (frac.replace(/0+$/, '').length > decimals) fail(field, `is not a whole number of ${names[0]}`);
  return BigInt(whole) * 10n ** BigInt(decimals) + (frac ? BigInt(frac.padEnd(decimals, '0')) : 0n);
}

function object(v: unknown, field: string, fail: Fail): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(field, 'must be an object');
  return v as Obj;
}

function only(o: Obj, allowed: readonly string[], prefix: string, fail: Fail): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) fail(`${prefix}${k}`, `is not a known field (known: ${allowed.join(', ')})`);
}

function boolean(v: unknown, field: string, fail: Fail): boolean {
  if (typeof v !== 'boolean') fail(field, 'must be true or false');
  return v as boolean;
}

function integer(v: unknown, field: string, min: number, max: number, fail: Fail): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(field, `must be an integer from ${min} to ${max}`);
  return v as number;
}

function nonEmpty(v: unknown, field: string, fail: Fail): unknown[] {
  if (!Array.isArray(v) || v.length === 0) fail(field, 'must be a non-empty array');
  return v as unknown[];
}

function choices<T extends string>(v: unknown, field: string, allowed: readonly T[], fail: Fail): T[] {
  return nonEmpty(v, field, fail).map((x, i) => {
    if (!allowed.includes(x as T)) fail(`${field}[${i}]`, `must be one of ${allowed.join(', ')}`);
    return x as T;
  });
}
