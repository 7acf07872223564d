// The Frostnet web console: plain DOM code, no build step, no third-party script. It reads and acts through
// /ui/api/* (the control API's routes, run with this session's scope), and refreshes the page on view every
// two seconds. Text goes into the page as text nodes only, never as markup.

const POLL_MS = 2000;
const NETWORKS = ['mainnet', 'testnet', 'signet', 'regtest'];

let session;
let names = new Map();
let shown = '';
let timer;
const reasons = new Map();
const drills = new Map();

/** An element with attributes (on* values are listeners) and children (strings become text). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === false || v === null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity))
    if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

class ApiError extends Error {
  constructor(status, error) {
    super(`${error?.code ?? status}: ${error?.message ?? 'request failed'}`);
    this.status = status;
    this.code = error?.code;
  }
}

async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    headers['x-frostnet-csrf'] = session?.csrf ?? '';
  }
  const res = await fetch(`/ui/api${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, json.error);
  return json;
}

const nameOf = (id) => (id === session.self ? 'this party' : (names.get(id) ?? `${id.slice(0, 12)}…`));
const who = (id) => h('span', { title: id, class: 'party', 'data-peer': id }, nameOf(id));
/** Free text (a reason, a message) with the peer id of this party and of every named peer replaced by its name. */
const namedText = (text) =>
  [session.self, ...names.keys()].reduce((t, id) => t.split(id).join(nameOf(id)), String(text));
/** Parties by name, comma-separated. */
const parties = (ids) => ids.map((m, i) => [i ? ', ' : '', who(m)]);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');
const enc = encodeURIComponent;

function sats(s) {
  const v = BigInt(s);
  const neg = v < 0n;
  const a = neg ? -v : v;
  const btc = `${a / 100000000n}.${String(a % 100000000n).padStart(8, '0')}`;
  return `${neg ? '-' : ''}${btc} BTC`;
}

function ether(wei) {
  const v = BigInt(wei);
  const frac = String(v % 10n ** 18n)
    .padStart(18, '0')
    .replace(/0+$/, '');
  return `${v / 10n ** 18n}${frac ? `.${frac}` : ''} ETH`;
}

function remaining(iso) {
  const ms = new Date(iso).getTime() - Date.now();
  if (ms <= 0) return 'now';
  const m = Math.ceil(ms / 60000);
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
}

function route() {
  const [page, rest = ''] = (location.hash.slice(1) || 'overview').split('/');
  const [name, q = ''] = decodeURIComponent(rest).split('?');
  return { page, name, params: new URLSearchParams(q) };
}

/** A page's load(): the key's wallet view with `count` addresses per branch, on the network the hash names. */
const wallet =
  (count) =>
  ({ name, params }) =>
    api(
      'GET',
      `/v1/keys/${enc(name)}/wallet?network=${enc(params.get('network') ?? 'mainnet')}&addresses=${count}`,
    );

/** The wallet root's public facts, as rows of a dl.kv. */
const rootFacts = (w) => [
  h('dt', {}, 'group key'),
  h('dd', { class: 'mono' }, w.groupKey),
  h('dt', {}, 'fingerprint'),
  h('dd', { class: 'mono' }, w.fingerprint),
  h('dt', {}, 'xpub'),
  h('dd', { class: 'mono' }, w.xpub),
];

/** The key's recovery path, when it has one: who can spend after how long, visible to everyone. */
const recoveryFacts = (w) =>
  w.recovery
    ? [
        h('dt', {}, 'recovery path'),
        h(
          'dd',
          {},
          w.recovery.map((line) => h('div', {}, line)),
        ),
        h('dt', {}, 'descriptor (both branches)'),
        h('dd', { class: 'mono' }, w.descriptors.multipath),
      ]
    : [];

const addressQrs = (list) =>
  h(
    'div',
    { class: 'qrs' },
    list.map((a) => qr(a.address, `${a.path}  ${a.address}`)),
  );

// ---- pages: load() gathers the data, render(data) draws it -------------------------------------------------

