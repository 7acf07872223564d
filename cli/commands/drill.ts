/**
 * `drill`: the recovery drill multisig guides ask key holders to run. Every t-subset of a key's members (or a
 * random sample of them) signs a fresh test message on its own; each signature is verified here. A failing
 * combination is reported with the reason and the parties to blame, and makes the exit code 1.
 */
import { randomBytes } from 'node:crypto';
import { countCombinations, sampleCombinations } from '../../protocol/combinations.ts';
import { type Command, defineCommand, integerOption } from '../command.ts';
import { describeError, table } from '../output.ts';
import { PartyBook } from '../parties.ts';
import { fetchKey, signMessage } from '../signing.ts';
import { parseSchemeOption, SCHEME_OPTION } from './sign.ts';

/** Without --sample, larger groups are sampled down to this many combinations. */
const DEFAULT_MAX_COMBINATIONS = 64;
/** Signing rounds run at once; each combination is its own signing session. */
const CONCURRENCY = 4;

type Outcome = {
  signers: string[];
  ok: boolean;
  signature?: string;
  error?: { code: string; message: string; culprits: string[] };
};

const drill = defineCommand({
  name: 'drill',
  summary: "Recovery drill: signs a test message with every t-subset of the key's parties and verifies each.",
  usage: '--key NAME [--sample K] [--scheme bip340|rfc9591]',
  details: [
    `Groups with more than ${DEFAULT_MAX_COMBINATIONS} combinations are sampled (at random) unless --sample says`,
    'how many to try. Exit code 1 when any combination fails; the report says which and why.',
  ].join('\n'),
  daemon: 'request',
  options: {
    key: { type: 'string', arg: 'NAME', required: true, help: 'the key to drill' },
    sample: { type: 'string', arg: 'K', help: 'try K random combinations instead of all of them' },
    scheme: SCHEME_OPTION,
  },
  async run({ values, out, client }) {
    const scheme = parseSchemeOption('drill', values.scheme);
    const sample =
      values.sample === undefined ? undefined : integerOption('drill', 'sample', values.sample, 1, 100_000);
    const c = await client();
    const [key, book] = await Promise.all([fetchKey(c, values.key), PartyBook.load(c)]);
    const { members, threshold: t } = key;
    const total = countCombinations(members.length, t);
    const want = sample ?? DEFAULT_MAX_COMBINATIONS;
    const subsets = sampleCombinations(members.length, t, want).map((idx) => idx.map((i) => members[i]));
    const sampled = BigInt(subsets.length) < total;
    out.note(
      `key ${key.name}: ${t}-of-${members.length}, ${total} combination(s); testing ${sampled ? `a random sample of ${subsets.length}` : 'all'}`,
    );

    const names = (ids: readonly string[]) => ids.map((id) => book.short(id)).join(' + ');
    const blame = (culprits: readonly string[]) =>
      culprits.length > 0 ? ` (parties: ${culprits.map((p) => book.short(p)).join(', ')})` : '';
    const tryCombination = async (signers: string[]): Promise<Outcome> => {
      try {
        const message = randomBytes(32).toString('hex');
        const r = await signMessage(c, key, {
          message,
          scheme,
          domain: 'drill',
          path: [],
          taproot: false,
          signers,
        });
        const same = r.signers.length === signers.length && r.signers.every((s) => signers.includes(s));
        if (r.verified && same) return { signers, ok: true, signature: r.signature };
        const why = r.verified ? `signed by ${names(r.signers)} instead` : 'the signature does not verify';
        return { signers, ok: false, error: { code: 'INVALID_SIGNATURE', message: why, culprits: [] } };
      } catch (e) {
        return { signers, ok: false, error: describeError(e).json };
      }
    };

    const outcomes: Outcome[] = new Array(subsets.length);
    let next = 0;
    let finished = 0;
    const worker = async () => {
      while (next < subsets.length) {
        const i = next++;
        outcomes[i] = await tryCombination(subsets[i]);
        finished++;
        out.note(
          `  [${finished}/${subsets.length}] ${outcomes[i].ok ? 'ok    ' : 'FAILED'} ${names(subsets[i])}`,
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, subsets.length) }, worker));

    const failed = outcomes.filter((o) => !o.ok);
    const summary = `${outcomes.length - failed.length} of ${outcomes.length} tested combination(s) can sign${
      sampled ? ` (of ${total} in all)` : ''
    }`;
    out.result(
      {
        key: key.name,
        scheme,
        threshold: t,
        members,
        combinations: Number(total),
        tested: outcomes.length,
        working: outcomes.length - failed.length,
        failing: failed.length,
        results: outcomes,
      },
      () =>
        [
          table(
            outcomes.map((o) => [
              o.ok ? 'ok' : 'FAILED',
              names(o.signers),
              o.ok ? '' : `${o.error!.code}: ${o.error!.message}${blame(o.error!.culprits)}`,
            ]),
          ),
          summary,
        ].join('\n'),
    );
    return failed.length > 0 ? 1 : 0;
  },
});

export const commands: readonly Command[] = [drill];
