/**
 * The layer rules of docs/architecture.md, checked on every import in the tree (static, re-exports and dynamic
 * `import('...')`, type-only ones included): no import runs back up a layer, and no file takes part in an import
 * cycle.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SCANNED = ['protocol', 'chains', 'node', 'cli', 'proto', 'deploy', 'bench', 'test', 'contracts'];

/**
 * The layer of a file, from its path relative to the root. `node/*.ts` (daemon.ts, init.ts, config.ts) is the
 * composition layer: it wires the services and may use all of them.
 */
export function layerOf(file: string): string {
  const parts = file.split('/');
  if (parts.length === 1) return 'root';
  if (parts[0] === 'node') return parts.length === 2 ? 'node' : `node/${parts[1]}`;
  return parts[0] ?? file;
}

const BELOW_SESSION = ['node/transport', 'node/storage', 'node/ops', 'protocol'];
/** What each layer may import besides itself and npm packages. Anything not listed here is refused. */
export const MAY_IMPORT: Record<string, readonly string[]> = {
  protocol: [],
  chains: ['protocol'],
  proto: [],
  'node/ops': ['protocol'],
  'node/storage': ['node/ops', 'protocol'],
  'node/transport': ['node/storage', 'node/ops', 'protocol'],
  'node/session': BELOW_SESSION,
  'node/signing': ['node/session', ...BELOW_SESSION, 'chains'],
  'node/policy': ['node/signing', 'node/storage', 'node/ops', 'protocol', 'chains'],
  'node/ceremonies': ['node/policy', 'node/signing', 'node/session', ...BELOW_SESSION, 'chains'],
  'node/api': ['node/ceremonies', 'node/policy', 'node/signing', 'node/session', ...BELOW_SESSION, 'chains'],
  // The web console serves the control API's routes to a browser session: it sits beside node/api.
  'node/console': ['node/api', 'node/policy', 'node/signing', ...BELOW_SESSION, 'chains'],
  node: [
    'node/api',
    'node/console',
    'node/ceremonies',
    'node/policy',
    'node/signing',
    'node/session',
    ...BELOW_SESSION,
    'chains',
  ],
  // The CLI talks to the control API; it shares the API's token names, the policy's pure descriptions and the
  // composition (`init`, `start` create and run a party), never a service's internals.
  cli: ['node', 'node/api', 'node/policy', 'protocol', 'chains'],
  deploy: ['node', 'node/api', 'node/ops', 'node/storage', 'cli', 'protocol', 'chains', 'contracts'],
  root: [],
  bench: ['*'],
  test: ['*'],
  contracts: [],
};

/**
 * Single files allowed one import across the layers, each for a reason: the one CLI file that runs a party in
 * this process (`init`, `init --from-backup`, `start`) may also use what exists before a daemon does (the
 * store's passphrase reader, the backup reader and the process guard); the key store keeps each key's Bitcoin
 * network, so its records (key-records.ts) check the name against the list of networks (a module free of any
 * chain library).
 */
const LOCAL_PARTY: Record<string, readonly string[]> = {
  'cli/commands/party.ts': [
    'node/storage/store.ts',
    'node/ceremonies/backup.ts',
    'node/ops/process-guard.ts',
  ],
  'node/storage/keystore.ts': ['chains/bitcoin/network-names.ts'],
  'node/storage/key-records.ts': ['chains/bitcoin/network-names.ts'],
};

