/**
 * Child program for tests of what a process loads: records every npm package it resolves from the first
 * import on, starts the daemon of the party whose config is argv[2] (passphrase in FROSTNET_TEST_PASSPHRASE),
 * stops it, and prints the packages as one JSON line. Run as `node test/helpers/loaded-packages.ts <config>`.
 */
import { registerHooks } from 'node:module';

const packages = new Set<string>();
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    // The last node_modules segment names the package (nested installs included).
    const m = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(resolved.url);
    if (m) packages.add(m[1]);
    return resolved;
  },
});

const configPath = process.argv[2];
if (!configPath) throw new Error('usage: node test/helpers/loaded-packages.ts <config path>');
// Imported only now, so that the hook sees the daemon's whole module graph.
const { startDaemon } = await import('../../node/daemon.ts');
const { nullLogger } = await import('../../node/ops/log.ts');
const daemon = await startDaemon({
  configPath,
  passphrase: process.env.FROSTNET_TEST_PASSPHRASE,
  log: nullLogger,
});
await daemon.stop();
console.log(JSON.stringify([...packages].sort()));