const pages = {
  overview: {
    load: async () => {
      const [status, peers, keys] = await Promise.all([
        api('GET', '/v1/status'),
        api('GET', '/v1/peers'),
        api('GET', '/v1/keys'),
      ]);
      return { status, peers, keys };
    },
    render: ({ status, peers, keys }) => [
      h('h1', {}, 'Overview'),
      h(
        'section',
        { class: 'card' },
        h(
          'dl',
          { class: 'kv' },
          h('dt', {}, 'this party'),
          h('dd', { class: 'mono', id: 'self' }, status.peerId),
          h('dt', {}, 'addresses'),
          h('dd', { class: 'mono' }, status.addrs.join(' ')),
          h('dt', {}, 'requests running'),
          h('dd', {}, status.requestsRunning),
        ),
      ),
      h('h2', {}, 'Peers'),
      h(
        'section',
        { class: 'card' },
        table(
          ['name', 'peer id', 'connected', 'last answer', 'round trip'],
          peers.map((p) => [
            p.name ?? '',
            h('span', { class: 'mono' }, p.id),
            p.connected ? h('span', { class: 'ok' }, 'yes') : h('span', { class: 'bad' }, 'no'),
            when(p.lastSeen),
            p.rttMs === undefined ? '' : `${p.rttMs} ms`,
          ]),
          'peers',
        ),
      ),
      h('h2', {}, 'Keys'),
      h(
        'section',
        { class: 'card' },
        keys.length === 0
          ? h('p', { class: 'muted' }, 'This party holds no key yet.')
          : table(
              ['key', 'threshold', 'members', 'epoch', 'status'],
              keys.map((k) => [
                h('a', { href: `#key/${enc(k.name)}` }, k.name),
                `${k.threshold} of ${k.members.length}`,
                parties(k.members),
                k.epoch,
                k.state + (k.pendingEpoch !== undefined ? ` (epoch ${k.pendingEpoch} settling)` : ''),
              ]),
              'keys',
            ),
      ),
    ],
  },

  key: {
    load: wallet(5),
    render: (w) => [
      h('h1', {}, `Key ${w.key}`),
      h(
        'div',
        { class: 'row noprint' },
        'network ',
        networkSelect(w.key, w.network, 'key'),
        h(
          'a',
          { href: `#card/${enc(w.key)}?network=${w.network}`, id: 'card-link' },
          'Wallet card (printable)',
        ),
      ),
      h(
        'section',
        { class: 'card' },
        h(
          'dl',
          { class: 'kv' },
          h('dt', {}, 'threshold'),
          h('dd', {}, `${w.threshold} of ${w.members.length}, epoch ${w.epoch}`),
          h('dt', {}, 'members'),
          h('dd', {}, parties(w.members)),
          rootFacts(w),
          h('dt', {}, 'receive descriptor'),
          h('dd', { class: 'mono' }, w.descriptors.receive),
          h('dt', {}, 'change descriptor'),
          h('dd', { class: 'mono' }, w.descriptors.change),
          recoveryFacts(w),
          h('dt', {}, 'EVM account key'),
          h('dd', { class: 'mono' }, w.evmAccountKey ?? 'none (unusable on chain)'),
        ),
      ),
      h('h2', {}, 'Receive addresses'),
      addressQrs(w.receive),
      h('h2', {}, 'Change addresses'),
      addressQrs(w.change),
    ],
  },

  card: {
    load: wallet(3),
    render: (w) => [
      h(
        'div',
        { class: 'row noprint' },
        'network ',
        networkSelect(w.key, w.network, 'card'),
        h('button', { type: 'button', onclick: () => window.print() }, 'Print'),
      ),
      h(
        'article',
        { class: 'card card-page' },
        h('h1', {}, `Frostnet wallet card: ${w.key} (${w.network})`),
        h(
          'p',
          {},
          `${w.threshold}-of-${w.members.length} threshold key: any ${w.threshold} of the parties below sign together; fewer learn nothing. Spends are single Taproot key-path signatures.`,
        ),
        h('h2', {}, 'Parties'),
        h(
          'ol',
          {},
          w.members.map((m) => h('li', {}, `${nameOf(m)}: `, h('span', { class: 'mono' }, m))),
        ),
        h('dl', { class: 'kv' }, rootFacts(w), h('dt', {}, 'epoch'), h('dd', {}, w.epoch), recoveryFacts(w)),
        h('h2', {}, 'Descriptors (watch-only wallet)'),
        h(
          'div',
          { class: 'qrs' },
          qr(w.descriptors.receive, `receive: ${w.descriptors.receive}`),
          qr(w.descriptors.change, `change: ${w.descriptors.change}`),
        ),
        h('h2', {}, 'First receive addresses'),
        addressQrs(w.receive),
        h(
          'p',
          { class: 'no-secret' },
          'No secret is on this card. Each key holder keeps its own share and backup.',
        ),
      ),
    ],
  },

  approvals: {
    load: async () => {
      const [entries, requests] = await Promise.all([
        api('GET', '/v1/approvals'),
        api('GET', '/v1/requests'),
      ]);
      return { entries, requests };
    },
    render: ({ entries, requests }) => [
      h('h1', {}, 'Approvals'),
      session.scope === 'approve'
        ? null
        : h(
            'p',
            { class: 'muted' },
            `This is a ${session.scope} session: it can look, not decide. Deciding takes a session of the approve token ("frostnet ui --scope approve").`,
          ),
      entries.length === 0
        ? h('p', { class: 'muted' }, 'Nothing is held for this party.')
        : entries.map(entryCard),
      h('h2', {}, 'Requests this party runs'),
      requests.length === 0
        ? h('p', { class: 'muted' }, 'None since the daemon started.')
        : h(
            'section',
            { class: 'card' },
            table(
              ['request', 'kind', 'state', 'started', 'waiting for'],
              requests.map((r) => [
                h('span', { class: 'mono' }, r.id.slice(0, 12)),
                r.kind,
                h(
                  'span',
                  {
                    class: `pill ${r.state === 'done' ? 'ok' : r.state === 'failed' ? 'bad' : 'warn'}`,
                    'data-state': r.state,
                  },
                  r.state,
                ),
                when(r.startedAt),
                heldText(r),
              ]),
              'requests',
            ),
          ),
    ],
  },

  activity: {
    load: async ({ params }) => {
      const q = new URLSearchParams();
      if (params.get('key')) q.set('key', params.get('key'));
      if (params.get('decision')) q.set('decision', params.get('decision'));
      const [records, keys] = await Promise.all([api('GET', `/v1/audit?${q}`), api('GET', '/v1/keys')]);
      return { records, keys, key: params.get('key') ?? '', decision: params.get('decision') ?? '' };
    },
    render: ({ records, keys, key, decision }) => {
      const go = (k, d) => {
        location.hash = `activity/?${new URLSearchParams({ ...(k ? { key: k } : {}), ...(d ? { decision: d } : {}) })}`;
      };
      return [
        h('h1', {}, 'Activity'),
        h(
          'div',
          { class: 'row' },
          'key ',
          select(['', ...keys.map((k) => k.name)], key, (v) => go(v, decision), 'filter-key'),
          ' outcome ',
          select(['', ...session.decisions], decision, (v) => go(key, v), 'filter-decision'),
        ),
        h(
          'section',
          { class: 'card' },
          records.length === 0
            ? h('p', { class: 'muted' }, 'No audit records match.')
            : table(
                ['time', 'key', 'outcome', 'requester', 'request', 'reason'],
                records.map((r) => [
                  when(r.time),
                  r.key,
                  r.decision,
                  r.requester === 'operator' ? 'operator' : who(r.requester),
                  h('span', { class: 'mono' }, r.id.slice(0, 16)),
                  namedText(r.reason),
                ]),
                'audit',
              ),
        ),
      ];
    },
  },

  drill: {
    load: async ({ params }) => {
      const keys = await api('GET', '/v1/keys');
      const key = params.get('key') || keys[0]?.name || '';
      const id = drills.get(key);
      return {
        keys,
        key,
        run: id ? await api('GET', `/v1/requests/${id}`).catch(() => undefined) : undefined,
      };
    },
    render: ({ keys, key, run }) => [
      h('h1', {}, 'Recovery drill'),
      h(
        'p',
        {},
        "Every threshold-sized subset of the key's members signs a fresh random message on its own, and this party verifies each signature. A subset that fails names why and whom to blame.",
      ),
      keys.length === 0
        ? h('p', { class: 'muted' }, 'This party holds no key.')
        : h(
            'div',
            { class: 'row' },
            'key ',
            select(
              keys.map((k) => k.name),
              key,
              (v) => {
                location.hash = `drill/?key=${enc(v)}`;
              },
              'drill-key',
            ),
            session.scope === 'request'
              ? h(
                  'button',
                  {
                    class: 'primary',
                    type: 'button',
                    id: 'run-drill',
                    disabled: run && !['done', 'failed'].includes(run.state),
                    onclick: () => startDrill(key),
                  },
                  'Run drill',
                )
              : h(
                  'span',
                  { class: 'muted' },
                  `A drill asks for signatures: it takes a session of the request token ("frostnet ui --scope request"); this is a ${session.scope} session.`,
                ),
          ),
      run ? drillReport(run) : null,
    ],
  },
};

