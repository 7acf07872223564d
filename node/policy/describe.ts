/**
 * What a request is, in the terms a policy and an operator use, worked out from the party's own decoding
 * (node/signing/targets.ts ResolvedRequest): a stable id, the decoded details (JSON-safe, for the approvals queue, the
 * audit log and `frostnet approvals show`), and the amount it moves.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { estimateWeight } from '../../chains/bitcoin/weight.ts';
import { bytesToHex } from '../../protocol/curve.ts';
import { formatPath } from '../../protocol/derive.ts';
import { type ProposalKind, proposalChange } from '../../protocol/proposal.ts';
import type { ResolvedRequest } from '../signing/targets.ts';

/**
 * A stable id of what is signed: the key and every message with its scheme (plus the derivation of a raw
 * message, which the message alone does not fix). The same request asked again (a retry, or the next ROAST
 * attempt) has the same id; any change to the transaction gives a new one.
 */
export function requestId(keyName: string, r: ResolvedRequest): string {
  const extra = r.kind === 'raw' ? [r.path, r.taproot] : r.kind === 'typedData' ? [r.account] : [];
  return requestIdOf(keyName, r.kind, extra, r.targets);
}

/** The id of a request of `kind` signing `targets` (what `requestId` computes from a decoded request). */
export function requestIdOf(
  keyName: string,
  kind: ResolvedRequest['kind'],
  extra: readonly (number[] | number | boolean)[],
  targets: readonly { scheme: string; message: Uint8Array }[],
): string {
  const canonical = JSON.stringify([
    'frostnet/policy-request/v1',
    keyName,
    kind,
    extra,
    targets.map((t) => [t.scheme, bytesToHex(t.message)]),
  ]);
  return bytesToHex(sha256(new TextEncoder().encode(canonical)));
}

/** How many leading characters of an id people see; the API accepts any unique prefix of 8 or more. */
export const SHORT_ID = 16;
export const shortId = (id: string): string => id.slice(0, SHORT_ID);

export type RawDetails = {
  kind: 'raw';
  scheme: string;
  message: string;
  path: string;
  taproot: boolean;
};

export type DrillDetails = { kind: 'drill'; scheme: string; challenge: string };

export type PsbtDetails = {
  kind: 'psbt';
  network: string;
  inputs: {
    index: number;
    outpoint: string;
    amount: string;
    address?: string;
    ours: boolean;
    path?: string;
  }[];
  outputs: {
    index: number;
    amount: string;
    address?: string;
    script: string;
    change: boolean;
    path?: string;
  }[];
  totalIn: string;
  totalOut: string;
  /** Paid to outputs that are not this key's (verified) change. */
  sent: string;
  fee: string;
  /** sat/vB, from the signed size of a key-path spend of these inputs and outputs. */
  feeRate: number;
};

export type TypedDataDetails = {
  kind: 'typedData';
  action: 'Execute' | 'RotateKey' | 'VetoRecovery';
  chainId: string;
  account: string;
  accountIndex: number;
  nonce: string;
  deadline: string;
} & (
  | { action: 'Execute'; to: string; value: string; data: string; selector?: string; call?: string }
  | { action: 'RotateKey'; oldKey: string; newKey: string }
  | { action: 'VetoRecovery' }
);

/** A custody proposal: what it changes of who holds the key, as this party reads it against its own group. */
export type ProposalDetails = {
  kind: 'proposal';
  ceremony: ProposalKind;
  key: string;
  epoch: number;
  oldThreshold: number;
  oldMembers: string[];
  newThreshold: number;
  newMembers: string[];
  added: string[];
  removed: string[];
  /** Dealers of a refresh or reshare, helpers of a repair. */
  dealers: string[];
  lost?: string;
  proposer: string;
  expiresAt: string;
  session: string;
};

export type Details = RawDetails | DrillDetails | PsbtDetails | TypedDataDetails | ProposalDetails;

/**
 * The decoded request, JSON-safe. Asynchronous because naming a known EVM call loads ethers (calls.ts), which
 * only a typed-data request, already decoded with it, needs.
 */
