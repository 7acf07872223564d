/**
 * The control API's request bodies, each checked whole before anything starts: a bad one is answered 400 with
 * the field named (`"threshold" must be an integer from 2 to 3`), never accepted and failed later. What needs
 * the party's state (the members of a key, the configured peers) is passed in.
 */
import { DEFAULT_NETWORK, type NetworkName, parseNetwork } from '../../chains/bitcoin/network-names.ts';
import type { RecoveryPolicyJson } from '../../chains/bitcoin/recovery.ts';
import { hexToBytes } from '../../protocol/curve.ts';
import { errorMessage, FrostnetError } from '../../protocol/errors.ts';
import { MAX_PROPOSAL_SECONDS } from '../../protocol/proposal.ts';
import { MAX_MESSAGE_BYTES, parseScheme } from '../../protocol/sign.ts';
import type { SignPayload } from '../session/messages.ts';
import type { SignOptions } from '../signing/coordinator.ts';
import {
  array,
  boolean,
  type Fail,
  integer,
  nonEmptyString,
  object,
  peerAddrs,
  peerId,
  peerIds,
} from '../storage/fields.ts';
import { validateKeyName } from '../storage/keystore.ts';

/** At most this many parties in a key (the FROST identifiers are one byte wide). */
export const MAX_PARTIES = 255;
const UNHARDENED = 2 ** 31 - 1;
const PEER_NAME = /^[\w.-]{1,64}$/;

const bad: Fail = (field, problem) => {
  throw new FrostnetError('BAD_REQUEST', `"${field}" ${problem}`);
};

/** Runs a domain check of one field (a key name, a scheme); its refusal becomes that field's. */
function checked<T>(field: string, check: () => T): T {
  try {
    return check();
  } catch (e) {
    return bad(field, `is refused: ${errorMessage(e)}`);
  }
}

const body = (b: unknown): Record<string, unknown> => object(b, '(body)', bad);

/** What the party knows that a body is checked against. */
export type PartyView = { self: string; peers: readonly string[] };

/**
 * The members of a new key or committee: distinct peer ids, this party and its configured peers only, and a
 * threshold from 2 to their number.
 */
function committee(b: Record<string, unknown>, party: PartyView, o: { withSelf: boolean }) {
  const parties = peerIds(b.parties, 'parties', 2, MAX_PARTIES, bad);
  if (o.withSelf && !parties.includes(party.self))
    bad('parties', `must include this party (${party.self}): a party creates only keys it holds a share of`);
  const known = new Set(party.peers);
  const unknown = parties.filter((p) => p !== party.self && !known.has(p));
  if (unknown.length)
    bad(
      'parties',
      `names parties that are not configured peers: ${unknown.join(', ')} (add them with "frostnet peers add")`,
    );
  return { parties, threshold: integer(b.threshold, 'threshold', 2, parties.length, bad) };
}

/** POST /v1/keys: a DKG. */
export function keygenBody(raw: unknown, party: PartyView) {
  const b = body(raw);
  const name = checked('name', () => validateKeyName(b.name));
  const network: NetworkName =
    b.network === undefined ? DEFAULT_NETWORK : checked('network', () => parseNetwork(b.network as string));
  return { name, network, recovery: b.recovery, ...committee(b, party, { withSelf: true }) };
}

/**
 * The keygen body's optional `recovery`: a recovery policy in its JSON form (chains/bitcoin/recovery.ts), checked
 * and made canonical. Async: the Bitcoin modules load only for a key that has one.
 */
export async function keygenRecovery(raw: unknown): Promise<RecoveryPolicyJson | undefined> {
  if (raw === undefined) return undefined;
  const { canonicalRecovery } = await import('../ceremonies/key-network.ts');
  return checked('recovery', () => {
    if (raw === null || typeof raw !== 'object') throw new Error('must be a policy object');
    return canonicalRecovery(raw);
  });
}

