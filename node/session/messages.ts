/**
 * Codecs for the ceremony payloads (proto/ceremonies.proto) and the mapping between the wire form and the
 * protocol layer's round packages. Decoding validates sizes and shapes; anything else is the ceremony's job.
 */
import type { NonceCommitments } from '@noble/curves/abstract/frost.js';
import { FrostnetError } from '../../protocol/errors.ts';
import { type CustodyProposal, PROPOSAL_KINDS, type ProposalKind } from '../../protocol/proposal.ts';
import type { CeremonyMessage } from '../../protocol/vss.ts';
import { loadProtoType, type ProtoCodec } from '../transport/wire.ts';

const file = new URL('../../proto/ceremonies.proto', import.meta.url);
const codec = <T>(name: string): ProtoCodec<T> => loadProtoType<T>(file, `frostnet.v1.${name}`);

export type CeremonyInvite = {
  keyName: string;
  threshold: number;
  members: string[];
  groupKey: Uint8Array;
  epoch: number;
  /** Reshare only: the current members that deal (threshold and members are then the new ones). */
  dealers?: string[];
  /** Reshare only: the current key group as keyGroupToJSON text, for newcomers. */
  currentGroup?: string;
  /** Refresh and reshare: the custody proposal that approved the ceremony (absent, null when decoded, for a DKG). */
  proposal?: WireSignedProposal | null;
  /** The key's Bitcoin network; "" (or absent) from initiators that predate it. */
  network?: string;
  /** The key's recovery policy, canonical JSON; "" (or absent) for none, or from initiators that predate it. */
  recovery?: string;
};

/** A custody proposal with its signature by the group key. */
export type SignedProposal = { proposal: CustodyProposal; signature: Uint8Array };

/**
 * A signed proposal as an invite carries it: `expiresAt` is a uint64 on the wire, which decodes as a bigint;
 * `signedProposalFromWire` reads it as the proposal it is (a number of seconds, every field checked).
 */
export type WireSignedProposal = {
  proposal: Omit<CustodyProposal, 'expiresAt'> & { expiresAt: number | bigint };
  signature: Uint8Array;
};

/** A participant's signature of its round-3 confirmation (proto PartySignature). */
export type PartySignature = { party: string; signature: Uint8Array };

/** Signed round-3 confirmations of one ceremony (proto EpochCertificate): complete, or as far as gathered. */
export type EpochCertificate = {
  sessionId: Uint8Array;
  confirmation: Uint8Array;
  signatures: PartySignature[];
};
export type CeremonyAbort = { code: string; reason: string; culprits: string[] };

/** `raw.path` is below the raw-message branch (chains/domains.ts); a drill signs under the drill's key. */
export type SignPayload =
  | { raw: { message: Uint8Array; path: number[]; taproot: boolean } }
  | { drill: { challenge: Uint8Array } }
  | { psbt: { psbt: Uint8Array; network: string } }
  | { typedData: { json: string; account: number } }
  | { proposal: { proposal: CustodyProposal } };

export type SignRequestMsg = {
  groupKey: Uint8Array;
  epoch: number;
  scheme: string;
  payload: SignPayload;
  requester: string;
};
export type WireCommitment = { hiding: Uint8Array; binding: Uint8Array };
export type SignCommitmentsMsg = { commitments: WireCommitment[] };
export type SignPackageMsg = {
  messages: Uint8Array[];
  signers: { party: string; commitments: WireCommitment[] }[];
};
export type SignSharesMsg = { shares: Uint8Array[] };
export type SignRefusalMsg = { code: string; reason: string; until?: string };
export type NonceBatchRequestMsg = { groupKey: Uint8Array; epoch: number; count: number };
export type NonceBatchMsg = { commitments: WireCommitment[] };
export type SignOneRoundMsg = { request: SignRequestMsg; package: SignPackageMsg };
export type KeyStatusQueryMsg = { groupKey: Uint8Array; pending?: EpochCertificate | null };
export type KeyStatusMsg = {
  groupKey: Uint8Array;
  epoch: number;
  transcript: Uint8Array;
  hasPending: boolean;
  pendingEpoch: number;
  pendingTranscript: Uint8Array;
  membersDigest: Uint8Array;
  hasShare: boolean;
  /** Absent (null when decoded) when the sender has no pending epoch or settled certificate to show. */
  pendingConfirmations?: EpochCertificate | null;
  certificate?: EpochCertificate | null;
  /** The sender's signed renouncement of the pending epoch the query named (empty when it holds that epoch). */
  renouncement?: Uint8Array;
};