function table(head, rows, id) {
  return h(
    'table',
    { id },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        head.map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h(
          'tr',
          {},
          r.map((c) => h('td', {}, c)),
        ),
      ),
    ),
  );
}

function select(options, value, onchange, id) {
  const s = h(
    'select',
    { id, onchange: () => onchange(s.value) },
    options.map((o) => h('option', { value: o, selected: o === value }, o || 'any')),
  );
  return s;
}

function networkSelect(key, network, page) {
  return select(
    NETWORKS,
    network,
    (v) => {
      location.hash = `${page}/${enc(key)}?network=${v}`;
    },
    'network',
  );
}

function qr(text, caption) {
  return h(
    'figure',
    { class: 'qr' },
    h('img', { src: `/ui/qr.svg?text=${enc(text)}`, alt: `QR code of ${text}`, 'data-qr': text }),
    h('figcaption', { class: 'mono' }, caption),
  );
}

function heldText(r) {
  if (r.held)
    return `${r.held.approvals.length} of ${r.held.needed} approvals; held by ${r.held.holders.map((x) => `${nameOf(x.party)} (${x.reason})`).join('; ')}`;
  if (r.settling) return `confirmations of ${r.settling.missing.map(nameOf).join(', ')}`;
  if (r.error) return `${r.error.code}: ${r.error.message}`;
  return '';
}