/** How long the custody proposal of a refresh, reshare or repair stays valid: `expiresInSeconds`. */
function proposalOptions(b: Record<string, unknown>): { expiresInSeconds?: number } {
  if (b.expiresInSeconds === undefined) return {};
  return { expiresInSeconds: integer(b.expiresInSeconds, 'expiresInSeconds', 60, MAX_PROPOSAL_SECONDS, bad) };
}

/** POST /v1/keys/:name/refresh: nothing but the proposal's lifetime. */
export function refreshBody(raw: unknown) {
  return { opts: proposalOptions(body(raw)) };
}

/** POST /v1/keys/:name/reshare: the new committee. */
export function reshareBody(raw: unknown, party: PartyView) {
  const b = body(raw);
  return { ...committee(b, party, { withSelf: false }), opts: proposalOptions(b) };
}

/** POST /v1/keys/:name/repair: the member whose share is rebuilt. */
export function repairBody(raw: unknown) {
  const b = body(raw);
  return { party: peerId(b.party, 'party', bad), opts: proposalOptions(b) };
}

/** POST /v1/keys/:name/abandon: `confirm` repeats the key name. */
export function abandonBody(raw: unknown, name: string) {
  if (body(raw).confirm !== name)
    bad('confirm', `must repeat the key name (${name}) to abandon its pending epoch`);
  return { confirm: name };
}

/** The longest reason an operator may give with a decision. */
export const MAX_REASON_CHARS = 500;

/** POST /v1/approvals/:id/approve|reject|cancel: an optional `reason`, kept in the audit log. */
export function decisionBody(raw: unknown): { reason?: string } {
  const r = body(raw).reason;
  if (r === undefined || r === '') return {};
  if (
    typeof r !== 'string' ||
    r.length > MAX_REASON_CHARS ||
    [...r].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)
  )
    bad('reason', `must be text of at most ${MAX_REASON_CHARS} characters, without control characters`);
  return { reason: (r as string).trim() };
}

/** POST /v1/keys/:name/vouch: the member replaced and its new peer id. */
export function vouchBody(raw: unknown) {
  const b = body(raw);
  return { party: peerId(b.party, 'party', bad), peer: peerId(b.peer, 'peer', bad) };
}

/** POST /v1/keys/:name/erase: `confirm` repeats the key name. */
export function eraseBody(raw: unknown, name: string) {
  if (body(raw).confirm !== name) bad('confirm', `must repeat the key name (${name}) to erase its share`);
  return { confirm: name };
}

/** POST /v1/keys/:name/backup: the passphrase to encrypt the share under, and whether to keep the identity. */
export function backupExportBody(raw: unknown) {
  const b = body(raw);
  return {
    passphrase: nonEmptyString(b.passphrase, 'passphrase', bad),
    withIdentity: b.withIdentity === undefined ? false : boolean(b.withIdentity, 'withIdentity', bad),
  };
}

/** POST /v1/backups: a backup file (as JSON) and its passphrase. */
export function backupImportBody(raw: unknown) {
  const b = body(raw);
  return {
    backup: object(b.backup, 'backup', bad),
    passphrase: nonEmptyString(b.passphrase, 'passphrase', bad),
  };
}

/** POST /v1/peers: a party to add, or to replace by peer id. */
export function peerBody(raw: unknown, party: PartyView) {
  const b = body(raw);
  const id = peerId(b.id, 'id', bad);
  if (id === party.self) bad('id', 'is this party itself');
  const addrs = peerAddrs(b.addrs ?? [], id, 'addrs', bad);
  if (b.name === undefined) return { id, addrs };
  return { id, addrs, name: peerName(b.name) };
}

function peerName(raw: unknown): string {
  const name = nonEmptyString(raw, 'name', bad);
  if (!PEER_NAME.test(name)) bad('name', 'may hold letters, digits, "_", "-" and "." (at most 64)');
  if (name === 'self') bad('name', 'cannot be "self", which always means this party');
  return name;
}

