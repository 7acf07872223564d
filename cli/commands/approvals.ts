/**
 * This party's approvals queue (node/policy): requests its policy holds for the operator's approval or behind
 * a time lock. `list` and `show` print what each request really does, as this party decoded it; `approve`,
 * `reject` and `cancel` decide. The requester then simply asks again.
 */
import type { Details, ProposalDetails, PsbtDetails, TypedDataDetails } from '../../node/policy/describe.ts';
import type { EntryView } from '../../node/policy/party-policy.ts';
import { type Command, defineCommand } from '../command.ts';
import { table, UsageError } from '../output.ts';
import { PartyBook } from '../parties.ts';

/** How a peer id is shown: by name where this party's config names it. */
type Label = (peer: string) => string;

const OPEN = new Set(['awaiting approval', 'time-locked', 'ready']);

/** "1.5" from 1500000000000000000n and 18 decimals, without a float. */
function units(amount: string, decimals: number): string {
  const v = BigInt(amount);
  const scale = 10n ** BigInt(decimals);
  const frac = (v % scale).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${v / scale}${frac ? `.${frac}` : ''}`;
}

const sat = (a: string) => `${a} sat (${units(a, 8)} BTC)`;

/** When an open entry next changes: its approval deadline or the end of its time lock. */
function until(e: EntryView): string {
  if (e.status === 'awaiting approval') return `expires ${e.approvalExpiresAt}`;
  if (e.status === 'time-locked') return `unlocks ${e.unlockAt}`;
  return e.decidedAt ?? e.signedAt ?? '-';
}

/** `named` puts names for the peer ids in the summaries (a custody proposal's parties). */
export function entriesTable(
  entries: readonly EntryView[],
  named: (text: string) => string = (t) => t,
): string {
  return table([
    ['ID', 'KEY', 'STATUS', 'UNTIL', 'WHAT'],
    ...entries.map((e) => [e.shortId, e.key, e.status, until(e), named(e.summary)]),
  ]);
}

function psbtLines(d: PsbtDetails): string[] {
  return [
    `Bitcoin transaction on ${d.network}`,
    '  inputs',
    ...d.inputs.map(
      (i) =>
        `    #${i.index}  ${i.outpoint}  ${sat(i.amount)}  ${i.address ?? '(no address)'}${
          i.ours ? `  this key ${i.path ?? ''}` : '  NOT this key'
        }`,
    ),
    '  outputs',
    ...d.outputs.map(
      (o) =>
        `    #${o.index}  ${sat(o.amount)}  ${o.address ?? `script ${o.script}`}  ${
          o.change ? `change to this key ${o.path ?? ''}` : 'PAYMENT'
        }`,
    ),
    `  sends ${sat(d.sent)}; fee ${sat(d.fee)} at ${d.feeRate} sat/vB`,
  ];
}

function typedDataLines(d: TypedDataDetails): string[] {
  const head = [
    `EIP-712 ${d.action} on chain ${d.chainId}`,
    `  account    ${d.account} (index ${d.accountIndex})`,
  ];
  const tail = [`  nonce      ${d.nonce}`, `  deadline   ${d.deadline}`];
  if (d.action === 'RotateKey') return [...head, `  new key    ${d.newKey}`, ...tail];
  if (d.action === 'VetoRecovery') return [...head, "  cancels    the account's pending recovery", ...tail];
  return [
    ...head,
    `  to         ${d.to}`,
    `  value      ${d.value} wei (${units(d.value, 18)} ETH)`,
    `  call       ${d.call ?? (d.selector === '0x' ? '(none: a plain transfer)' : `unknown function ${d.selector ?? '(malformed data)'}`)}`,
    ...(d.data !== '0x' ? [`  data       ${d.data}`] : []),
    ...tail,
  ];
}

function proposalLines(d: ProposalDetails, label: Label): string[] {
  const list = (ids: readonly string[]) => ids.map(label).join(', ') || '(none)';
  return [
    `custody proposal: ${d.ceremony} of key ${d.key} at epoch ${d.epoch}`,
    `  threshold  ${d.oldThreshold}-of-${d.oldMembers.length} -> ${d.newThreshold}-of-${d.newMembers.length}`,
    `  members    ${list(d.oldMembers)}`,
    `  becomes    ${list(d.newMembers)}`,
    ...(d.added.length ? [`  ADDS       ${list(d.added)}`] : []),
    ...(d.removed.length ? [`  REMOVES    ${list(d.removed)}`] : []),
    ...(d.lost ? [`  REBUILDS   the share of ${label(d.lost)}`] : []),
    `  ${d.ceremony === 'repair' ? 'helpers' : 'dealers'}    ${list(d.dealers)}`,
    `  proposed   by ${label(d.proposer)}; valid until ${d.expiresAt}`,
  ];
}

function detailLines(d: Details, label: Label): string[] {
  if (d.kind === 'psbt') return psbtLines(d);
  if (d.kind === 'typedData') return typedDataLines(d);
  if (d.kind === 'proposal') return proposalLines(d, label);
  if (d.kind === 'drill') return [`recovery drill, ${d.scheme}`, `  challenge  ${d.challenge}`];
  return [
    `raw message, ${d.scheme}, key ${d.path}${d.taproot ? ' (Taproot output key)' : ''}`,
    `  message    ${d.message}`,
  ];
}

/** `named` puts names for the peer ids in free text (the held reasons). */
export function describeEntry(
  e: EntryView,
  label: Label = (p) => p,
  named: (text: string) => string = (t) => t,
): string {
  return [
    `request ${e.shortId}  (${e.id})`,
    `  key        ${e.key}`,
    `  status     ${e.status}${e.status === 'awaiting approval' ? `, expires ${e.approvalExpiresAt}` : ''}`,
    `  requested  by ${label(e.requester)} at ${e.firstSeen}`,
    ...e.reasons.map((r) => `  held       ${named(r)}`),
    ...(e.unlockAt ? [`  time lock  until ${e.unlockAt}`] : []),
    ...(e.decidedAt ? [`  decided    ${e.decidedAt}`] : []),
    ...(e.signedAt ? [`  signed     ${e.signedAt}`] : []),
    '',
    ...detailLines(e.details, label),
  ].join('\n');
}

const idArg = (cmd: string, positionals: readonly string[]): string => {
  const id = positionals[0];
  if (id === undefined) throw new UsageError(cmd, 'give the request id (see "frostnet approvals list")');
  if (!/^[0-9a-fA-F]{8,64}$/.test(id))
    throw new UsageError(cmd, `${JSON.stringify(id)} is not a request id: 8 to 64 hex digits`);
  return id.toLowerCase();
};

const list = defineCommand({
  name: 'approvals list',
  summary: "Lists the requests this party's policy holds for approval or behind a time lock.",
  usage: '[--all]',
  details: 'Open requests only, newest first; --all adds signed, rejected, cancelled and expired ones.',
  daemon: 'read',
  options: { all: { type: 'boolean', help: 'include finished requests' } },
  async run({ values, out, client }) {
    const c = await client();
    const [all, book] = await Promise.all([c.get<EntryView[]>('/v1/approvals'), PartyBook.load(c)]);
    const shown = values.all ? all : all.filter((e) => OPEN.has(e.status));
    out.result(shown, () =>
      shown.length === 0
        ? `no ${values.all ? '' : 'open '}requests in this party's approvals queue`
        : entriesTable(shown, (t) => book.named(t)),
    );
    return 0;
  },
});

