import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  encodeFrame,
  FrameDecoder,
  loadProtoType,
} from '../../../node/transport/wire.ts';
import { FrostnetError } from '../../../protocol/errors.ts';

const SENDER = '12D3KooWLgpS7B6N9RMbPKqna3V2wBWDpsJnVWPNP6gSiycgCu56';

const envelope = (over: Partial<Envelope> = {}): Envelope => ({
  version: 1,
  sessionId: new Uint8Array(32).fill(7),
  ceremony: 'SIGN',
  round: 2,
  sender: SENDER,
  payload: new Uint8Array([1, 2, 3, 4]),
  ...over,
});

const invalid = (code: string, pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof FrostnetError, `expected FrostnetError, got ${String(e)}`);
  assert.equal(e.code, code);
  assert.match(e.message, pattern);
  return true;
};

// A raw protobuf encoding of the envelope, bypassing encodeEnvelope's own validation.
const rawEnvelope = loadProtoType<Record<string, unknown>>(
  new URL('../../../proto/envelope.proto', import.meta.url),
  'frostnet.v1.Envelope',
);

describe('envelope codec', () => {
  test('round trips every ceremony, with plain Uint8Array fields', () => {
    for (const ceremony of ['DKG', 'SIGN', 'REFRESH', 'RESHARE', 'REPAIR', 'CONTROL'] as const) {
      const env = envelope({ ceremony, round: 0xffffffff, payload: new Uint8Array(randomBytes(100)) });
      const back = decodeEnvelope(encodeEnvelope(env));
      assert.deepEqual(back, env);
      assert.equal(Object.getPrototypeOf(back.sessionId), Uint8Array.prototype);
    }
  });

  test('an empty payload decodes as an empty Uint8Array', () => {
    const back = decodeEnvelope(encodeEnvelope(envelope({ payload: new Uint8Array(0) })));
    assert.deepEqual(back.payload, new Uint8Array(0));
  });

  test('oversized input is refused before parsing, naming the sender', () => {
    const bytes = encodeEnvelope(envelope({ payload: new Uint8Array(2000) }));
    assert.throws(
      () => decodeEnvelope(bytes, { maxBytes: 1000, from: 'peerX' }),
      (e: unknown) =>
        invalid('INVALID_INPUT', /peerX.*exceed the limit 1000/)(e) &&
        (e as FrostnetError).culprits[0] === 'peerX',
    );
  });

  test('garbage is a typed error', () => {
    assert.throws(
      () => decodeEnvelope(new Uint8Array([0xff, 0xff, 0xff])),
      invalid('INVALID_INPUT', /undecodable/),
    );
  });

  test('unknown version is refused', () => {
    const bytes = rawEnvelope.encode({ ...envelope(), version: 2 });
    assert.throws(() => decodeEnvelope(bytes), invalid('INVALID_INPUT', /unknown version 2/));
    assert.throws(() => decodeEnvelope(new Uint8Array(0)), invalid('INVALID_INPUT', /unknown version 0/));
  });

  test('a session id that is not 32 bytes is refused', () => {
    for (const n of [0, 31, 33]) {
      const bytes = rawEnvelope.encode({ ...envelope(), sessionId: new Uint8Array(n) });
      assert.throws(() => decodeEnvelope(bytes), invalid('INVALID_INPUT', /session id must be 32 bytes/));
    }
  });

  test('unknown or unspecified ceremony is refused', () => {
    const unspecified = rawEnvelope.encode({ ...envelope(), ceremony: 'CEREMONY_UNSPECIFIED' });
    assert.throws(() => decodeEnvelope(unspecified), invalid('INVALID_INPUT', /unknown ceremony/));
    // Field 3 (ceremony) as varint 9, appended to a valid envelope: proto3 keeps the unknown number.
    const bytes = new Uint8Array([...encodeEnvelope(envelope()), 0x18, 9]);
    assert.throws(() => decodeEnvelope(bytes), invalid('INVALID_INPUT', /unknown Ceremony value "9"/));
  });

  test('empty, overlong or non-peer-id senders are refused', () => {
    for (const sender of ['', 'x'.repeat(129), 'bad sender\n', 'é']) {
      const bytes = rawEnvelope.encode({ ...envelope(), sender });
      assert.throws(() => decodeEnvelope(bytes), invalid('INVALID_INPUT', /sender/));
    }
  });

  test('encodeEnvelope refuses what a peer would refuse', () => {
    assert.throws(
      () => encodeEnvelope(envelope({ sessionId: new Uint8Array(5) })),
      invalid('INVALID_INPUT', /32/),
    );
    assert.throws(
      () => encodeEnvelope(envelope({ ceremony: 'NOPE' as Envelope['ceremony'] })),
      invalid('INVALID_INPUT', /ceremony/),
    );
  });

  test('random bytes and mutations of valid envelopes only ever throw FrostnetError', () => {
    const valid = encodeEnvelope(envelope());
    let decoded = 0;
    for (let i = 0; i < 20_000; i++) {
      let bytes: Uint8Array;
      if (i % 2 === 0) {
        bytes = randomBytes(i % 97); // a Buffer: decode accepts Buffer input too
      } else {
        bytes = new Uint8Array(valid);
        for (let k = 0; k <= i % 4; k++) bytes[(i * 31 + k * 7) % bytes.length] = randomBytes(1)[0];
      }
      try {
        decodeEnvelope(bytes);
        decoded++;
      } catch (e) {
        assert.ok(
          e instanceof FrostnetError,
          `non-typed error for ${Buffer.from(bytes).toString('hex')}: ${e}`,
        );
        assert.equal(e.code, 'INVALID_INPUT');
      }
    }
    // Some mutations (inside the payload) stay valid: the loop did exercise both paths.
    assert.ok(decoded > 0);
  });
});