export async function describe(r: ResolvedRequest): Promise<Details> {
  if (r.kind === 'raw')
    return {
      kind: 'raw',
      scheme: r.targets[0].scheme,
      message: bytesToHex(r.targets[0].message),
      path: formatPath(r.path),
      taproot: r.taproot,
    };
  if (r.kind === 'drill')
    return { kind: 'drill', scheme: r.targets[0].scheme, challenge: bytesToHex(r.challenge) };
  if (r.kind === 'psbt') {
    const s = r.summary;
    return {
      kind: 'psbt',
      network: s.network,
      inputs: s.inputs.map((i) => ({
        index: i.index,
        outpoint: `${i.txid}:${i.vout}`,
        amount: i.amount.toString(),
        ...(i.address !== undefined && { address: i.address }),
        ours: i.ours,
        ...(i.path && { path: formatPath(i.path) }),
      })),
      outputs: s.outputs.map((o) => ({
        index: o.index,
        amount: o.amount.toString(),
        ...(o.address !== undefined && { address: o.address }),
        script: bytesToHex(o.script),
        change: o.change,
        ...(o.path && { path: formatPath(o.path) }),
      })),
      totalIn: s.totalIn.toString(),
      totalOut: s.totalOut.toString(),
      sent: s.sent.toString(),
      fee: s.fee.toString(),
      feeRate: Math.round(feeRate(r) * 100) / 100,
    };
  }
  if (r.kind === 'proposal') {
    const p = r.proposal;
    return {
      kind: 'proposal',
      ceremony: p.kind,
      key: p.keyName,
      epoch: p.epoch,
      ...proposalChange(p, r.group),
      dealers: [...p.dealers],
      ...(p.lost !== undefined && { lost: p.lost }),
      proposer: p.proposer,
      expiresAt: new Date(p.expiresAt * 1000).toISOString(),
      session: bytesToHex(p.sessionId),
    };
  }
  const a = r.action;
  const base = {
    kind: 'typedData' as const,
    chainId: a.account.chainId.toString(),
    account: a.account.address,
    accountIndex: r.account,
    nonce: a.fields.nonce.toString(),
    deadline: a.fields.deadline.toString(),
  };
  if (a.kind === 'VetoRecovery') return { ...base, action: 'VetoRecovery' };
  if (a.kind === 'RotateKey')
    return {
      ...base,
      action: 'RotateKey',
      oldKey: bytesToHex(r.accountKey),
      newKey: bytesToHex(a.fields.newKey),
    };
  const { to, value, data } = a.fields;
  const selector = selectorOf(data);
  const call = data === '0x' ? undefined : (await import('./calls.ts')).decodeCall(data);
  return {
    ...base,
    action: 'Execute',
    to,
    value: value.toString(),
    data,
    ...(selector !== undefined && { selector }),
    ...(call !== undefined && { call }),
  };
}

/**
 * sat/vB of a PSBT request. Every input is a key-path input of this key (the signing plan refuses others), so
 * the signed size is known exactly before anyone signs.
 */
export function feeRate(r: Extract<ResolvedRequest, { kind: 'psbt' }>): number {
  const s = r.summary;
  const weight = estimateWeight(
    s.inputs.length,
    s.outputs.map((o) => o.script),
  );
  return (Number(s.fee) * 4) / weight;
}

/** The first four bytes of call data ("0x" + 8 hex digits), "0x" for none, undefined for 1 to 3 bytes. */
export function selectorOf(data: string): string | undefined {
  if (data === '0x') return '0x';
  return data.length >= 10 ? data.slice(0, 10).toLowerCase() : undefined;
}

/** The amount a request moves and in what (a rolling limit's counter): sent satoshis, or wei of value. */
export type Spend = { asset: string; amount: bigint };

/** A key's one Bitcoin counter; EVM value counts per chain id ("evm:<id>"), which the signed data fixes. */
export const BITCOIN_ASSET = 'bitcoin';

/** The amount a request moves and in what asset, as this party decoded it. */
export function spendOf(r: ResolvedRequest): Spend | undefined {
  // One Bitcoin counter per key: the network is the key's own, not a label of the request.
  if (r.kind === 'psbt') return { asset: BITCOIN_ASSET, amount: r.summary.sent };
  if (r.kind === 'typedData' && r.action.kind === 'Execute')
    return { asset: `evm:${r.action.account.chainId}`, amount: r.action.fields.value };
  return undefined;
}

/** One line for logs and tables. */
export function summaryLine(d: Details): string {
  if (d.kind === 'raw') return `raw message ${d.message.slice(0, 16)}… (${d.scheme}, ${d.path})`;
  if (d.kind === 'drill') return `recovery drill ${d.challenge.slice(0, 16)}… (${d.scheme})`;
  if (d.kind === 'proposal') {
    const change = [
      d.added.length && `adds ${d.added.join(', ')}`,
      d.removed.length && `removes ${d.removed.join(', ')}`,
      d.lost && `rebuilds the share of ${d.lost}`,
    ].filter(Boolean);
    return `${d.ceremony} of key ${d.key} (epoch ${d.epoch}): ${d.oldThreshold}-of-${d.oldMembers.length} -> ${d.newThreshold}-of-${d.newMembers.length}${change.length ? `; ${change.join('; ')}` : ''}; proposed by ${d.proposer}`;
  }
  if (d.kind === 'psbt') {
    const pays = d.outputs.filter((o) => !o.change).map((o) => `${o.amount} sat to ${o.address ?? o.script}`);
    return `PSBT on ${d.network}: ${pays.join(', ') || 'no payment'}; fee ${d.fee} sat`;
  }
  if (d.action === 'VetoRecovery')
    return `EIP-712 VetoRecovery on chain ${d.chainId} for ${d.account}: cancels the account's pending recovery`;
  if (d.action === 'RotateKey')
    return `EIP-712 RotateKey on chain ${d.chainId} for ${d.account}: key ${d.oldKey} -> ${d.newKey}`;
  return `EIP-712 Execute on chain ${d.chainId}: ${d.value} wei to ${d.to}${d.call ? `, ${d.call}` : d.selector && d.selector !== '0x' ? `, call ${d.selector}` : ''}`;
}
