/**
 * Property-based fuzzing of every decoder and ceremony entry point with random and mutated input: the only
 * failure allowed is a typed FrostnetError; anything else (a TypeError from deep inside a library, a hang) fails.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { nullLogger } from '../../node/ops/log.ts';
import { codecs, decodeSignRequest, decodeVss, encodeVss } from '../../node/session/messages.ts';
import { Router } from '../../node/session/router.ts';
import { resolveRequest } from '../../node/signing/targets.ts';
import { decodeEnvelope, type Envelope, encodeEnvelope } from '../../node/transport/wire.ts';
import { createDkg } from '../../protocol/dkg.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { NonceStore, signShare } from '../../protocol/sign.ts';
import type { CeremonyMessage } from '../../protocol/vss.ts';
import { dkgContexts, makeKey, partyNames } from '../helpers/keys.ts';

const RUNS = { numRuns: 300 };

/** Runs `fn`; passes if it returns or throws a FrostnetError. */
function onlyTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof FrostnetError))
      assert.fail(`untyped ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
}

/** The same for an async entry point: it resolves, or rejects with a FrostnetError. */
async function onlyTypedAsync(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof FrostnetError))
      assert.fail(`untyped ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
}

/** Random edits of a valid encoding: flips, truncation, extension, splices. */
const mutated = (valid: Uint8Array) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    fc.tuple(fc.nat(valid.length), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const b = Uint8Array.from(valid);
      if (b.length) b[i % b.length] ^= x;
      return b;
    }),
    fc.nat(valid.length).map((n) => valid.slice(0, n)),
    fc.uint8Array({ maxLength: 40 }).map((extra) => Uint8Array.from([...valid, ...extra])),
  );

describe('wire decoders only ever throw typed errors', () => {
  const env: Envelope = {
    version: 1,
    sessionId: randomBytes(32),
    ceremony: 'SIGN',
    round: 3,
    sender: '12D3KooWBoHZYSmwNrpgSo3zouWb88SQ3r7gjYnPHsdxEXFQ1tQh',
    payload: randomBytes(40),
  };
  const validEnvelope = encodeEnvelope(env);

  test('envelope', () => {
    fc.assert(
      fc.property(mutated(validEnvelope), (b) => onlyTyped(() => decodeEnvelope(b))),
      RUNS,
    );
  });

  test('every ceremony payload codec', () => {
    const samples = Object.values(codecs);
    fc.assert(
      fc.property(fc.nat(samples.length - 1), fc.uint8Array({ maxLength: 300 }), (i, b) =>
        onlyTyped(() => samples[i].decode(b, { from: 'peer' })),
      ),
      RUNS,
    );
  });

  test('sign requests and VSS rounds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.uint8Array({ maxLength: 300 }), (round, b) => {
        onlyTyped(() => decodeSignRequest(b, 'peer'));
        onlyTyped(() => decodeVss(round, b, 'peer'));
      }),
      RUNS,
    );
  });
});

describe('ceremony entry points only ever throw typed errors', () => {
  test('DKG receive with mutated real messages', () => {
    const members = partyNames(3);
    const ctxs = dkgContexts(2, members);
    // Round-1 packages that party-2 and party-3 send party-1, encoded for the wire.
    const encoded = ctxs.slice(1).map((c) =>
      encodeVss(
        createDkg(c)
          .start()
          .send.find((o) => o.to === 'party-1')!.message,
      ),
    );
    fc.assert(
      fc.property(
        fc.nat(1),
        mutated(encoded[0].payload),
        fc.integer({ min: 0, max: 4 }),
        (who, bytes, round) => {
          const victim = createDkg(ctxs[0]);
          victim.start();
          onlyTyped(() => {
            const m: CeremonyMessage = decodeVss(round, bytes, members[who + 1]).message;
            victim.receive(members[who + 1], m);
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  test('DKG receive with structurally random messages', () => {
    const ctx = dkgContexts(2, partyNames(3))[0];
    const anything = fc.oneof(
      fc.constant(null),
      fc.record({
        round: fc.integer({ min: -1, max: 5 }),
        commitment: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 4 }),
        proof: fc.uint8Array({ maxLength: 70 }),
      }),
      fc.record({
        round: fc.constant(2),
        share: fc.uint8Array({ maxLength: 40 }),
        digests: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 4 }),
      }),
      fc.record({ round: fc.constant(3), confirmation: fc.anything() }),
    );
    fc.assert(
      fc.property(fc.constantFrom('party-2', 'party-3', 'stranger', ''), anything, (from, m) => {
        const d = createDkg(ctx);
        d.start();
        onlyTyped(() => d.receive(from, m as never));
      }),
      { numRuns: 200 },
    );
  });

  test('signShare with mutated packages never signs something else and never crashes', () => {
    const keys = makeKey(2, 3);
    const k = keys.get('party-1')!;
    const message = randomBytes(32);
    fc.assert(
      fc.property(
        fc.record({
          epoch: fc.integer({ min: -1, max: 2 }),
          scheme: fc.constantFrom('bip340', 'rfc9591', 'x'),
          message: fc.oneof(fc.constant(message), fc.uint8Array({ maxLength: 40 })),
          commitments: fc.array(
            fc.record({
              identifier: fc.oneof(fc.constant(k.secret.identifier), fc.string()),
              hiding: fc.uint8Array({ maxLength: 34 }),
              binding: fc.uint8Array({ maxLength: 34 }),
            }),
            { maxLength: 4 },
          ),
        }),
        (pkg) => {
          const store = new NonceStore();
          store.commit(k);
          onlyTyped(() => signShare(k, store, pkg as never, { scheme: 'bip340', message, steps: [] }));
        },
      ),
      { numRuns: 200 },
    );
  });

  test('sign request resolution with random payloads', async () => {
    const group = makeKey(2, 3).get('party-1')!.group;
    const payload = fc.oneof(
      fc.record({
        raw: fc.record({
          message: fc.uint8Array({ maxLength: 64 }),
          path: fc.array(fc.integer({ min: -2, max: 2 ** 32 }), { maxLength: 3 }),
          taproot: fc.boolean(),
        }),
      }),
      fc.record({
        psbt: fc.record({
          psbt: fc.uint8Array({ maxLength: 200 }),
          network: fc.constantFrom('mainnet', 'regtest', 'moon'),
        }),
      }),
      fc.record({
        typedData: fc.record({
          json: fc.oneof(fc.string(), fc.json()),
          account: fc.integer({ min: -1, max: 2 ** 31 }),
        }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('bip340', 'rfc9591'), payload, (scheme, p) =>
        onlyTypedAsync(() =>
          resolveRequest({ group, network: 'mainnet' }, scheme as never, p as never, Date.UTC(2025, 0, 1)),
        ),
      ),
      { numRuns: 300 },
    );
  });

  test('the router never throws, whatever arrives', () => {
    const router = new Router(nullLogger);
    router.onOpen('SIGN', 1, () => {
      throw new FrostnetError('INVALID_INPUT', 'refused');
    });
    router.onOpen('DKG', 0, () => ({
      receive: () => {
        throw new TypeError('a bug in a session');
      },
    }));
    fc.assert(
      fc.property(
        fc.constantFrom('DKG', 'SIGN', 'REFRESH', 'CONTROL'),
        fc.integer({ min: 0, max: 9 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (ceremony, round, sid) => {
          router.dispatch(
            {
              version: 1,
              sessionId: sid,
              ceremony: ceremony as never,
              round,
              sender: 'x',
              payload: new Uint8Array(),
            },
            'x',
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
