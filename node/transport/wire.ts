/**
 * The wire: protobuf codecs (the envelope and a generic loader for ceremony payload schemas) and the
 * length-prefixed frame codec used on libp2p streams.
 *
 * Everything that reads bytes from the network is bounded and validated here, and fails only with
 * FrostnetError('INVALID_INPUT', reason, [sender]): a protobufjs exception never escapes a decode.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { FrostnetError } from '../../protocol/errors.ts';

/** Default hard limit on one frame (and so on one encoded envelope): 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1 << 20;

// ---------------------------------------------------------------------------------------------------------
// Generic protobuf codecs

export interface DecodeOptions {
  /** Inputs longer than this are refused before parsing. Default DEFAULT_MAX_FRAME_BYTES. */
  maxBytes?: number;
  /** The peer the bytes came from; named in the error and set as its culprit. */
  from?: string;
}

/**
 * Encoder/decoder for one protobuf message type, working on plain objects:
 * - field names in lowerCamelCase (`session_id` -> `sessionId`);
 * - enums as their value names (`'SIGN'`); encode also accepts the numbers; unknown values are refused both ways;
 * - 64-bit integers as bigint (encode also accepts numbers and decimal strings);
 * - bytes as plain Uint8Array (never Buffer), views into the decoded input;
 * - decode fills in proto3 defaults (0, '', empty bytes, [] for repeated, {} for maps).
 */
export interface ProtoCodec<T> {
  readonly typeName: string;
  /** Throws FrostnetError('INVALID_INPUT') if `value` does not fit the schema (unknown enum, bad nested value). */
  encode(value: T): Uint8Array;
  /** Throws only FrostnetError('INVALID_INPUT'): oversized, undecodable, or an unknown enum value. */
  decode(bytes: Uint8Array, opts?: DecodeOptions): T;
}

const roots = new Map<string, protobuf.Root>();

function loadRoot(file: string | URL): protobuf.Root {
  const path = file instanceof URL ? fileURLToPath(file) : file;
  let root = roots.get(path);
  if (root === undefined) {
    root = protobuf.loadSync(path);
    root.resolveAll();
    roots.set(path, root);
  }
  return root;
}

/**
 * Loads `typeName` (fully qualified, e.g. 'frostnet.v1.Envelope') from a .proto file, once per file.
 * Pass a URL relative to the calling module: `loadProtoType(new URL('../../proto/x.proto', import.meta.url), ...)`.
 * `T` is the plain-object shape described on ProtoCodec; it is the caller's to declare.
 * Throws (at load time, a programming error) if the file or type does not exist.
 */
export function loadProtoType<T>(file: string | URL, typeName: string): ProtoCodec<T> {
  const type = loadRoot(file).lookupType(typeName);
  const what = type.name;
  return {
    typeName,
    encode(value: T): Uint8Array {
      return guard(`cannot encode ${what}`, undefined, () => {
        const bad = checkEnums(type, value as Record<string, unknown>, '', 0);
        if (bad) throw new FrostnetError('INVALID_INPUT', `cannot encode ${what}: ${bad}`);
        return plainBytes(type.encode(type.fromObject(value as Record<string, unknown>)).finish());
      });
    },
    decode(bytes: Uint8Array, opts: DecodeOptions = {}): T {
      const source = opts.from === undefined ? '' : ` from ${opts.from}`;
      const context = `invalid ${what}${source}`;
      return guard(context, opts.from, () => {
        if (!(bytes instanceof Uint8Array)) throw new TypeError('not a byte array');
        const maxBytes = opts.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
        if (bytes.byteLength > maxBytes) {
          throw new TypeError(`${bytes.byteLength} bytes exceed the limit ${maxBytes}`);
        }
        let message: protobuf.Message;
        try {
          // A plain Uint8Array (not a Buffer) makes protobufjs return plain Uint8Array views for bytes fields.
          message = type.decode(plainBytes(bytes));
        } catch (e) {
          throw new TypeError(`undecodable (${e instanceof Error ? e.message : String(e)})`);
        }
        const obj = toPlain(
          type.toObject(message, {
            longs: BigInt,
            enums: String,
            defaults: true,
            arrays: true,
            objects: true,
            oneofs: true,
          }),
        ) as Record<string, unknown>;
        const bad = checkEnums(type, obj, '', 0);
        if (bad) throw new TypeError(bad);
        return obj as T;
      });
    },
  };
}

/** Runs `fn`; any exception that is not already a FrostnetError becomes INVALID_INPUT naming `from`. */
function guard<R>(context: string, from: string | undefined, fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FrostnetError) throw e;
    const reason = e instanceof Error ? e.message : String(e);
    throw new FrostnetError('INVALID_INPUT', `${context}: ${reason}`, from === undefined ? [] : [from]);
  }
}

