/**
 * Policies on real daemons: three parties, 2-of-3 keys, a policy file written into each data dir before start.
 * Party 1 runs in this process, with a clock the test moves (for expiry and time locks) and a transform that
 * lets it play a lying coordinator; parties 2 and 3 are `frostnet start` processes.
 *
 * The operator's side goes through the `frostnet approvals` commands, each run as an operator would run it.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { walletRoot } from '../../../chains/bitcoin/keys.ts';
import { rotateKeyTypedData } from '../../../chains/evm/typed-data.ts';
import { PartyPolicy } from '../../../node/policy/party-policy.ts';
import type { Envelope } from '../../../node/transport/wire.ts';
import { G, hexToBytes, xOnly } from '../../../protocol/curve.ts';
import { testWallet } from '../../bitcoin/helpers.ts';
import { frostnet } from '../../cli/helpers.ts';
import { Network } from '../../helpers/network.ts';
import { refusalParts } from '../../helpers/network-extra.ts';
import {
  ACCOUNT,
  coin,
  ERC20_TRANSFER,
  executeData,
  FakeClock,
  NET,
  outsideAddress,
  spendPsbt,
  TOKEN,
  transferData,
} from './helpers.ts';

const other = testWallet(NET, 'payee').wallet;
const PAYEE = outsideAddress(other, 0);
const THIEF = outsideAddress(other, 1);

const BTC_RULES = {
  rawMessages: false,
  evm: false,
  bitcoin: {
    networks: [NET],
    maxSentPerTx: 200_000,
    maxSentPerDay: 250_000,
    destinations: [PAYEE],
    changeToSelf: true,
    maxFeeRate: 50,
  },
};
/** Rules not exercised by the keys above: signing schemes, Bitcoin networks, change, an absolute fee ceiling. */
const MORE_RULES = {
  schemes: ['bip340'],
  rawMessages: true,
  evm: false,
  bitcoin: { networks: [NET], changeToSelf: true, maxChangeIndex: 10, maxFee: 3000 },
};
/** EVM rules not exercised by the "evm" key: allowed actions and a daily value limit. */
const EVM_DAY_RULES = {
  rawMessages: false,
  bitcoin: false,
  evm: { chainIds: [1], actions: ['Execute'], maxValuePerDay: '1 ether' },
};
const EVM_RULES = {
  rawMessages: false,
  bitcoin: false,
  evm: { chainIds: [1], targets: [TOKEN], selectors: [ERC20_TRANSFER], maxValuePerTx: '1 ether' },
};

/** Runs `frostnet <args> --data-dir <dir>` as an operator would, in a process of its own. */
async function operator(
  dataDir: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const r = await frostnet([...args, '--data-dir', dataDir]);
  return { code: r.code ?? 1, out: r.stdout, err: r.stderr };
}

