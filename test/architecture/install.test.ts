/**
 * A clean install on Node 20 prints no EBADENGINE (issue 16): every package in the lock file accepts Node 20.19,
 * the oldest Node 20 the dependencies support (@noble/* need 20.19). libp2p 3 asks for p-retry 8, which wants
 * Node 22 only; package.json overrides it with p-retry 7.1.1 (Node 20), and the second test runs p-retry as
 * libp2p's reconnect queue, its only user, calls it, so that the override is proven on the API libp2p uses.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NODE_20: readonly number[] = [20, 19, 0];

const parts = (v: string) => v.split('.').map((x) => Number.parseInt(x, 10) || 0);
const compare = (a: readonly number[], b: readonly number[]) => {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
};

/** Whether `version` satisfies `range`: alternatives (`||`) of `>=X` or `^X`, the forms the lock file holds. */
export function accepts(range: string, version: readonly number[]): boolean {
  return range.split('||').some((alt) => {
    const m = /^\s*(>=|\^)\s*v?(\d+(?:\.\d+){0,2})\s*$/.exec(alt);
    assert.ok(m, `engines range ${JSON.stringify(range)}: a form this test does not read; extend it`);
    const floor = parts(m[2]!);
    if (compare(version, floor) < 0) return false;
    return m[1] === '>=' || version[0] === floor[0];
  });
}

describe('a clean install on Node 20', () => {
  test('the range reader is strict where it must be', () => {
    assert.equal(accepts('>=22', NODE_20), false);
    assert.equal(accepts('>= 20.19.0', NODE_20), true);
    assert.equal(accepts('>=20.20.0', NODE_20), false);
    assert.equal(accepts('^14.21.3 || >=16', NODE_20), true);
    assert.equal(accepts('^18.17.0', NODE_20), false);
    assert.throws(() => accepts('20.x', NODE_20), /does not read/);
  });

  test('every package in the lock file accepts Node 20.19', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; engines?: { node?: string } }>;
    };
    const refused = Object.entries(lock.packages)
      .filter(([, p]) => p.engines?.node !== undefined && !accepts(p.engines.node, NODE_20))
      .map(([path, p]) => `${path}@${p.version} wants node ${p.engines!.node}`);
    assert.deepEqual(refused, []);
  });

  test("libp2p's p-retry runs the reconnect queue's call as libp2p makes it", async () => {
    const libp2p = fileURLToPath(import.meta.resolve('libp2p'));
    const queue = join(dirname(libp2p), 'connection-manager/reconnect-queue.js');
    // The call this test proves: pRetry(fn(attempt), { signal, retries, factor, minTimeout }), nothing else.
    const source = readFileSync(queue, 'utf8');
    const call = /await pRetry\(async \(attempt\) => \{[\s\S]*?\}, \{([^}]*)\}\);/.exec(source);
    assert.ok(call, 'libp2p changed how it calls p-retry: check the override in package.json again');
    assert.deepEqual(
      call[1]!.split(',').map((s) => s.trim().split(':')[0]),
      ['signal', 'retries', 'factor', 'minTimeout'],
    );
    const main = createRequire(queue).resolve('p-retry');
    const pkgFile = join(dirname(main), 'package.json');
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { version: string; engines: { node: string } };
    assert.ok(accepts(pkg.engines.node, NODE_20), `p-retry ${pkg.version} wants node ${pkg.engines.node}`);
    const { default: pRetry } = (await import(pathToFileURL(main).href)) as {
      default: (
        fn: (attempt: number) => Promise<unknown>,
        o: { signal?: AbortSignal; retries?: number; factor?: number; minTimeout?: number },
      ) => Promise<unknown>;
    };

    // Fails twice, then connects: three attempts, numbered from 1, under libp2p's options.
    const seen: number[] = [];
    const out = await pRetry(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 3) throw new Error(`dial ${attempt} failed`);
        return 'connected';
      },
      { signal: new AbortController().signal, retries: 5, factor: 1, minTimeout: 0 },
    );
    assert.equal(out, 'connected');
    assert.deepEqual(seen, [1, 2, 3]);

    // `retries` failures are retried, then the last error is the outcome (libp2p then drops the keep-alive tag).
    let tries = 0;
    await assert.rejects(
      pRetry(
        async () => {
          tries++;
          throw new Error(`dial ${tries} failed`);
        },
        { retries: 2, factor: undefined, minTimeout: 0 },
      ),
      /dial 3 failed/,
    );
    assert.equal(tries, 3);

    // The queue's abort signal (the node stopping) ends the retries with the signal's reason.
    const stop = new AbortController();
    await assert.rejects(
      pRetry(
        async () => {
          stop.abort(new Error('node stopping'));
          throw new Error('dial failed');
        },
        { signal: stop.signal, retries: 5, minTimeout: 0 },
      ),
      /node stopping/,
    );
  });
});
