/**
 * Disk caches of module loading for the processes of `npm test`: test/run.ts adds this file to NODE_OPTIONS, so
 * every test file, daemon and CLI call the suite starts loads it first.
 *
 * Node strips the types of every .ts file it loads, in every process, with a WebAssembly build of swc: about
 * 0.35 s of CPU for a daemon process, more than a quarter of its start (docs/performance.md, "Test suite"). The
 * suite starts some 400 processes that load the same unchanged files. This hook strips each file once, with
 * the function Node itself uses (`module.stripTypeScriptTypes`, whose output keeps every line and column), and
 * keeps the result under node_modules/.cache, named by the hash of the Node version and the source: an edited
 * file has a new name, so an entry is never stale. The JavaScript that runs is exactly what Node would run.
 *
 * It also turns on V8's compile cache (`module.enableCompileCache`), beside it: Node's own cache of compiled
 * code, checked against each module's source, which the stripped sources now hit.
 *
 * JavaScript, not TypeScript: it is loaded before anything, and a .ts file here would load the stripper that it
 * exists to avoid.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { enableCompileCache, registerHooks, stripTypeScriptTypes } from 'node:module';
import { fileURLToPath } from 'node:url';

const CACHE_DIR = fileURLToPath(new URL('../node_modules/.cache/strip-types/', import.meta.url));
mkdirSync(CACHE_DIR, { recursive: true });
enableCompileCache(fileURLToPath(new URL('../node_modules/.cache/compile/', import.meta.url)));
const utf8 = new TextDecoder();

/** The stripped JavaScript of a TypeScript module's source, from the cache or stripped now and cached. */
function strippedSource(source) {
  const key = createHash('sha256').update(process.version).update('\0').update(source).digest('hex');
  const file = `${CACHE_DIR}${key}.js`;
  try {
    return readFileSync(file, 'utf8');
  } catch {
    const js = stripTypeScriptTypes(source);
    // Written aside, then renamed: a process that reads the entry meanwhile finds all of it or nothing.
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, js);
    renameSync(partial, file);
    return js;
  }
}

registerHooks({
  load(url, context, nextLoad) {
    const loaded = nextLoad(url, context);
    // A package's TypeScript is left to Node, which refuses to strip it.
    if (loaded.format !== 'module-typescript' || url.includes('/node_modules/')) return loaded;
    const source = typeof loaded.source === 'string' ? loaded.source : utf8.decode(loaded.source);
    return { format: 'module', source: strippedSource(source), shortCircuit: true };
  },
});