function entryCard(e) {
  const open = e.status === 'awaiting approval' || e.status === 'time-locked';
  const statusClass = e.status === 'signed' || e.status === 'ready' ? 'ok' : open ? 'warn' : 'bad';
  return h(
    'article',
    { class: 'card entry', 'data-entry': e.id },
    h(
      'div',
      { class: 'row' },
      h('strong', {}, e.summary),
      h('span', { class: `pill ${statusClass}`, 'data-status': e.status }, e.status),
    ),
    h(
      'dl',
      { class: 'kv' },
      h('dt', {}, 'request'),
      h('dd', { class: 'mono' }, e.shortId),
      h('dt', {}, 'key'),
      h('dd', {}, e.key),
      h('dt', {}, 'asked by'),
      h('dd', {}, who(e.requester)),
      h('dt', {}, 'first seen'),
      h('dd', {}, when(e.firstSeen)),
      e.reasons.length
        ? [h('dt', {}, 'held because'), h('dd', { class: 'reasons' }, e.reasons.join('; '))]
        : null,
      e.unlockAt
        ? [h('dt', {}, 'time lock'), h('dd', {}, `until ${when(e.unlockAt)} (${remaining(e.unlockAt)} left)`)]
        : null,
      e.approvalExpiresAt && e.status === 'awaiting approval'
        ? [
            h('dt', {}, 'approve before'),
            h('dd', {}, `${when(e.approvalExpiresAt)} (${remaining(e.approvalExpiresAt)} left)`),
          ]
        : null,
      e.decidedAt ? [h('dt', {}, 'decided'), h('dd', {}, when(e.decidedAt))] : null,
      e.signedAt ? [h('dt', {}, 'signed'), h('dd', {}, when(e.signedAt))] : null,
    ),
    details(e.details),
    open && session.scope === 'approve' ? decisionRow(e) : null,
  );
}