describe('policies on three daemons', () => {
  let net: Network;
  const clock = new FakeClock();
  /** When set, party 1 as coordinator swaps `from` for `to` in every envelope it sends. */
  let lie: { from: Buffer; to: Buffer } | undefined;
  const ids: string[] = [];
  const wallets = new Map<string, ReturnType<typeof walletFor>>();
  const walletFor = (k: { groupKey: string; chainCode: string }) =>
    ({
      root: walletRoot(hexToBytes(k.groupKey), hexToBytes(k.chainCode)),
      network: NET,
    }) as const;

  const swap = (_to: string, env: Envelope): Envelope => {
    if (!lie) return env;
    const at = Buffer.from(env.payload).indexOf(lie.from);
    if (at < 0) return env;
    const payload = Buffer.from(env.payload);
    lie.to.copy(payload, at);
    return { ...env, payload };
  };

  before(async () => {
    net = await Network.create(3);
    ids.push(...net.ids);
    const [p1, p2, p3] = net.parties;
    const common = {
      btc: BTC_RULES,
      evm: EVM_RULES,
      raw: { rawMessages: true, requesters: [ids[0]], requestsPerHour: 1 },
      more: MORE_RULES,
      evmday: EVM_DAY_RULES,
    };
    const write = (dir: string, policy: unknown) =>
      writeFile(join(dir, 'policy.json'), JSON.stringify(policy));
    await write(p1.dataDir, {
      approvalExpirySeconds: 3600,
      // Party 1 signs whatever the others' rules are tested on, raw messages included.
      default: { rawMessages: true },
      keys: {
        vault: { bitcoin: { approvalAbove: 50_000 } },
        slow: { bitcoin: { timeLock: { above: 50_000, delaySeconds: 3600 } } },
      },
    });
    await write(p2.dataDir, {
      default: {},
      keys: { ...common, vault: { bitcoin: { approvalAbove: 50_000 } } },
    });
    await write(p3.dataDir, {
      default: {},
      keys: { ...common, vault: { bitcoin: false }, slow: { bitcoin: false } },
    });
    const policy = await PartyPolicy.open({ dataDir: p1.dataDir, self: p1.peerId, clock: clock.read });
    await Promise.all([
      net.startInProcess(0, { policy, transformOutbound: swap }),
      net.start(1),
      net.start(2),
    ]);
    for (const name of ['btc', 'evm', 'raw', 'vault', 'slow', 'more', 'evmday']) {
      const k = await net.keygen(0, name, 2, net.ids, NET);
      assert.equal(k.state, 'done', JSON.stringify(k.error));
      assert.equal(k.result.network, NET);
      wallets.set(name, walletFor(k.result));
    }
  });
  after(async () => net?.close());

  const sign = (i: number, key: string, body: Record<string, unknown>, signers?: number[]) =>
    net.run(i, `/v1/keys/${key}/sign`, { ...body, ...(signers && { signers: signers.map((s) => ids[s]) }) });
  const psbt = (key: string, to: string, amount: bigint, o: { feeRate?: number; label?: string } = {}) =>
    spendPsbt(wallets.get(key)!, {
      payments: [{ address: to, amount }],
      utxos: [coin(`${key} ${o.label ?? amount}`, 1_000_000n)],
      feeRate: o.feeRate,
    });
  const payBody = (...a: Parameters<typeof psbt>) => ({ psbt: psbt(...a).toBase64(), network: NET });

  const signed = (r: { state: string; error?: unknown }) =>
    assert.equal(r.state, 'done', JSON.stringify(r.error));
  /** Signing failed because too few parties remain, and the error carries each listed party's reason. */
  function refusedBy(
    r: { state: string; error?: { code: string; message: string }; names?: Record<string, string> },
    reasons: [number, RegExp][],
  ) {
    assert.equal(r.state, 'failed', JSON.stringify(r));
    assert.equal(r.error?.code, 'NOT_ENOUGH_SIGNERS');
    const parts = refusalParts(r, ids);
    for (const [party, reason] of reasons) {
      const mine = parts.get(ids[party]!);
      assert.ok(mine && reason.test(mine), `party ${party + 1}: ${reason} not in ${r.error!.message}`);
    }
  }

  test('Bitcoin rules: a payment inside them is signed; outside them, both other parties refuse with reasons', async () => {
    signed(await sign(0, 'btc', payBody('btc', PAYEE, 100_000n), [0, 1]));
    refusedBy(await sign(0, 'btc', { message: 'ab'.repeat(32) }), [
      [1, /raw message signing is off/],
      [2, /raw message signing is off/],
    ]);
    refusedBy(await sign(0, 'btc', payBody('btc', THIEF, 10_000n)), [
      [1, new RegExp(`pays 10000 sat to ${THIEF}, which is not an allowed destination`)],
      [2, new RegExp(`pays 10000 sat to ${THIEF}, which is not an allowed destination`)],
    ]);
    refusedBy(await sign(0, 'btc', payBody('btc', PAYEE, 10_000n, { feeRate: 80 })), [
      [1, /fee rate of 80\.\d+ sat\/vB is above the limit of 50/],
      [2, /fee rate of 80\.\d+ sat\/vB is above the limit of 50/],
    ]);
    refusedBy(await sign(0, 'btc', payBody('btc', PAYEE, 200_001n)), [
      [1, /200001 sat is above the per-transaction limit of 200000 sat/],
      [2, /200001 sat is above the per-transaction limit of 200000 sat/],
    ]);
  });

  test('schemes, networks, change and the fee ceiling: each allows and denies', async () => {
    const msg = { message: 'cd'.repeat(32) };
    signed(await sign(0, 'more', { ...msg, scheme: 'bip340' }, [0, 1]));
    refusedBy(await sign(0, 'more', { ...msg, scheme: 'rfc9591' }), [
      [1, /scheme rfc9591 is not allowed/],
      [2, /scheme rfc9591 is not allowed/],
    ]);
    const within = psbt('more', PAYEE, 20_000n, { label: 'within' });
    signed(await sign(0, 'more', { psbt: within.toBase64(), network: NET }, [0, 2]));
    // The network is the key's: a request naming another is refused up front, before any party is asked.
    const wrongNet = await sign(0, 'more', { psbt: within.toBase64(), network: 'testnet' });
    assert.equal(wrongNet.state, 'rejected');
    assert.equal(wrongNet.error.code, 'BAD_REQUEST');
    assert.match(wrongNet.error.message, /is testnet, but key is a regtest key/);
    const farChange = spendPsbt(wallets.get('more')!, {
      payments: [{ address: PAYEE, amount: 20_000n }],
      utxos: [coin('more far change', 1_000_000n)],
      changeIndex: 11,
    });
    refusedBy(await sign(0, 'more', { psbt: farChange.toBase64(), network: NET }), [
      [1, /returns change to m\/1\/11, not to a change address of this key/],
      [2, /returns change to m\/1\/11, not to a change address of this key/],
    ]);
    refusedBy(await sign(0, 'more', payBody('more', PAYEE, 20_000n, { feeRate: 40, label: 'dear' })), [
      [1, /the fee of \d+ sat is above the limit of 3000 sat/],
      [2, /the fee of \d+ sat is above the limit of 3000 sat/],
    ]);
  });

  test('the daily limit counts what each party itself signed', async () => {
    // Party 2 signed 100 000 sat above; party 3 has signed nothing.
    const body = payBody('btc', PAYEE, 200_000n);
    refusedBy(await sign(0, 'btc', body, [0, 1]), [
      [1, /on top of 100000 sat in the past 24 h is above the daily limit/],
    ]);
    signed(await sign(0, 'btc', body, [0, 2]));
  });

  test('a coordinator that sends other parties another transaction than it claims is caught by their own decoding', async () => {
    const claimed = psbt('btc', PAYEE, 10_000n, { label: 'lie' });
    for (const [sent, reason] of [
      [
        psbt('btc', THIEF, 10_000n, { label: 'lie' }),
        new RegExp(`pays 10000 sat to ${THIEF}, which is not an allowed`),
      ],
      [psbt('btc', PAYEE, 210_000n, { label: 'lie' }), /210000 sat is above the per-transaction limit/],
    ] as const) {
      // Same size, so the swap leaves the envelope well-formed: only the decoded content differs.
      assert.equal(sent.toBuffer().length, claimed.toBuffer().length);
      lie = { from: Buffer.from(claimed.toBuffer()), to: Buffer.from(sent.toBuffer()) };
      try {
        // The requester's own metadata says "10 000 sat to the payee"; the daemon never reads it.
        const body = { psbt: claimed.toBase64(), network: NET, summary: { sent: '10000', to: PAYEE } };
        refusedBy(await sign(0, 'btc', body), [
          [1, reason],
          [2, reason],
        ]);
      } finally {
        lie = undefined;
      }
    }
    // What each party's policy saw is its own decoding: party 1 audited the claimed payment, party 3 the real one.
    // (A party that signs in one round releases its share at once, so its last line may be "signed": skip those.)
    const lastDecision = async (i: number) => {
      const text = await readFile(join(net.parties[i].dataDir, 'audit.log'), 'utf8');
      const lines = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      return lines.filter((l) => l.decision === 'allowed' || l.decision === 'denied').at(-1);
    };
    const [mine, theirs] = [await lastDecision(0), await lastDecision(2)];
    assert.equal(mine.decision, 'allowed');
    assert.deepEqual(mine.what.outputs[0], { ...mine.what.outputs[0], address: PAYEE, amount: '10000' });
    assert.equal(theirs.decision, 'denied');
    assert.equal(theirs.requester, ids[0]);
    assert.deepEqual(theirs.what.outputs[0], { ...theirs.what.outputs[0], address: PAYEE, amount: '210000' });
  });

  test('EVM rules: a token transfer inside them is signed; a wrong chain, call or value is refused', async () => {
    const td = (o: Parameters<typeof executeData>[0]) => ({ typedData: executeData(o) });
    signed(await sign(0, 'evm', td({ data: transferData(5n) })));
    refusedBy(await sign(0, 'evm', td({ chainId: 10n, data: transferData(5n) })), [
      [1, /chain id 10 is not allowed/],
      [2, /chain id 10 is not allowed/],
    ]);
    refusedBy(await sign(0, 'evm', td({ data: `0x095ea7b3${'00'.repeat(64)}` })), [
      [1, /function selector 0x095ea7b3 is not allowed/],
      [2, /function selector 0x095ea7b3 is not allowed/],
    ]);
    refusedBy(await sign(0, 'evm', td({ data: transferData(5n), value: 2n * 10n ** 18n })), [
      [1, /2000000000000000000 wei is above the per-transaction limit/],
      [2, /2000000000000000000 wei is above the per-transaction limit/],
    ]);
  });

  test('EVM targets, actions and the daily value limit: each allows and denies', async () => {
    const td = (o: Parameters<typeof executeData>[0]) => ({ typedData: executeData(o) });
    refusedBy(await sign(0, 'evm', td({ to: `0x${'cd'.repeat(20)}`, data: transferData(5n) })), [
      [1, /is not an allowed contract/],
      [2, /is not an allowed contract/],
    ]);
    const rotate = {
      typedData: rotateKeyTypedData(
        { chainId: 1n, address: ACCOUNT },
        { newKey: xOnly(G.multiply(7n)), nonce: 0n, deadline: 2n ** 40n },
      ),
    };
    refusedBy(await sign(0, 'evmday', rotate), [
      [1, /EVM action RotateKey is not allowed/],
      [2, /EVM action RotateKey is not allowed/],
    ]);
    const tenth = 6n * 10n ** 17n;
    signed(await sign(0, 'evmday', td({ value: tenth, nonce: 1n }), [0, 1]));
    // Party 2 has signed 0.6 ether today; another 0.6 passes its per-transaction view but not its daily one.
    refusedBy(await sign(0, 'evmday', td({ value: tenth, nonce: 2n }), [0, 1]), [
      [1, /in the past 24 h is above the daily limit/],
    ]);
    // Party 3 has signed nothing today: with it, the same request goes through.
    signed(await sign(0, 'evmday', td({ value: tenth, nonce: 2n }), [0, 2]));
  });

  test('requesters and requests per hour', async () => {
    // Party 2 coordinating: it is not an allowed requester at party 2 itself ("self") nor at party 3.
    refusedBy(await sign(1, 'raw', { message: '01' }), [
      [1, /requester self may not request signatures/],
      // Party 3 names the requester by its peer id; the coordinator (party 2) calls itself "self".
      [2, /requester self may not request signatures/],
    ]);
    signed(await sign(0, 'raw', { message: '02' }, [0, 1]));
    refusedBy(await sign(0, 'raw', { message: '03' }, [0, 1]), [
      [1, /1 requests of this key in the past hour already; the limit is 1/],
    ]);
  });

  /**
   * The request waits for approvals (a state, not a failure). The coordinator stops asking once fewer than t
   * could sign, so it may not have heard every party: the holders and refusers it names are among those
   * listed, each with its reason, and the first listed holder (party 1, always asked first) is among them.
   * Returns the request's id at the holders (`held.id`).
   */
  function heldBy(
    r: {
      state: string;
      held?: {
        id: string;
        holders: { party: string; reason: string }[];
        refused?: { party: string; reason: string }[];
      };
    },
    holders: [number, RegExp][],
    refusers: [number, RegExp][] = [],
  ): string {
    assert.equal(r.state, 'awaiting-approval', JSON.stringify(r));
    const held = r.held!;
    const check = (got: { party: string; reason: string }[], want: [number, RegExp][]) => {
      for (const g of got) {
        const w = want.find(([p]) => ids[p] === g.party);
        assert.ok(w, `${g.party} is not expected here: ${JSON.stringify(held)}`);
        assert.match(g.reason, w[1]);
      }
    };
    check(held.holders, holders);
    check(held.refused ?? [], refusers);
    assert.ok(
      held.holders.some((h) => h.party === ids[holders[0][0]]),
      JSON.stringify(held),
    );
    return held.id;
  }
  /** Follows request `id` at party i until it is done or failed (it goes on by itself while held). */
  async function finish(i: number, id: string) {
    for (;;) {
      const r = (await net.call(i, 'GET', `/v1/requests/${id}?wait=30000`)).json;
      if (r.state === 'done' || r.state === 'failed') return r;
    }
  }

  test('approval through the CLI: list, show, approve at both holding parties; the held request is signed', async () => {
    const body = payBody('vault', PAYEE, 120_000n);
    const first = await sign(0, 'vault', body);
    const id = heldBy(
      first,
      [
        [
          0,
          /awaits approval by this party's operator \(120000 sat is above the approval threshold of 50000 sat\)/,
        ],
        [1, /awaits approval/],
      ],
      [[2, /signs no Bitcoin transactions/]],
    );
    // Asked again, it is the same request.
    assert.equal((await net.call(0, 'POST', '/v1/keys/vault/sign', body)).json.id, first.id);
    const [p1, p2] = net.parties;

    const list = await operator(p1.dataDir, 'approvals', 'list');
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, new RegExp(`${id}\\s+vault\\s+awaiting approval`));
    const show = await operator(p1.dataDir, 'approvals', 'show', id);
    assert.equal(show.code, 0, show.err);
    assert.match(show.out, new RegExp(`#0  120000 sat \\(0\\.0012 BTC\\)  ${PAYEE}  PAYMENT`));
    assert.match(show.out, /#1 {2}\d+ sat .* change to this key m\/1\/0/);
    assert.match(show.out, /#0 {2}[0-9a-f]{64}:0 {2}1000000 sat .* this key m\/0\/0/);
    assert.match(show.out, /sends 120000 sat .* fee \d+ sat/);

    // The id is a hash of what is signed, so party 2 holds the same request under the same id.
    for (const p of [p1, p2]) {
      const ok = await operator(p.dataDir, 'approvals', 'approve', id.slice(0, 10));
      assert.equal(ok.code, 0, ok.err);
      assert.match(ok.out, new RegExp(`request ${id} \\(key vault\\) is ready`));
    }
    const done = await finish(0, first.id);
    signed(done);
    assert.deepEqual([...done.result.signers].sort(), [ids[0], ids[1]].sort());
    const json = JSON.parse((await operator(p1.dataDir, 'approvals', 'show', id, '--json')).out);
    assert.equal(json.status, 'signed');
  });

  test('reject through the CLI: the request stays refused', async () => {
    const body = payBody('vault', PAYEE, 130_000n);
    const first = await sign(0, 'vault', body);
    const id = heldBy(
      first,
      [
        [0, /awaits approval/],
        [1, /awaits approval/],
      ],
      [[2, /signs no Bitcoin/]],
    );
    const no = await operator(net.parties[0].dataDir, 'approvals', 'reject', id);
    assert.equal(no.code, 0, no.err);
    refusedBy(await finish(0, first.id), [[0, /was rejected by this party's operator/]]);
    refusedBy(await sign(0, 'vault', body), [[0, /was rejected by this party's operator/]]);
    const again = await operator(net.parties[0].dataDir, 'approvals', 'approve', id);
    assert.equal(again.code, 1);
    assert.match(again.err, /^error: request [0-9a-f]{16} is already rejected/);
  });

  test('expiry: a request not approved in time cannot be approved or signed any more', async () => {
    const body = payBody('vault', PAYEE, 140_000n);
    const first = await sign(0, 'vault', body);
    const id = heldBy(
      first,
      [
        [0, /awaits approval/],
        [1, /awaits approval/],
      ],
      [[2, /signs no Bitcoin/]],
    );
    clock.advance(3600);
    const open = await operator(net.parties[0].dataDir, 'approvals', 'list');
    assert.doesNotMatch(open.out, new RegExp(id));
    const all = await operator(net.parties[0].dataDir, 'approvals', 'list', '--all');
    assert.match(all.out, new RegExp(`${id}\\s+vault\\s+expired`));
    const late = await operator(net.parties[0].dataDir, 'approvals', 'approve', id);
    assert.equal(late.code, 1);
    assert.match(late.err, /is already expired/);
    refusedBy(await finish(0, first.id), [[0, /expired without approval/]]);
  });

  test('time lock: held until the delay has passed at this party, then signed; cancelled during the delay, refused for good', async () => {
    // Only parties 1 and 2 sign "slow"; party 1 locks payments above 50 000 sat for an hour.
    const body = payBody('slow', PAYEE, 60_000n);
    const first = await sign(0, 'slow', body);
    heldBy(
      first,
      [[0, /time-locked at this party until .* \(60000 sat is above the time-lock threshold of 50000 sat\)/]],
      [[2, /signs no Bitcoin transactions/]],
    );
    const lock = first.held.holders[0];
    assert.equal(lock.code, 'TIME_LOCKED');
    assert.ok(Date.parse(lock.until) > clock.read(), `the lock's end is given: ${lock.until}`);
    clock.advance(3600);
    signed(await finish(0, first.id));

    const other = payBody('slow', PAYEE, 70_000n);
    const held = await sign(0, 'slow', other);
    const id = heldBy(held, [[0, /time-locked/]], [[2, /signs no Bitcoin/]]);
    const shown = await operator(net.parties[0].dataDir, 'approvals', 'show', id);
    assert.match(shown.out, /status {5}time-locked/);
    const cancel = await operator(net.parties[0].dataDir, 'approvals', 'cancel', id);
    assert.equal(cancel.code, 0, cancel.err);
    assert.match(cancel.out, /is cancelled: this party will refuse it from now on/);
    clock.advance(3600);
    refusedBy(await finish(0, held.id), [[0, /was cancelled by this party's operator/]]);
  });
});

test('a daemon with an invalid policy file does not start, and says which field is wrong', async () => {
  const net = await Network.create(1);
  try {
    const file = join(net.parties[0].dataDir, 'policy.json');
    await writeFile(file, JSON.stringify({ keys: { treasury: { bitcoin: { maxSentPerTx: '1.5 sat' } } } }));
    await assert.rejects(
      net.startInProcess(0),
      (e) =>
        e instanceof Error &&
        e.message.includes(
          `policy ${file}: "keys.treasury.bitcoin.maxSentPerTx" is not a whole number of sat`,
        ),
    );
  } finally {
    await net.close();
  }
});