/** Returns null when every enum field (nested, repeated and map values included) holds a known value. */
function checkEnums(
  type: protobuf.Type,
  obj: Record<string, unknown> | null | undefined,
  path: string,
  depth: number,
): string | null {
  if (obj === null || obj === undefined || typeof obj !== 'object') return null;
  if (depth > 32) return `${path || type.name}: nested too deep`;
  for (const field of type.fieldsArray) {
    const value = obj[field.name];
    if (value === undefined || value === null) continue;
    const at = path ? `${path}.${field.name}` : field.name;
    const items: unknown[] = field.map
      ? Object.values(value as object)
      : field.repeated && Array.isArray(value)
        ? value
        : [value];
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Enum) {
      for (const v of items) {
        const known =
          typeof v === 'string' ? Object.hasOwn(rt.values, v) : typeof v === 'number' && v in rt.valuesById;
        if (!known) return `${at}: unknown ${rt.name} value ${JSON.stringify(String(v))}`;
      }
    } else if (rt instanceof protobuf.Type) {
      for (const v of items) {
        const bad = checkEnums(rt, v as Record<string, unknown>, at, depth + 1);
        if (bad) return bad;
      }
    }
  }
  return null;
}

/** A plain Uint8Array view of the same bytes (Buffer is a Uint8Array subclass that compares unequal). */
function plainBytes(b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype
    ? b
    : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Deeply replaces Buffers (protobufjs's default for empty bytes fields) by plain Uint8Arrays. */
function toPlain(value: unknown): unknown {
  if (value instanceof Uint8Array) return plainBytes(value);
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) (value as Record<string, unknown>)[k] = toPlain(v);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// The envelope

export const ENVELOPE_VERSION = 1;
export const SESSION_ID_BYTES = 32;
/** Peer ids are ~52 characters; the bound keeps a hostile sender string out of logs and maps. */
export const MAX_SENDER_CHARS = 128;

export const CEREMONIES = ['DKG', 'SIGN', 'REFRESH', 'RESHARE', 'REPAIR', 'CONTROL'] as const;
export type Ceremony = (typeof CEREMONIES)[number];

export interface Envelope {
  /** Always ENVELOPE_VERSION for now. */
  version: number;
  /** SESSION_ID_BYTES bytes. */
  sessionId: Uint8Array;
  ceremony: Ceremony;
  round: number;
  /** The sender's peer id string. */
  sender: string;
  /** The encoded ceremony message. */
  payload: Uint8Array;
}

/** What every envelope of one session from one party carries besides its round and payload. */
export type EnvelopeHeader = {
  readonly sessionId: Uint8Array;
  readonly ceremony: Ceremony;
  readonly sender: string;
};

/** An envelope of this version: the one place outbound envelopes are made. */
export const envelope = (h: EnvelopeHeader, round: number, payload: Uint8Array): Envelope => ({
  version: ENVELOPE_VERSION,
  sessionId: h.sessionId,
  ceremony: h.ceremony,
  round,
  sender: h.sender,
  payload,
});

/** `sender`'s answer to `env`, on the session and ceremony `env` came on. */
export const answerTo = (env: Envelope, sender: string, round: number, payload: Uint8Array): Envelope =>
  envelope({ sessionId: env.sessionId, ceremony: env.ceremony, sender }, round, payload);

/** The envelope as the schema allows it, before validation. */
interface RawEnvelope {
  version: number;
  sessionId: Uint8Array;
  ceremony: string | number;
  round: number;
  sender: string;
  payload: Uint8Array;
}

const envelopeCodec = loadProtoType<RawEnvelope>(
  new URL('../../proto/envelope.proto', import.meta.url),
  'frostnet.v1.Envelope',
);

const isCeremony = (c: unknown): c is Ceremony => (CEREMONIES as readonly unknown[]).includes(c);
// Peer ids are base58btc or base32 multibase strings: letters and digits only.
const SENDER = /^[A-Za-z0-9]+$/;

/** Throws FrostnetError('INVALID_INPUT') unless `env` is a well-formed version-1 envelope. */
export function validateEnvelope(env: RawEnvelope | Envelope, from?: string): Envelope {
  const fail = (reason: string): never => {
    const source = from === undefined ? '' : ` from ${from}`;
    throw new FrostnetError(
      'INVALID_INPUT',
      `invalid envelope${source}: ${reason}`,
      from === undefined ? [] : [from],
    );
  };
  if (env.version !== ENVELOPE_VERSION) fail(`unknown version ${env.version} (expected ${ENVELOPE_VERSION})`);
  if (!(env.sessionId instanceof Uint8Array) || env.sessionId.byteLength !== SESSION_ID_BYTES) {
    fail(`session id must be ${SESSION_ID_BYTES} bytes, got ${env.sessionId?.byteLength}`);
  }
  if (!isCeremony(env.ceremony)) fail(`unknown ceremony ${JSON.stringify(env.ceremony)}`);
  if (!Number.isInteger(env.round) || env.round < 0 || env.round > 0xffffffff) fail(`bad round ${env.round}`);
  if (typeof env.sender !== 'string' || env.sender.length === 0) fail('empty sender');
  if (env.sender.length > MAX_SENDER_CHARS) fail(`sender longer than ${MAX_SENDER_CHARS} characters`);
  if (!SENDER.test(env.sender)) fail('sender is not a peer id string');
  if (!(env.payload instanceof Uint8Array)) fail('payload is not bytes');
  return env as Envelope;
}

/** Validates then encodes; throws FrostnetError('INVALID_INPUT') for an envelope a peer would refuse. */
export function encodeEnvelope(env: Envelope): Uint8Array {
  return envelopeCodec.encode(validateEnvelope(env));
}

/**
 * Decodes and validates an envelope: the size limit first, then protobuf, version, 32-byte session id,
 * known ceremony, a bounded non-empty sender. Throws only FrostnetError('INVALID_INPUT', ..., [from]).
 */
export function decodeEnvelope(bytes: Uint8Array, opts: DecodeOptions = {}): Envelope {
  const raw = envelopeCodec.decode(bytes, opts);
  return validateEnvelope(raw, opts.from);
}

// ---------------------------------------------------------------------------------------------------------
// Frames: an unsigned varint (LEB128, minimal) byte length, then the body.

const MAX_VARINT_BYTES = 5; // enough for any length below 2^35, far above any sane limit

/** Prefixes `body` with its length; throws INVALID_INPUT if it exceeds `maxFrameBytes`. */
export function encodeFrame(body: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  if (body.byteLength > maxFrameBytes) {
    throw new FrostnetError(
      'INVALID_INPUT',
      `frame of ${body.byteLength} bytes exceeds the limit ${maxFrameBytes}`,
    );
  }
  const header: number[] = [];
  let n = body.byteLength;
  while (n >= 0x80) {
    header.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  header.push(n);
  const out = new Uint8Array(header.length + body.byteLength);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}

/**
 * Incremental frame decoder for one stream. `push` hands each frame a chunk completes to `onFrame`, in
 * order, as soon as it is complete (frames are fresh buffers the callee may keep). A length
 * prefix above the limit (or malformed) is refused as soon as the prefix is read, before any of the body
 * is buffered; the decoder then stays failed, since the framing of the rest of the stream is lost.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  readonly #from: string | undefined;
  #header: number[] = [];
  #body: Uint8Array | null = null;
  #filled = 0;
  #failure: FrostnetError | null = null;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES, from?: string) {
    if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 1) {
      throw new TypeError('maxFrameBytes must be a positive integer');
    }
    this.maxFrameBytes = maxFrameBytes;
    this.#from = from;
  }

  /** Bytes of the frame in progress held by the decoder. */
  get buffered(): number {
    return this.#header.length + this.#filled;
  }

  /**
   * Consumes a chunk. Throws FrostnetError('INVALID_INPUT') on an oversized or malformed length prefix, after
   * the frames before it were delivered. An exception from `onFrame` propagates and loses the rest of the chunk.
   */
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    if (this.#failure) throw this.#failure;
    let i = 0;
    while (i < chunk.byteLength) {
      if (this.#body === null) {
        const byte = chunk[i++];
        this.#header.push(byte);
        if (byte & 0x80) {
          if (this.#header.length >= MAX_VARINT_BYTES) this.#fail('malformed length prefix');
          continue;
        }
        const length = this.#headerValue();
        this.#header = [];
        if (length > this.maxFrameBytes) {
          this.#fail(`frame length ${length} exceeds the limit ${this.maxFrameBytes}`);
        }
        if (length === 0) {
          onFrame(new Uint8Array(0));
          continue;
        }
        this.#body = new Uint8Array(length);
        this.#filled = 0;
      } else {
        const take = Math.min(this.#body.byteLength - this.#filled, chunk.byteLength - i);
        this.#body.set(chunk.subarray(i, i + take), this.#filled);
        this.#filled += take;
        i += take;
        if (this.#filled === this.#body.byteLength) {
          const frame = this.#body;
          this.#body = null;
          this.#filled = 0;
          onFrame(frame);
        }
      }
    }
  }

  #headerValue(): number {
    const h = this.#header;
    // A minimal varint never ends in a zero byte after a continuation byte.
    if (h.length > 1 && h[h.length - 1] === 0) this.#fail('non-minimal length prefix');
    let value = 0;
    for (let j = h.length - 1; j >= 0; j--) value = value * 128 + (h[j] & 0x7f);
    return value;
  }

  #fail(reason: string): never {
    const source = this.#from === undefined ? '' : ` from ${this.#from}`;
    this.#failure = new FrostnetError(
      'INVALID_INPUT',
      `bad frame${source}: ${reason}`,
      this.#from === undefined ? [] : [this.#from],
    );
    this.#header = [];
    this.#body = null;
    throw this.#failure;
  }
}
