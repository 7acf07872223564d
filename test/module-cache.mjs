/**
 * Disk caches of module loading for the processes of `npm test`: test/run.ts adds this file to NODE_OPTIONS, so
 * every test file, daemon and CLI call the suite starts loads it first.
 *
 * Node strips the types of every .ts file it loads, in every process, with a WebAssembly build of swc: about
 * 0.35 s of CPU for a daemon process, more than a quarter of its start (docs/performance.md, "The test suite"). The
 * suite starts some 400 processes that load the same unchanged files. This hook strips each file once, with
 * the function Node itself uses (`module.stripTypeScriptTypes`, with the module's URL as Node gives it, so that
 * the output is Node's byte for byte and a syntax error names the file), and keeps the result under
 * node_modules/.cache, named by the hash of the Node version, the URL and the source: an edited file has a new
 * name, so an entry is never stale. Each entry carries the hash of its JavaScript, and one that does not match
 * (cut short by a crash) is stripped again. A cache that cannot be written only makes the process strip as Node
 * would; and where Node would not only strip (--experimental-transform-types, source maps), the hook steps aside.
 *
 * It also turns on V8's compile cache (`module.enableCompileCache`), beside it: Node's own cache of compiled
 * code, checked against each module's source, which the stripped sources now hit.
 *
 * JavaScript, not TypeScript: it is loaded before anything, and a .ts file here would load the stripper that it
 * exists to avoid.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { enableCompileCache, registerHooks, stripTypeScriptTypes } from 'node:module';
import { fileURLToPath } from 'node:url';

const CACHE_DIR = fileURLToPath(new URL('../node_modules/.cache/strip-types/', import.meta.url));
const utf8 = new TextDecoder();
const sha256 = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
};

/** Where an entry for this module's source lives. */
const entryFile = (url, source) => `${CACHE_DIR}${sha256(process.version, url, source)}.js`;

/** What Node runs for a TypeScript module: its source with the types stripped (and Node's URL trailer). */
function strip(source, url) {
  // The public function warns that it is experimental, which Node's own stripping does not: kept quiet, so that
  // what a process prints does not depend on whether its files were in the cache.
  const emitWarning = process.emitWarning;
  process.emitWarning = (warning, ...rest) =>
    String(warning?.message ?? warning).startsWith('stripTypeScriptTypes')
      ? undefined
      : emitWarning.call(process, warning, ...rest);
  try {
    return stripTypeScriptTypes(source, { sourceUrl: url });
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** An entry: the hash of the JavaScript on its first line, then the JavaScript. */
function readEntry(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const nl = text.indexOf('\n');
  const js = text.slice(nl + 1);
  return nl === 64 && text.slice(0, nl) === sha256(js) ? js : undefined;
}

function writeEntry(file, js) {
  // Written aside, then renamed: a process that reads the entry meanwhile finds all of it or nothing.
  const partial = `${file}.${randomBytes(6).toString('hex')}.partial`;
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    writeFileSync(partial, `${sha256(js)}\n${js}`);
    renameSync(partial, file);
  } catch {
    // No cache this time (a read-only tree, a full disk): the module still runs, stripped as Node strips it.
    rmSync(partial, { force: true });
  }
}

/** The stripped JavaScript of a TypeScript module's source, from the cache or stripped now and cached. */
function strippedSource(source, url) {
  const file = entryFile(url, source);
  const cached = readEntry(file);
  if (cached !== undefined) return cached;
  const js = strip(source, url);
  writeEntry(file, js);
  return js;
}

// Only where Node itself would only strip types: another mode or source maps give other output.
if (process.features.typescript === 'strip' && !process.sourceMapsEnabled) {
  registerHooks({
    load(url, context, nextLoad) {
      const loaded = nextLoad(url, context);
      // A package's TypeScript is left to Node, which refuses to strip it.
      if (loaded.format !== 'module-typescript' || url.includes('/node_modules/')) return loaded;
      const source = typeof loaded.source === 'string' ? loaded.source : utf8.decode(loaded.source);
      return { format: 'module', source: strippedSource(source, url), shortCircuit: true };
    },
  });
}
// Node's own cache of compiled code; where it cannot be written, Node goes on without it.
enableCompileCache(fileURLToPath(new URL('../node_modules/.cache/compile/', import.meta.url)));
