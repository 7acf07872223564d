/** `npm run demo` end to end: five daemons, a 3-of-5 DKG, a message and a Taproot spend, all verified. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../deploy/local-network.ts';
import { runScript } from './helpers.ts';

test('the demo runs the main job, verifies every result and exits 0', async () => {
  const r = await runScript(join(ROOT, 'deploy/demo.ts'), []);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /2\. DKG: a 3-of-5 key/);
  assert.match(r.stdout, /group key +0[23][0-9a-f]{64}/);
  assert.match(r.stdout, /taproot address +bc1p[02-9ac-hj-np-z]{58}/);
  assert.match(r.stdout, /signature +[0-9a-f]{128}/);
  assert.match(r.stdout, /txid +[0-9a-f]{64}/);
  assert.match(r.stdout, /vsize +\d+ vB/);
  const checks = r.stdout.split('\n').filter((l) => /^ {3}(ok|FAIL) /.test(l));
  assert.equal(checks.length, 5, r.stdout);
  assert.ok(
    checks.every((l) => l.startsWith('   ok ')),
    r.stdout,
  );
  assert.match(r.stdout, /^all verified/m);
  assert.doesNotMatch(r.stdout, /FAIL/);
});