function details(d) {
  if (d.kind === 'psbt')
    return h(
      'div',
      { class: 'psbt' },
      h(
        'p',
        {},
        `Bitcoin transaction on ${d.network}: sends ${sats(d.sent)} to others, fee `,
        h('span', { class: 'fee', 'data-sats': d.fee }, `${d.fee} sat`),
        ' at ',
        h('span', { class: 'fee-rate', 'data-rate': d.feeRate }, `${d.feeRate} sat/vB`),
        '.',
      ),
      h('h3', {}, 'Outputs'),
      h(
        'table',
        { class: 'outputs' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['#', 'address', 'amount', 'sat', ''].map((c) => h('th', {}, c)),
          ),
        ),
        h(
          'tbody',
          {},
          d.outputs.map((o) =>
            h(
              'tr',
              { 'data-output': o.index },
              h('td', {}, o.index),
              h('td', { class: 'mono address' }, o.address ?? `script ${o.script}`),
              h('td', { class: 'num' }, sats(o.amount)),
              h('td', { class: 'num amount', 'data-sats': o.amount }, o.amount),
              h('td', { class: 'change' }, o.change ? `change (${o.path})` : ''),
            ),
          ),
        ),
      ),
      h('h3', {}, 'Inputs'),
      h(
        'table',
        { class: 'inputs' },
        h(
          'tbody',
          {},
          d.inputs.map((i) =>
            h(
              'tr',
              {},
              h('td', {}, i.index),
              h('td', { class: 'mono' }, i.outpoint),
              h('td', { class: 'mono' }, i.address ?? ''),
              h('td', { class: 'num' }, sats(i.amount)),
              h('td', {}, i.ours ? `this key (${i.path})` : 'not this key'),
            ),
          ),
        ),
      ),
      h('p', { class: 'muted' }, `in ${sats(d.totalIn)}, out ${sats(d.totalOut)}`),
    );
  if (d.kind === 'typedData')
    return h(
      'dl',
      { class: 'kv evm' },
      h('dt', {}, 'EVM action'),
      h('dd', {}, d.action),
      h('dt', {}, 'chain'),
      h('dd', {}, d.chainId),
      h('dt', {}, 'account'),
      h('dd', { class: 'mono' }, `${d.account} (account ${d.accountIndex})`),
      d.action === 'Execute'
        ? [
            h('dt', {}, 'target'),
            h('dd', { class: 'mono' }, d.to),
            h('dt', {}, 'value'),
            h('dd', {}, ether(d.value)),
            h('dt', {}, 'call'),
            h(
              'dd',
              { class: 'mono' },
              d.call ?? (d.data === '0x' ? 'none (plain transfer)' : `${d.selector ?? ''} ${d.data}`),
            ),
          ]
        : d.action === 'VetoRecovery'
          ? [h('dt', {}, 'cancels'), h('dd', {}, "the account's pending recovery")]
          : [h('dt', {}, 'new key'), h('dd', { class: 'mono' }, d.newKey)],
      h('dt', {}, 'nonce, deadline'),
      h('dd', {}, `${d.nonce}, ${d.deadline}`),
    );
  if (d.kind === 'proposal')
    return h(
      'dl',
      { class: 'kv proposal' },
      h('dt', {}, 'ceremony'),
      h('dd', {}, `${d.ceremony} of ${d.key} at epoch ${d.epoch}`),
      h('dt', {}, 'now'),
      h('dd', {}, `${d.oldThreshold} of ${d.oldMembers.length}: `, parties(d.oldMembers)),
      h('dt', {}, 'after'),
      h('dd', {}, `${d.newThreshold} of ${d.newMembers.length}: `, parties(d.newMembers)),
      d.added.length ? [h('dt', {}, 'added'), h('dd', {}, parties(d.added))] : null,
      d.removed.length ? [h('dt', {}, 'removed'), h('dd', {}, parties(d.removed))] : null,
      h('dt', {}, 'proposed by'),
      h('dd', {}, who(d.proposer)),
      h('dt', {}, 'expires'),
      h('dd', {}, when(d.expiresAt)),
    );
  return h(
    'dl',
    { class: 'kv raw' },
    h('dt', {}, 'raw message'),
    h('dd', { class: 'mono' }, d.message),
    h('dt', {}, 'scheme, path'),
    h('dd', {}, `${d.scheme}, ${d.path}${d.taproot ? ', taproot' : ''}`),
  );
}

