/**
 * Long requests a party's daemon runs (keygen, sign, refresh, reshare, repair): `requests show ID` reads one,
 * and with --wait follows it to its end, through approvals and settling. A request the daemon forgot (it
 * restarted) is said so.
 */
import type { RequestView } from '../client.ts';
import { waitingLine } from '../client.ts';
import { type Command, defineCommand } from '../command.ts';
import { UsageError } from '../output.ts';
import { PartyBook } from '../parties.ts';

const show = defineCommand({
  name: 'requests show',
  summary: 'Shows a request this party runs; with --wait, follows it to its end (approvals, settling).',
  usage: 'ID [--wait]',
  details:
    'ID is what a long command printed when it stopped waiting (exit code 3), or what the API returned.',
  daemon: 'read',
  positionals: 1,
  options: { wait: { type: 'boolean', help: 'follow the request until it is done or failed' } },
  async run({ positionals, values, out, client }) {
    const id = positionals[0];
    if (id === undefined || !/^[0-9a-f]{8,64}$/.test(id))
      throw new UsageError('requests show', 'give the request id (hex)');
    const c = await client();
    const book = await PartyBook.load(c);
    const label = (p: string) => book.short(p);
    if (values.wait) {
      const result = await c.follow(id, (line) => out.note(`  ${line}`), { wait: true, label });
      out.result(
        { id, state: 'done', result },
        () => `request ${id} is done\n${JSON.stringify(result, null, 2)}`,
      );
      return 0;
    }
    const view = await c.get<RequestView>(`/v1/requests/${encodeURIComponent(id)}`);
    out.result(view, () =>
      [
        `request ${view.id} (${view.kind}): ${view.state}`,
        ...view.progress.map((l) => `  ${l}`),
        ...(view.state === 'awaiting-approval' || view.state === 'settling'
          ? [`  ${waitingLine(view, label)}`]
          : []),
        ...(view.error ? [`  failed: ${view.error.code}: ${view.error.message}`] : []),
      ].join('\n'),
    );
    return 0;
  },
});

export const commands: readonly Command[] = [show];