describe('loadProtoType', () => {
  const dir = mkdtempSync(join(tmpdir(), 'frostnet-wire-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 't.proto');
  writeFileSync(
    file,
    `syntax = "proto3"; package t;
     enum Kind { KIND_UNSPECIFIED = 0; A = 1; B = 2; }
     message Inner { Kind kind = 1; bytes data = 2; }
     message Outer { uint64 big = 1; repeated Inner items = 2; map<string, Inner> byName = 3; string label = 4; }`,
  );
  type Inner = { kind: string; data: Uint8Array };
  type Outer = { big: bigint; items: Inner[]; byName: Record<string, Inner>; label: string };
  const codec = loadProtoType<Outer>(file, 't.Outer');

  test('round trips nested, repeated, map and 64-bit fields', () => {
    const value: Outer = {
      big: 2n ** 63n + 5n,
      items: [{ kind: 'A', data: new Uint8Array([1]) }],
      byName: { x: { kind: 'B', data: new Uint8Array([2, 3]) } },
      label: 'hello',
    };
    assert.deepEqual(codec.decode(codec.encode(value)), value);
  });

  test('decode fills defaults with plain types', () => {
    assert.deepEqual(codec.decode(new Uint8Array(0)), { big: 0n, items: [], byName: {}, label: '' });
  });

  test('unknown enum values are refused on encode and decode, nested too', () => {
    assert.throws(
      () => codec.encode({ big: 0n, items: [{ kind: 'Z', data: new Uint8Array(0) }], byName: {}, label: '' }),
      invalid('INVALID_INPUT', /items\.kind: unknown Kind value "Z"/),
    );
    // Outer.items[0] = Inner{ kind: 7 }
    const bytes = new Uint8Array([0x12, 0x02, 0x08, 0x07]);
    assert.throws(
      () => codec.decode(bytes, { from: 'peerY' }),
      invalid('INVALID_INPUT', /from peerY.*unknown Kind/),
    );
  });

  test('decode errors are typed: size, garbage, non-bytes', () => {
    assert.throws(
      () => codec.decode(new Uint8Array(11), { maxBytes: 10 }),
      invalid('INVALID_INPUT', /limit 10/),
    );
    assert.throws(() => codec.decode(new Uint8Array([0x0a, 0x05])), invalid('INVALID_INPUT', /undecodable/));
    assert.throws(
      () => codec.decode('nope' as unknown as Uint8Array),
      invalid('INVALID_INPUT', /not a byte array/),
    );
  });
});

describe('frames', () => {
  const collect = (decoder: FrameDecoder, chunks: Uint8Array[]) => {
    const frames: Uint8Array[] = [];
    for (const c of chunks) decoder.push(c, (f) => frames.push(f));
    return frames;
  };
  const ignore = () => {};

  test('frames split and merged arbitrarily decode to the same bodies', () => {
    const bodies = [
      new Uint8Array(0),
      new Uint8Array(randomBytes(1)),
      new Uint8Array(randomBytes(127)),
      new Uint8Array(randomBytes(70_000)),
    ];
    const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
    for (const size of [1, 2, 3, 1000, stream.length]) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
      assert.deepEqual(
        collect(new FrameDecoder(), chunks).map((f) => Buffer.from(f)),
        bodies.map((b) => Buffer.from(b)),
      );
    }
  });

  test('the length prefix is a minimal varint', () => {
    assert.deepEqual([...encodeFrame(new Uint8Array(300)).subarray(0, 2)], [0xac, 0x02]);
    assert.equal(encodeFrame(new Uint8Array(127)).length, 128);
  });

  test('an oversized length prefix is refused before any body is buffered', () => {
    const decoder = new FrameDecoder(1000, 'peerZ');
    const header = encodeFrame(new Uint8Array(1001), 2000).subarray(0, 2);
    assert.throws(
      () => decoder.push(header, ignore),
      invalid('INVALID_INPUT', /peerZ.*1001 exceeds the limit 1000/),
    );
    assert.equal(decoder.buffered, 0);
    // The stream's framing is lost: the decoder stays failed.
    assert.throws(
      () => decoder.push(encodeFrame(new Uint8Array(1)), ignore),
      invalid('INVALID_INPUT', /1001/),
    );
  });

  test('frames before a bad prefix in the same chunk are still delivered', () => {
    const good = encodeFrame(new Uint8Array([1, 2]));
    const bad = encodeFrame(new Uint8Array(20), 100).subarray(0, 1);
    const frames: Uint8Array[] = [];
    assert.throws(
      () => new FrameDecoder(10).push(new Uint8Array([...good, ...bad]), (f) => frames.push(f)),
      /exceeds the limit 10/,
    );
    assert.deepEqual(frames, [new Uint8Array([1, 2])]);
  });

  test('malformed and non-minimal prefixes are refused', () => {
    assert.throws(
      () => new FrameDecoder().push(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80]), ignore),
      /malformed/,
    );
    assert.throws(() => new FrameDecoder().push(new Uint8Array([0x81, 0x00]), ignore), /non-minimal/);
  });

  test('encodeFrame refuses bodies above the limit', () => {
    assert.throws(
      () => encodeFrame(new Uint8Array(11), 10),
      invalid('INVALID_INPUT', /exceeds the limit 10/),
    );
    assert.equal(DEFAULT_MAX_FRAME_BYTES, 1 << 20);
  });
});