/** POST /v1/peers/:peer/rename: the new name. */
export function peerNameBody(raw: unknown): { name: string } {
  const b = body(raw);
  for (const k of Object.keys(b)) if (k !== 'name') bad(k, 'is not a field of this request');
  return { name: peerName(b.name) };
}

/**
 * POST /v1/keys/:name/sign: exactly one of a raw message (hex, with an unhardened path below the raw-message
 * branch and a Taproot flag), a drill challenge (hex), a PSBT (base64; its network, when given, must be the
 * key's) or EIP-712 typed data (with an account); signers, when given, are members of the key.
 */
export function signBody(
  raw: unknown,
  key: { members: readonly string[]; network?: NetworkName },
): { opts: SignOptions; finalize: boolean } {
  const b = body(raw);
  const { members } = key;
  const scheme = checked('scheme', () => parseScheme(b.scheme ?? 'bip340'));
  if (['message', 'drill', 'psbt', 'typedData'].filter((k) => b[k] !== undefined).length !== 1)
    throw new FrostnetError('BAD_REQUEST', 'give exactly one of "message", "drill", "psbt" or "typedData"');
  let payload: SignPayload;
  if (b.drill !== undefined) {
    const challenge = hex(b.drill, 'drill');
    if (challenge.length > MAX_MESSAGE_BYTES) bad('drill', `must be at most ${MAX_MESSAGE_BYTES} bytes`);
    for (const f of ['path', 'taproot'])
      if (b[f] !== undefined) bad(f, 'does not apply to a drill, which signs under the drill key');
    payload = { drill: { challenge } };
  } else if (b.message !== undefined) {
    const message = hex(b.message, 'message');
    if (message.length > MAX_MESSAGE_BYTES) bad('message', `must be at most ${MAX_MESSAGE_BYTES} bytes`);
    const path = array(b.path ?? [], 'path', bad);
    if (path.length > 255) bad('path', 'must be at most 255 steps deep');
    payload = {
      raw: {
        message,
        path: path.map((i, k) => integer(i, `path[${k}]`, 0, UNHARDENED, bad)),
        taproot: b.taproot === undefined ? false : boolean(b.taproot, 'taproot', bad),
      },
    };
  } else if (b.psbt !== undefined) {
    const text = nonEmptyString(b.psbt, 'psbt', bad);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) bad('psbt', 'must be base64 text');
    // The key's own network unless the body names one (which must then be the key's: the parties refuse others).
    // A key from before the network was stored takes the body's, mainnet by default, as it always did.
    const network =
      b.network === undefined
        ? (key.network ?? DEFAULT_NETWORK)
        : checked('network', () => parseNetwork(b.network as string));
    if (key.network !== undefined && network !== key.network)
      bad(
        'network',
        `is ${network}, but key is a ${key.network} key; its parties sign ${key.network} PSBTs only`,
      );
    payload = { psbt: { psbt: Buffer.from(text, 'base64'), network } };
  } else {
    const json = typeof b.typedData === 'string' ? b.typedData : JSON.stringify(b.typedData);
    object(parseJson(json, 'typedData'), 'typedData', bad);
    payload = { typedData: { json, account: integer(b.account ?? 0, 'account', 0, UNHARDENED, bad) } };
  }
  let signers: string[] | undefined;
  if (b.signers !== undefined) {
    signers = peerIds(b.signers, 'signers', 1, MAX_PARTIES, bad);
    const outside = signers.filter((s) => !members.includes(s));
    if (outside.length)
      bad('signers', `names parties that are not members of the key: ${outside.join(', ')}`);
  }
  const finalize = b.finalize === undefined ? false : boolean(b.finalize, 'finalize', bad);
  return { opts: { scheme, payload, signers }, finalize };
}

function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return bad(field, 'is not valid JSON');
  }
}

function hex(v: unknown, field: string): Uint8Array {
  if (typeof v !== 'string' || !/^(0x)?([0-9a-fA-F]{2})*$/.test(v)) bad(field, 'must be hex');
  return hexToBytes((v as string).replace(/^0x/, '').toLowerCase());
}
