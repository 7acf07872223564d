/**
 * The recovery drill run by the daemon, for the console (the CLI's `frostnet drill` runs the same test from the
 * client side): every t-subset of the key's members (a random sample of them for large groups) signs a fresh
 * random message on its own, and each signature is verified here under the drill key. A failing subset is
 * reported with the reason and the parties to blame.
 */
import { randomBytes } from 'node:crypto';
import { DRILL_PATH, drillMessage } from '../../chains/domains.ts';
import { countCombinations, sampleCombinations } from '../../protocol/combinations.ts';
import { xOnly } from '../../protocol/curve.ts';
import { derivePath } from '../../protocol/derive.ts';
import { isFrostnetError } from '../../protocol/errors.ts';
import { groupKey } from '../../protocol/keys.ts';
import { verifyBip340 } from '../../protocol/sign.ts';
import type { SignOptions, SignOutcome } from '../signing/coordinator.ts';
import { entryGroup, type KeyEntry } from '../storage/keystore.ts';

/** Larger groups are sampled down to this many subsets. */
export const MAX_DRILL_SUBSETS = 64;
/** Subsets signing at once. */
const CONCURRENCY = 2;

export type SubsetResult = {
  signers: string[];
  ok: boolean;
  error?: { code: string; message: string; culprits: string[] };
};

export type DrillResult = {
  key: string;
  threshold: number;
  members: string[];
  combinations: number;
  tested: number;
  working: number;
  failing: number;
  results: SubsetResult[];
};

export type DrillDeps = {
  sign: (name: string, opts: SignOptions) => Promise<SignOutcome>;
  random?: (bytes: number) => Uint8Array;
};

export async function runDrill(
  e: KeyEntry,
  deps: DrillDeps,
  progress: (line: string) => void,
): Promise<DrillResult> {
  const g = entryGroup(e);
  const members = [...g.members];
  const t = g.threshold;
  const random = deps.random ?? ((n) => randomBytes(n));
  const subsets = sampleCombinations(members.length, t, MAX_DRILL_SUBSETS).map((idx) =>
    idx.map((i) => members[i]),
  );
  const total = countCombinations(members.length, t);
  progress(`drill of ${e.name}: ${t}-of-${members.length}, testing ${subsets.length} of ${total} subset(s)`);
  // The drill's own key (chains/domains.ts), derived here from the public group: no other request signs under it.
  const pub = xOnly(derivePath({ key: groupKey(g), chainCode: g.chainCode }, DRILL_PATH).key);

  const trySubset = async (signers: string[]): Promise<SubsetResult> => {
    const message = random(32);
    try {
      const out = await deps.sign(e.name, {
        scheme: 'bip340',
        payload: { drill: { challenge: message } },
        signers,
      });
      const same = out.signers.length === signers.length && out.signers.every((s) => signers.includes(s));
      if (!same) return fail(signers, 'WRONG_SIGNERS', `signed by ${out.signers.join(', ')} instead`, []);
      if (!verifyBip340(out.signatures[0], drillMessage(message), pub))
        return fail(signers, 'INVALID_SIGNATURE', 'the signature does not verify under the drill key', []);
      return { signers, ok: true };
    } catch (err) {
      if (isFrostnetError(err)) return { signers, ok: false, error: err.toJSON() };
      return fail(signers, 'INTERNAL', (err as Error).message, []);
    }
  };

  const results: SubsetResult[] = new Array(subsets.length);
  let next = 0;
  const worker = async () => {
    while (next < subsets.length) {
      const i = next++;
      results[i] = await trySubset(subsets[i]);
      progress(`${results[i].ok ? 'ok' : 'FAILED'}: ${subsets[i].join(' + ')}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, subsets.length) }, worker));
  const working = results.filter((r) => r.ok).length;
  return {
    key: e.name,
    threshold: t,
    members,
    combinations: Number(total),
    tested: results.length,
    working,
    failing: results.length - working,
    results,
  };
}

const fail = (signers: string[], code: string, message: string, culprits: string[]): SubsetResult => ({
  signers,
  ok: false,
  error: { code, message, culprits },
});
