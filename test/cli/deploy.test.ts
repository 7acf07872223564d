/**
 * The deployment files cannot run here (no Docker, no systemd), so their consistency is checked instead: every
 * shipped config is a valid daemon config, the compose file, configs and secrets name each other, the unit and
 * the example agree, and the image holds every source file and runtime package the daemon loads.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { ROOT } from '../../deploy/local-network.ts';
import { DAEMON_NODE_OPTIONS, daemonEnv } from '../../deploy/node-options.ts';
import { loadConfig } from '../../node/config.ts';

const DEPLOY = join(ROOT, 'deploy');
const PARTIES = ['party-a', 'party-b', 'party-c'];
const text = (file: string) => readFile(join(DEPLOY, file), 'utf8');

/**
 * Relative source files and bare packages `entry` reaches through static and dynamic imports and URLs; the
 * files in `skip` (relative to the root) are not followed.
 */
async function importGraph(
  entry: string,
  skip: readonly string[] = [],
): Promise<{ files: Set<string>; packages: Set<string> }> {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = async (file: string) => {
    if (files.has(file) || skip.includes(relative(ROOT, file))) return;
    files.add(file);
    if (!file.endsWith('.ts')) return;
    // Comments may show imports as examples; only code counts.
    const src = (await readFile(file, 'utf8')).replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    // Static imports and re-exports start a statement; a string that merely ends in "from" is no import.
    const specs = [
      ...src.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*'([^']+)'/gm),
      ...src.matchAll(/^\s*import\s*'([^']+)'/gm),
      ...src.matchAll(/\bimport\(\s*'([^']+)'\s*[,)]/g),
      ...src.matchAll(/new URL\('([^']+)', import\.meta\.url\)/g),
    ].map((m) => m[1]);
    for (const s of specs) {
      if (s.startsWith('.')) await visit(resolve(dirname(file), s));
      else if (!s.startsWith('node:'))
        packages.add(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]);
    }
  };
  await visit(join(ROOT, entry));
  return { files, packages };
}

describe('deployment files', () => {
  test('the example and the compose configs are valid daemon configs', async () => {
    const example = await loadConfig(join(DEPLOY, 'examples/party.json'));
    assert.equal(example.peers.length, 2);
    for (const p of PARTIES) {
      const cfg = await loadConfig(join(DEPLOY, 'compose', p, 'config.json'));
      assert.equal(cfg.dataDir, '/data');
      assert.equal(cfg.passphraseFile, `/run/secrets/${p}-passphrase`);
      assert.deepEqual(cfg.listen, ['/ip4/0.0.0.0/tcp/4001']);
    }
  });

  test('compose: each party has its volume, its config directory and its secret', async () => {
    const compose = await text('docker-compose.yml');
    for (const p of PARTIES) {
      assert.ok(compose.includes(`  ${p}:\n    <<: *party`), `service ${p}`);
      assert.ok(compose.includes(`- ${p}-data:/data`), `volume of ${p}`);
      assert.ok(compose.includes(`- ./compose/${p}:/etc/frostnet`), `config of ${p}`);
      assert.ok(compose.includes(`secrets: [${p}-passphrase]`), `secret of ${p}`);
      assert.ok(
        compose.includes(`  ${p}-passphrase:\n    file: ./compose/secrets/${p}.passphrase`),
        `secret file of ${p}`,
      );
    }
    assert.match(compose, /command: \["start", "--config", "\/etc\/frostnet\/config.json"\]/);
  });

  test('systemd: the unit starts the instance data dir and hands over the credential the example names', async () => {
    const unit = await text('systemd/frostnet@.service');
    const example = JSON.parse(await text('examples/party.json'));
    assert.match(
      unit,
      /^ExecStart=\/usr\/bin\/node \/opt\/frostnet\/cli\/frostnet\.ts start --data-dir \/var\/lib\/frostnet\/%i$/m,
    );
    assert.match(unit, /^LoadCredential=passphrase:\/etc\/frostnet\/%i\.passphrase$/m);
    assert.match(unit, /^StateDirectory=frostnet\/%i$/m);
    assert.equal(example.passphraseFile, '/run/credentials/frostnet@alice.service/passphrase');
    assert.equal(example.dataDir, '/var/lib/frostnet/alice');
  });

  test('the unit, the image and deploy/node-options.ts run the daemon with the same Node options', async () => {
    const unit = await text('systemd/frostnet@.service');
    const dockerfile = await text('Dockerfile');
    assert.ok(unit.includes(`Environment="NODE_OPTIONS=${DAEMON_NODE_OPTIONS}"`), 'systemd unit');
    assert.ok(dockerfile.includes(`ENV NODE_OPTIONS="${DAEMON_NODE_OPTIONS}"`), 'Dockerfile');
    assert.equal(
      daemonEnv({ NODE_OPTIONS: '--trace-warnings' }).NODE_OPTIONS,
      `--trace-warnings ${DAEMON_NODE_OPTIONS}`,
    );
  });

  test('the image copies every source the daemon and the CLI load, and installs every package the daemon needs', async () => {
    const dockerfile = await text('Dockerfile');
    // Every source of every COPY line (the last argument is the destination).
    const copied = [...dockerfile.matchAll(/^COPY (.+)$/gm)].flatMap((m) => m[1].split(/\s+/).slice(0, -1));
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    const daemon = await importGraph('node/daemon.ts');
    // Compiling the EVM contracts needs solc, a development tool the image leaves out (see the Dockerfile).
    const cli = await importGraph('cli/frostnet.ts', ['chains/evm/compile.ts']);
    for (const f of [...daemon.files, ...cli.files]) {
      const top = relative(ROOT, f).split('/')[0];
      assert.ok(copied.includes(top), `${relative(ROOT, f)} is not copied into the image`);
    }
    for (const p of daemon.packages)
      assert.ok(p in pkg.dependencies, `the daemon needs ${p}, a devDependency`);
  });
});