export type RepairInviteMsg = {
  keyName: string;
  groupKey: Uint8Array;
  epoch: number;
  lost: string;
  helpers: string[];
  /** keyGroupToJSON text of the key group, for the lost party. */
  group: string;
  proposal?: WireSignedProposal | null;
  /** The key's Bitcoin network; "" (or absent) from initiators that predate it. */
  network?: string;
  /** The key's recovery policy, canonical JSON; "" (or absent) for none. */
  recovery?: string;
};
/** `network`, `recovery`: the helper's; "" (or absent) for none or from helpers that predate them. */
export type RepairSigmaMsg = {
  sigma: Uint8Array;
  groupDigest: Uint8Array;
  network?: string;
  recovery?: string;
};

type Vss1 = { commitment: Uint8Array[]; proof: Uint8Array; context?: Uint8Array };
type Vss2 = { share: Uint8Array; digests: Uint8Array[] };
type Vss3 = { confirmation: Uint8Array };
/** Round 4: a participant's signed confirmation (node/ceremonies/certificates.ts). */
export type Vss4 = { confirmation: Uint8Array; signature: Uint8Array };

export const codecs = {
  invite: codec<CeremonyInvite>('CeremonyInvite'),
  abort: codec<CeremonyAbort>('CeremonyAbort'),
  vss1: codec<Vss1>('VssRound1'),
  vss2: codec<Vss2>('VssRound2'),
  vss3: codec<Vss3>('VssRound3'),
  vss4: codec<Vss4>('VssRound4'),
  signRequest: codec<SignRequestMsg & { payload: Record<string, unknown> }>('SignRequest'),
  signCommitments: codec<SignCommitmentsMsg>('SignCommitments'),
  signPackage: codec<SignPackageMsg>('SignPackage'),
  signShares: codec<SignSharesMsg>('SignShares'),
  signRefusal: codec<SignRefusalMsg>('SignRefusal'),
  nonceBatchRequest: codec<NonceBatchRequestMsg>('NonceBatchRequest'),
  nonceBatch: codec<NonceBatchMsg>('NonceBatch'),
  signOneRound: codec<SignOneRoundMsg & { request: { payload: Record<string, unknown> } }>('SignOneRound'),
  keyStatusQuery: codec<KeyStatusQueryMsg>('KeyStatusQuery'),
  keyStatus: codec<KeyStatusMsg>('KeyStatus'),
  repairInvite: codec<RepairInviteMsg>('RepairInvite'),
  repairDelta: codec<{ delta: Uint8Array }>('RepairDelta'),
  repairSigma: codec<RepairSigmaMsg>('RepairSigma'),
  repairDone: codec<{ epoch: number }>('RepairDone'),
};

/**
 * Envelope rounds, scoped per ceremony (see the header of ceremonies.proto): an envelope names its ceremony,
 * so a number means something only within one, and the same number recurs across them (SIGN's refusal and
 * every ceremony's abort are both 9). `session` holds the rounds every ceremony session shares.
 */
export const ROUND = {
  /** Every ceremony: the invite that opens a session, the abort that ends it (either direction). */
  session: { invite: 0, abort: 9 },
  /** DKG, REFRESH and RESHARE: rounds 1 to 3 are the protocol's own (encodeVss), then each party's commit. */
  vss: { commit: 4 },
  /** REPAIR: helpers' deltas to each other, their sigmas to the lost party, its done to the coordinator. */
  repair: { delta: 1, sigma: 2, done: 3 },
  /** SIGN: the two rounds, the nonce batches that make one-round signing possible, and a signer's refusal. */
  sign: {
    request: 1,
    commitments: 2,
    package: 3,
    shares: 4,
    nonceBatchRequest: 5,
    nonceBatch: 6,
    oneRound: 7,
    refusal: 9,
  },
  /** CONTROL: a key status question and its signed answer. */
  control: { keyStatusQuery: 1, keyStatus: 2 },
} as const;

/** What travels with a round-1 package beside the pure ceremony's message: the sender's context hash. */
export type VssExtras = { context?: Uint8Array };

/** Protocol round package (and its extras) -> envelope round and payload. */
export function encodeVss(m: CeremonyMessage, x: VssExtras = {}): { round: number; payload: Uint8Array } {
  const none = new Uint8Array();
  switch (m.round) {
    case 1:
      return {
        round: 1,
        payload: codecs.vss1.encode({
          commitment: [...m.commitment],
          proof: m.proof,
          context: x.context ?? none,
        }),
      };
    case 2:
      return { round: 2, payload: codecs.vss2.encode({ share: m.share, digests: [...m.digests] }) };
    case 3:
      return { round: 3, payload: codecs.vss3.encode({ confirmation: m.confirmation }) };
  }
}