/** Imports that stay inside a layer but are still refused: protocol/ does no I/O and reads no clock. */
const FORBIDDEN_PACKAGES: Record<string, RegExp> = {
  protocol: /^node:/,
};

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && !e.name.startsWith('.')) sources(path, out);
    } else if (/\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

type Edge = { from: string; to: string; spec: string; line: number };

/** Every import of `file` (static, re-export, side-effect and dynamic with a literal specifier). */
export function importsOf(file: string, text: string): { spec: string; line: number }[] {
  const info = ts.preProcessFile(text, true, true);
  const lines = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  return info.importedFiles.map((f) => ({
    spec: f.fileName,
    line: lines.getLineAndCharacterOfPosition(f.pos).line + 1,
  }));
}

function graph(): { files: string[]; edges: Edge[]; packages: Edge[] } {
  const files = SCANNED.flatMap((d) => {
    try {
      return sources(d);
    } catch {
      return [];
    }
  });
  const edges: Edge[] = [];
  const packages: Edge[] = [];
  for (const from of files) {
    for (const { spec, line } of importsOf(from, readFileSync(join(ROOT, from), 'utf8'))) {
      if (!spec.startsWith('.')) {
        packages.push({ from, to: spec, spec, line });
        continue;
      }
      const to = relative(ROOT, resolve(ROOT, dirname(from), spec))
        .split(sep)
        .join('/');
      edges.push({ from, to, spec, line });
    }
  }
  return { files, edges, packages };
}

/** Every cycle in the file graph, each as the list of files around it (found by Tarjan's SCC algorithm). */
export function cycles(files: string[], edges: { from: string; to: string }[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) next.get(e.from)?.push(e.to);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      const selfLoop = (next.get(v) ?? []).includes(v);
      if (scc.length > 1 || selfLoop) found.push(scc.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return found;
}

export function layerViolations(edges: Edge[]): string[] {
  const bad: string[] = [];
  for (const e of edges) {
    const a = layerOf(e.from);
    const b = layerOf(e.to);
    if (a === b || b === 'root' || LOCAL_PARTY[e.from]?.includes(e.to)) continue;
    const allowed = MAY_IMPORT[a];
    if (allowed === undefined) bad.push(`${e.from}:${e.line}: layer ${a} has no rule (add it to MAY_IMPORT)`);
    else if (!allowed.includes('*') && !allowed.includes(b))
      bad.push(`${e.from}:${e.line} imports ${e.spec}: ${a} may not import ${b}`);
  }
  return bad;
}

describe('layers', () => {
  const { files, edges, packages } = graph();

  test('the scan sees the tree', () => {
    assert.ok(files.length > 200, `only ${files.length} files found`);
    assert.ok(files.includes('node/daemon.ts') && files.includes('protocol/vss.ts'));
    assert.ok(edges.length > 500, `only ${edges.length} imports found`);
  });

  test('every relative import names a file that exists', () => {
    const known = new Set(files);
    const missing = edges.filter((e) => !known.has(e.to) && /\.(ts|mts)$/.test(e.to));
    assert.deepEqual(
      missing.map((e) => `${e.from}:${e.line} ${e.spec}`),
      [],
    );
  });

  test('no import runs back up a layer', () => {
    assert.deepEqual(layerViolations(edges), []);
  });

  test('protocol/ imports no I/O', () => {
    const bad = packages.filter((p) => FORBIDDEN_PACKAGES[layerOf(p.from)]?.test(p.spec));
    assert.deepEqual(
      bad.map((p) => `${p.from}:${p.line} ${p.spec}`),
      [],
    );
  });

  test('no source file imports a test, bench or deploy file', () => {
    const bad = edges.filter(
      (e) =>
        !['test', 'bench', 'deploy'].includes(layerOf(e.from)) && ['test', 'bench'].includes(layerOf(e.to)),
    );
    assert.deepEqual(
      bad.map((e) => `${e.from}:${e.line} ${e.spec}`),
      [],
    );
  });

  test('no circular import', () => {
    assert.deepEqual(cycles(files, edges), []);
  });
});

describe('the checker itself', () => {
  test('finds an import that runs up a layer', () => {
    const edge = { from: 'node/storage/x.ts', to: 'node/api/y.ts', spec: '../api/y.ts', line: 3 };
    assert.deepEqual(layerViolations([edge]), [
      'node/storage/x.ts:3 imports ../api/y.ts: node/storage may not import node/api',
    ]);
    assert.deepEqual(layerViolations([{ ...edge, from: 'node/daemon.ts', spec: './api/y.ts' }]), []);
  });

  test('finds a cycle, a self-import and none in a chain', () => {
    assert.deepEqual(
      cycles(
        ['a', 'b', 'c', 'd'],
        [
          { from: 'a', to: 'b' },
          { from: 'b', to: 'c' },
          { from: 'c', to: 'a' },
          { from: 'd', to: 'd' },
        ],
      ),
      [['a', 'b', 'c'], ['d']],
    );
    assert.deepEqual(
      cycles(
        ['a', 'b', 'c'],
        [
          { from: 'a', to: 'b' },
          { from: 'b', to: 'c' },
        ],
      ),
      [],
    );
  });

  test('reads static, type-only, re-export and dynamic imports', () => {
    const text = [
      "import { a } from './a.ts';",
      "import type { B } from '../b.ts';",
      "export { c } from './c.ts';",
      'const d = await import(',
      "  './d.ts');",
      "import {\n  e,\n} from 'pkg';",
    ].join('\n');
    assert.deepEqual(
      importsOf('x.ts', text).map((i) => i.spec),
      ['./a.ts', '../b.ts', './c.ts', './d.ts', 'pkg'],
    );
  });
});