const show = defineCommand({
  name: 'approvals show',
  summary:
    'Shows a held request as this party decoded it: inputs, outputs and amounts, or target, value and call.',
  usage: 'ID',
  details: 'ID is the request id or a unique prefix of it (8 hex digits or more).',
  daemon: 'read',
  positionals: 1,
  options: {},
  async run({ positionals, out, client }) {
    const id = idArg('approvals show', positionals);
    const c = await client();
    const [e, book] = await Promise.all([c.get<EntryView>(`/v1/approvals/${id}`), PartyBook.load(c)]);
    out.result(e, () =>
      describeEntry(
        e,
        (p) => book.short(p),
        (t) => book.named(t),
      ),
    );
    return 0;
  },
});

const NEXT: Record<string, (e: EntryView) => string> = {
  approve: (e) =>
    e.status === 'time-locked'
      ? `still time-locked until ${e.unlockAt}; the requester can ask again after that`
      : 'a request waiting at its coordinator goes on by itself; a requester that stopped asks again (the same request)',
  reject: () => 'this party will refuse it from now on',
  cancel: () => 'this party will refuse it from now on',
};

function decision(verb: 'approve' | 'reject' | 'cancel', summary: string, details: string): Command {
  const name = `approvals ${verb}`;
  return defineCommand({
    name,
    summary,
    usage: 'ID',
    details,
    daemon: 'approve',
    positionals: 1,
    options: {},
    async run({ positionals, out, client }) {
      const id = idArg(name, positionals);
      const e = await (await client()).post<EntryView>(`/v1/approvals/${id}/${verb}`, {});
      out.result(e, () => `request ${e.shortId} (key ${e.key}) is ${e.status}: ${NEXT[verb](e)}`);
      return 0;
    },
  });
}

const approve = decision(
  'approve',
  'Approves a request held for approval; the requester asks again and this party lets it through.',
  'Check it with "frostnet approvals show ID" first. Approval never shortens a time lock.',
);
const reject = decision(
  'reject',
  'Rejects a held request: this party refuses it from now on.',
  'Final: the same transaction asked again is refused.',
);
const cancel = decision(
  'cancel',
  'Cancels a time-locked (or otherwise held) request: this party refuses it from now on.',
  'Final. Each party cancels at its own daemon; a request fails once more than n-t parties refuse it.',
);

export const commands: readonly Command[] = [list, show, approve, reject, cancel];