function decisionRow(e) {
  const input = h('input', {
    type: 'text',
    maxlength: 500,
    placeholder: 'reason (kept in the audit log)',
    class: 'reason',
    value: reasons.get(e.id) ?? '',
    oninput: () => reasons.set(e.id, input.value),
  });
  const out = h('span', { class: 'decision-result' });
  const decide = (d) => async () => {
    try {
      await api('POST', `/v1/approvals/${e.id}/${d}`, { reason: input.value });
      reasons.delete(e.id);
      out.textContent = `${d}d`;
      refresh(true);
    } catch (err) {
      out.className = 'decision-result error';
      out.textContent = err.message;
    }
  };
  return h(
    'div',
    { class: 'row decide' },
    input,
    e.status === 'awaiting approval'
      ? h('button', { class: 'primary approve', type: 'button', onclick: decide('approve') }, 'Approve')
      : null,
    e.status === 'awaiting approval'
      ? h('button', { class: 'danger reject', type: 'button', onclick: decide('reject') }, 'Reject')
      : null,
    h('button', { class: 'cancel', type: 'button', onclick: decide('cancel') }, 'Cancel request'),
    out,
  );
}

async function startDrill(key) {
  try {
    const r = await api('POST', `/v1/keys/${enc(key)}/drill`, {});
    drills.set(key, r.id);
    refresh(true);
  } catch (err) {
    show([h('p', { class: 'error' }, err.message)]);
  }
}

function drillReport(run) {
  const res = run.result;
  return h(
    'section',
    { class: 'card drill', 'data-state': run.state },
    h(
      'p',
      {},
      `Drill ${run.state}`,
      res ? `: ${res.working} of ${res.tested} tested subset(s) can sign (${res.combinations} in all)` : '',
    ),
    res
      ? table(
          ['result', 'signers', 'why'],
          res.results.map((r) => [
            h('span', { class: r.ok ? 'ok' : 'bad' }, r.ok ? 'ok' : 'FAILED'),
            h(
              'span',
              { 'data-signers': r.signers.join(',') },
              r.signers.map((m, i) => [i ? ' + ' : '', who(m)]),
            ),
            r.ok
              ? ''
              : `${r.error.code}: ${namedText(r.error.message)}${r.error.culprits.length ? ` (parties: ${r.error.culprits.map(nameOf).join(', ')})` : ''}`,
          ]),
          'drill-results',
        )
      : h(
          'ul',
          {},
          run.progress.map((l) => h('li', { class: 'mono' }, l)),
        ),
    run.error ? h('p', { class: 'error' }, `${run.error.code}: ${run.error.message}`) : null,
  );
}

// ---- the loop ----------------------------------------------------------------------------------------------

function show(nodes) {
  document.getElementById('view').replaceChildren(...nodes.flat(Infinity).filter(Boolean));
}

let generation = 0;

async function refresh(force = false) {
  clearTimeout(timer);
  const mine = ++generation;
  const r = route();
  const page = pages[r.page] ?? pages.overview;
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle(
      'here',
      a.dataset.page === r.page || (r.page === 'key' && a.dataset.page === 'overview'),
    );
  try {
    const data = await page.load(r);
    // A newer refresh (the page changed meanwhile) draws instead of this one.
    if (mine !== generation) return;
    const text = JSON.stringify([r, data, session.scope]);
    if (force || text !== shown) {
      shown = text;
      show(page.render(data));
    }
    document.getElementById('foot').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    if (mine !== generation) return;
    if (err.status === 401) return loggedOut();
    shown = '';
    show([h('p', { class: 'error' }, err.message)]);
  }
  timer = setTimeout(() => refresh(), POLL_MS);
}

function loggedOut() {
  document.getElementById('who').textContent = '';
  document.getElementById('logout').hidden = true;
  show([
    h('h1', {}, 'Not logged in'),
    h('p', {}, 'Run ', h('code', {}, 'frostnet ui'), ' on this party and open the one-time link it prints.'),
  ]);
}

async function main() {
  try {
    session = await api('GET', '/session');
  } catch (err) {
    if (err.status === 401) return loggedOut();
    return show([h('p', { class: 'error' }, err.message)]);
  }
  document.getElementById('who').textContent = `${session.scope} session`;
  document.body.dataset.scope = session.scope;
  const out = document.getElementById('logout');
  out.hidden = false;
  out.addEventListener('click', async () => {
    await api('POST', '/logout').catch(() => {});
    loggedOut();
  });
  try {
    names = new Map((await api('GET', '/v1/peers')).filter((p) => p.name).map((p) => [p.id, p.name]));
  } catch {
    // Names are a convenience; ids still show.
  }
  window.addEventListener('hashchange', () => refresh(true));
  refresh(true);
}

main();