/** Envelope round and payload -> protocol round package and extras; typed errors name `from`. */
export function decodeVss(
  round: number,
  payload: Uint8Array,
  from: string,
): { message: CeremonyMessage; extras: VssExtras } {
  const opts = { from };
  switch (round) {
    case 1: {
      const { context, ...m } = codecs.vss1.decode(payload, opts);
      return { message: { round: 1, ...m }, extras: { context } };
    }
    case 2:
      return { message: { round: 2, ...codecs.vss2.decode(payload, opts) }, extras: {} };
    case 3:
      return { message: { round: 3, ...codecs.vss3.decode(payload, opts) }, extras: {} };
    default:
      throw new FrostnetError('INVALID_INPUT', `no ceremony round ${round} (from ${from})`, [from]);
  }
}

/** A custody proposal as decoded from the wire (uint64 expiry, empty string for no lost party) made typed. */
export function proposalFromWire(w: unknown, from: string): CustodyProposal {
  const bad = (why: string) =>
    new FrostnetError('INVALID_INPUT', `custody proposal from ${from}: ${why}`, [from]);
  if (w === null || typeof w !== 'object') throw bad('missing');
  const p = w as Record<string, unknown> & { expiresAt?: unknown; lost?: unknown; kind?: unknown };
  if (!PROPOSAL_KINDS.includes(p.kind as ProposalKind)) throw bad(`unknown kind ${String(p.kind)}`);
  const expiresAt = typeof p.expiresAt === 'bigint' ? Number(p.expiresAt) : p.expiresAt;
  if (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt)) throw bad('bad expiry');
  const { lost, ...rest } = p;
  return {
    ...(rest as unknown as CustodyProposal),
    expiresAt,
    ...(typeof lost === 'string' && lost !== '' && { lost }),
  };
}

/** A signed proposal from an invite; undefined when the invite carries none. */
export function signedProposalFromWire(
  w: WireSignedProposal | null | undefined,
  from: string,
): SignedProposal | undefined {
  if (!w) return undefined;
  return { proposal: proposalFromWire(w.proposal, from), signature: w.signature };
}

/** Keeps only the payload's single `oneof` member, checked to be present. */
function withPayload(
  m: { payload?: Record<string, unknown> } & Omit<SignRequestMsg, 'payload'>,
  from: string,
): SignRequestMsg {
  const p = m.payload ?? {};
  const kind = (p as { kind?: string }).kind;
  if (kind === 'proposal')
    return {
      ...m,
      payload: {
        proposal: { proposal: proposalFromWire((p.proposal as { proposal?: unknown })?.proposal, from) },
      },
    };
  // A coordinator from before signing domains means a path from the group key itself: signing it below the raw
  // branch would answer another question than the one asked.
  if (kind === 'raw')
    throw new FrostnetError(
      'BAD_REQUEST',
      `raw-message request from ${from} predates signing domains (its path is not below the raw-message branch); upgrade that party`,
      [from],
    );
  if (kind === 'rawInBranch') return { ...m, payload: { raw: p.rawInBranch as RawWire } };
  if (kind !== 'psbt' && kind !== 'typedData' && kind !== 'drill')
    throw new FrostnetError('INVALID_INPUT', `sign request from ${from} has no payload`, [from]);
  return { ...m, payload: { [kind]: p[kind] } as SignPayload };
}

type RawWire = { message: Uint8Array; path: number[]; taproot: boolean };

/** The payload as the wire carries it: a raw message in the oneof member that says its path is below the branch. */
export const payloadToWire = (p: SignPayload): Record<string, unknown> =>
  'raw' in p ? { rawInBranch: p.raw } : p;

export const decodeSignRequest = (payload: Uint8Array, from: string): SignRequestMsg =>
  withPayload(codecs.signRequest.decode(payload, { from }), from);

export const encodeSignRequest = (m: SignRequestMsg): Uint8Array =>
  codecs.signRequest.encode({ ...m, payload: payloadToWire(m.payload) } as never);

export const encodeSignOneRound = (m: SignOneRoundMsg): Uint8Array =>
  codecs.signOneRound.encode({
    request: { ...m.request, payload: payloadToWire(m.request.payload) },
    package: m.package,
  } as never);

export function decodeSignOneRound(payload: Uint8Array, from: string): SignOneRoundMsg {
  const m = codecs.signOneRound.decode(payload, { from });
  if (!m.request || !m.package)
    throw new FrostnetError('INVALID_INPUT', `incomplete one-round request from ${from}`, [from]);
  return { request: withPayload(m.request, from), package: m.package };
}

export const toWireCommitment = (c: NonceCommitments): WireCommitment => ({
  hiding: c.hiding,
  binding: c.binding,
});
export const fromWireCommitment = (identifier: string, c: WireCommitment): NonceCommitments => ({
  identifier,
  hiding: c.hiding as Uint8Array<ArrayBuffer>,
  binding: c.binding as Uint8Array<ArrayBuffer>,
});
