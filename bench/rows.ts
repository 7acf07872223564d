/**
 * The table's rows from a run's results: each networked figure beside its baseline, and the targets.
 * A figure that could not be measured still gets its row (value "failed"), so a missed target never vanishes.
 */

import { partDetail } from '../chains/evm/gas-breakdown.ts';
import { type Group, label } from './baseline.ts';
import type { RecoverySizeReport, TaprootReport } from './bitcoin.ts';
import type { GasReport, RecoveryGas } from './gas-report.ts';
import type { FaultRun, Throughput } from './network.ts';
import { type SignPerParty, ZF_FROST } from './per-party.ts';
import { type Row, row } from './report.ts';
import { mean, median, quantile, type Samples } from './stats.ts';

/**
 * `inProcess` is the fixed reference: @noble/curves' own FROST API in one thread. `core` is this project's
 * protocol code in one thread, `network` the daemons.
 */
export type Pair = { inProcess: Samples; core?: Samples; network?: Samples };

/** One party's work in a large group, this project's core beside noble's FROST API on the same inputs. */
export type PerParty = {
  group: Group;
  dkg?: { core: Samples; noble: Samples };
  sign?: { core: SignPerParty; noble: SignPerParty };
};

export type Results = {
  bareRssMB: number;
  idleRssMB: number[];
  singleKey: Samples;
  dkg: Record<string, Pair>;
  sign: Record<string, Pair>;
  throughput: Throughput[];
  refresh?: Pair;
  perParty: PerParty[];
  faults?: FaultRun;
  taproot?: TaprootReport;
  gas?: GasReport;
  /** What a recovery policy costs: input sizes (in process) and the account recovery's gas (anvil). */
  recovery?: RecoveryReport;
  /** Computed from the script sizes (bench/bitcoin.ts), not measured. */
  p2wshInputVsize: Record<string, number>;
  /** Sections that failed, and why. */
  errors: Record<string, string>;
};

/** Published Safe v1.5.0 figures: not measured here, the Safe contracts are not in this repository. */
export const SAFE_GAS: Record<string, number> = { '1-of-1': 58_194, '3-of-5': 72_290 };

export const TARGETS = {
  signRatio: 0.8,
  throughputC64: 150,
  dkg1115Ms: 1000,
  idleRssMB: 110,
  /** 67-of-100 DKG per party, this project's core against noble's FROST DKG on the same inputs. */
  dkgPerPartyRatio: 0.1,
  verificationGas: 5_500,
  ethTransferGas: 40_000,
};

/** The group whose transfer is compared with Safe and broken down in the table. */
const GAS_GROUP = '3-of-5';
/**
 * Breakdown parts no contract code can avoid: the chain charges them for any transfer through execute (with its
 * ABI, so its calldata), to a cold existing account, with a replay nonce in storage.
 */
const UNAVOIDABLE = ['intrinsic', 'calldata', 'access list', 'nonce slot', 'value call'];
const PRECOMPILES = ['sha256', 'ecrecover'];

const p50 = (s: Samples) => median(s.wall);
const cpu = (s: Samples) => mean(s.cpu);
/** " (2 of 40 failed)" when some runs failed. */
const failed = (s: Samples) =>
  s.failures.length ? ` (${s.failures.length} of ${s.wall.length + s.failures.length} failed)` : '';

export function buildRows(r: Results, groups: Record<string, Group>, daemons: number): Row[] {
  const rows: Row[] = [];
  const inproc = (measure: string, s: Samples, per = 1) =>
    rows.push(
      row({
        section: 'in-process',
        measure,
        value: p50(s) / per,
        unit: 'ms',
        cpu: { value: cpu(s) / per },
      }),
    );

  for (const g of Object.values(groups)) {
    const { inProcess: noble, core } = r.dkg[label(g)];
    inproc(
      `DKG ${label(g)} total, @noble/curves FROST DKG (the reference), median of ${noble.wall.length}`,
      noble,
    );
    if (core) {
      inproc(`DKG ${label(g)} total, this project's DKG, median of ${core.wall.length}`, core);
      inproc(`DKG ${label(g)} per party (total / ${g.n}), this project's DKG`, core, g.n);
    }
  }
  for (const g of Object.values(groups)) {
    const { inProcess: noble, core } = r.sign[label(g)];
    inproc(
      `sign ${label(g)} serialized, @noble/curves FROST API (the reference), p50 of ${noble.wall.length}`,
      noble,
    );
    if (core) inproc(`sign ${label(g)} serialized, this project's core, p50 of ${core.wall.length}`, core);
  }
  inproc(`single-key BIP340 schnorr.sign (the floor), p50 of ${r.singleKey.wall.length}`, r.singleKey);
  rows.push(...perPartyRows(r.perParty));

  const s35 = r.sign['3-of-5'].inProcess;
  for (const g of Object.values(groups)) {
    const { network: s, inProcess } = r.sign[label(g)];
    if (!s && label(g) === '11-of-15') continue; // no network counterpart by design
    const net = s ?? { wall: [], cpu: [], failures: ['not run'] };
    const base = { label: `in-process noble ${label(g)} p50`, value: p50(inProcess), unit: 'ms' };
    const v = p50(net);
    const target = label(g) === '3-of-5' ? TARGETS.signRatio : undefined;
    rows.push(
      row({
        section: 'network',
        measure: `sign ${label(g)} p50 of ${net.wall.length} sequential${failed(net)}`,
        value: v,
        unit: 'ms',
        baseline: base,
        cpu: { value: cpu(net), baseline: cpu(inProcess) },
        ...(target ? { target: { text: `<= ${target}x in-process`, pass: v <= target * base.value } } : {}),
      }),
    );
    rows.push(
      row({
        section: 'network',
        measure: `sign ${label(g)} p99 (the slowest of ${net.wall.length})`,
        value: quantile(net.wall, 0.99),
        unit: 'ms',
        baseline: base,
      }),
    );
  }

  const runs = [
    { concurrency: 16, spread: false },
    { concurrency: 64, spread: false },
    { concurrency: 64, spread: true },
  ];
  for (const { concurrency, spread } of runs) {
    const t = r.throughput.find((x) => x.concurrency === concurrency && x.via.length > 1 === spread);
    const how = spread ? 'spread over all 5 parties' : 'through party 1';
    const detail = t
      ? `; ${t.signatures} in ${t.windowMs / 1000} s, ${t.failures} failed, latency p50 ${Math.round(t.latencyP50Ms)} ms, daemons got ${t.coresUsed.toFixed(2)} cores`
      : '';
    rows.push(
      row({
        section: 'network',
        measure: `3-of-5 throughput, ${concurrency} in flight ${how}${detail}`,
        value: t ? t.perSecond : Number.NaN,
        unit: 'sig/s',
        baseline: {
          label: 'in-process noble 3-of-5, one after another',
          value: 1000 / p50(s35),
          unit: 'sig/s',
        },
        cpu: { value: t ? t.cpuMsPerSignature : Number.NaN, baseline: cpu(s35) },
        // The target is judged on one coordinator: the case of one application and its own party.
        ...(concurrency === 64 && !spread
          ? {
              target: {
                text: `>= ${TARGETS.throughputC64} sig/s`,
                pass: (t?.perSecond ?? 0) >= TARGETS.throughputC64,
              },
            }
          : {}),
      }),
    );
  }

  if (r.faults) {
    const f = r.faults;
    const during = `while one signer is killed and restarted (${f.kills} kills${failed(f.faulty)})`;
    for (const [what, q] of [
      ['p50', 0.5],
      ['p99 (the slowest)', 0.99],
    ] as const)
      rows.push(
        row({
          section: 'network',
          measure: `sign 3-of-5 ${what} of ${f.faulty.wall.length} sequential ${during}`,
          value: quantile(f.faulty.wall, q),
          unit: 'ms',
          baseline: { label: `the same, quiet, ${what}`, value: quantile(f.quiet.wall, q), unit: 'ms' },
        }),
      );
  }

  for (const g of Object.values(groups)) {
    const d = r.dkg[label(g)];
    if (!d.network) continue;
    const v = p50(d.network);
    rows.push(
      row({
        section: 'network',
        measure: `DKG ${label(g)} wall, ${g.n} daemons, median of ${d.network.wall.length}${failed(d.network)}`,
        value: v,
        unit: 'ms',
        baseline: { label: `in-process noble DKG ${label(g)}`, value: p50(d.inProcess), unit: 'ms' },
        cpu: { value: cpu(d.network), baseline: cpu(d.inProcess) },
        ...(label(g) === '11-of-15'
          ? { target: { text: `<= ${TARGETS.dkg1115Ms} ms`, pass: v <= TARGETS.dkg1115Ms } }
          : {}),
      }),
    );
  }
  if (r.refresh?.network)
    rows.push(
      row({
        section: 'network',
        measure: `refresh 3-of-5 wall, median of ${r.refresh.network.wall.length}${failed(r.refresh.network)}`,
        value: p50(r.refresh.network),
        unit: 'ms',
        baseline: {
          label: "in-process refresh 3-of-5 (this project's)",
          value: p50(r.refresh.inProcess),
          unit: 'ms',
        },
        cpu: { value: cpu(r.refresh.network), baseline: cpu(r.refresh.inProcess) },
      }),
    );

  const bare = { label: 'bare node process', value: r.bareRssMB, unit: 'MB' };
  const idleMax = Math.max(...r.idleRssMB);
  rows.push(
    row({
      section: 'network',
      measure: `RSS idle, highest of ${daemons} daemons (median ${Math.round(median(r.idleRssMB))} MB)`,
      value: idleMax,
      unit: 'MB',
      baseline: bare,
      target: { text: `<= ${TARGETS.idleRssMB} MB`, pass: idleMax <= TARGETS.idleRssMB },
    }),
  );
  const load = r.throughput.find((x) => x.concurrency === 64 && x.via.length === 1);
  if (load)
    for (const [who, v] of [
      ['coordinator', load.peakRssMB.coordinator],
      ["other daemons'", load.peakRssMB.others],
    ] as const)
      rows.push(
        row({
          section: 'network',
          measure: `RSS under load (${load.concurrency} in flight), ${who} peak`,
          value: v,
          unit: 'MB',
          baseline: bare,
        }),
      );

  if (r.taproot) {
    const spends = r.taproot.spends.map((s) => `${s.inputs} in: ${s.vsize} vB`).join(', ');
    for (const [g, v] of Object.entries(r.p2wshInputVsize))
      rows.push(
        row({
          section: 'chain',
          measure: `Taproot key-path input, network-signed (${spends})`,
          value: r.taproot.perInputVsize,
          unit: 'vB',
          baseline: { label: `P2WSH ${g} input (reference)`, value: v, unit: 'vB' },
        }),
      );
  }
  if (r.gas) rows.push(...gasRows(r.gas));
  if (r.recovery) rows.push(...recoveryRows(r.recovery));
  for (const [name, why] of Object.entries(r.errors))
    rows.push(
      row({ section: 'failed', measure: `${name}: ${why.slice(0, 160)}`, value: Number.NaN, unit: '' }),
    );
  return rows;
}

/**
 * The gas rows: for each group its verification and steady-state transfer (the same signature size whatever
 * the threshold, so the same gas; calldata can differ by 12 gas per zero byte of the signature and deadline),
 * the 3-of-5 transfer beside Safe, and that transfer's breakdown.
 */
export function gasRows(gas: GasReport): Row[] {
  const rows: Row[] = [];
  const n = (v: number) => v.toLocaleString('en-US');
  const gasTarget = (max: number, v: number) => ({ text: `<= ${n(max)} gas`, pass: v <= max });
  for (const g of gas.groups)
    rows.push(
      row({
        section: 'chain',
        measure: `BIP340 verification inside a call, ${g.group} signature (${g.signedBy})`,
        value: g.verification,
        unit: 'gas',
        target: gasTarget(TARGETS.verificationGas, g.verification),
      }),
    );
  for (const g of gas.groups) {
    const calldata = g.breakdown.find((p) => p.name === 'calldata')?.gas ?? Number.NaN;
    rows.push(
      row({
        section: 'chain',
        measure: `account ETH transfer, tx gasUsed (steady state), ${g.group} (${g.signedBy}): calldata ${n(calldata)} + the rest ${n(g.ethTransfer - calldata)}`,
        value: g.ethTransfer,
        unit: 'gas',
        target: gasTarget(TARGETS.ethTransferGas, g.ethTransfer),
      }),
    );
  }
  const main = gas.groups.find((g) => g.group === GAS_GROUP);
  if (!main) return rows;
  for (const [safe, v] of Object.entries(SAFE_GAS))
    rows.push(
      row({
        section: 'chain',
        measure: `account ETH transfer, tx gasUsed (steady state), ${main.group}`,
        value: main.ethTransfer,
        unit: 'gas',
        baseline: { label: `Safe v1.5.0 ${safe} (reference)`, value: v, unit: 'gas' },
      }),
    );
  rows.push(
    row({
      section: 'chain',
      measure: `account ETH transfer, tx gasUsed (the first: sets the nonce slot), ${main.group}`,
      value: main.firstEthTransfer,
      unit: 'gas',
    }),
  );
  const part = (measure: string, value: number, extra: Partial<Row> = {}) =>
    rows.push(
      row({
        section: 'gas',
        measure: `${main.group} steady-state transfer: ${measure}`,
        value,
        unit: 'gas',
        ...extra,
      }),
    );
  for (const p of main.breakdown) part(`${p.name} (${partDetail(p)})`, p.gas);
  const total = main.breakdown.reduce((a, p) => a + p.gas, 0);
  part('the parts added up', total, {
    baseline: { label: 'tx gasUsed', value: main.ethTransfer, unit: 'gas' },
  });
  const precompiles = main.breakdown
    .flatMap((p) => p.pieces)
    .filter((p) => PRECOMPILES.includes(p.name))
    .reduce((a, p) => a + p.gas, 0);
  const floor =
    main.breakdown.filter((p) => UNAVOIDABLE.includes(p.name)).reduce((a, p) => a + p.gas, 0) + precompiles;
  part(`the floor of an execute with this ABI (${UNAVOIDABLE.join(', ')}, sha256 and ecrecover)`, floor, {
    target: gasTarget(TARGETS.ethTransferGas, floor),
  });
  return rows;
}

export type RecoveryReport = { sizes?: RecoverySizeReport; gas?: RecoveryGas };

/** The key-path input of a coin with no script tree: what a recovery-enabled coin's key path must still cost. */
export const KEY_PATH_VSIZE = 57.5;

/**
 * The cost of a recovery policy: a key-path input of a recovery-enabled coin (unchanged at 57.5 vB), a
 * recovery-path input for one and two leaves, and the gas of each step of the EVM account's recovery.
 */
export function recoveryRows(r: RecoveryReport): Row[] {
  const rows: Row[] = [];
  const keyPathBaseline = { label: 'key-path input, no script tree', value: KEY_PATH_VSIZE, unit: 'vB' };
  const spends = (s: readonly { inputs: number; vsize: number }[]) =>
    s.map((x) => `${x.inputs} in: ${x.vsize} vB`).join(', ');
  if (r.sizes) {
    const k = r.sizes.keyPath;
    rows.push(
      row({
        section: 'recovery',
        measure: `Taproot key-path input of a recovery-enabled coin, ${r.sizes.group} FROST in process (${spends(k.spends)})`,
        value: k.perInputVsize,
        unit: 'vB',
        baseline: keyPathBaseline,
        target: { text: `= ${KEY_PATH_VSIZE} vB`, pass: k.perInputVsize === KEY_PATH_VSIZE },
      }),
    );
    for (const p of r.sizes.recoveryPath)
      rows.push(
        row({
          section: 'recovery',
          measure: `recovery-path input, policy of ${p.leaves} ${p.leaves > 1 ? 'leaves' : 'leaf'}, older(${p.older}), signed by the recovery key (${spends(p.spends)})`,
          value: p.perInputVsize,
          unit: 'vB',
          baseline: keyPathBaseline,
        }),
      );
  }
  if (r.gas) {
    const g = r.gas;
    const step = (measure: string, value: number, baseline?: Row['baseline']) =>
      rows.push(
        row({
          section: 'recovery',
          measure: `account recovery, ${g.group}: ${measure}`,
          value,
          unit: 'gas',
          ...(baseline && { baseline }),
        }),
      );
    step('deployment with recovery, tx gasUsed', g.deployWithRecovery, {
      label: 'deployment without',
      value: g.deploy,
      unit: 'gas',
    });
    step('ETH transfer through execute (steady state), tx gasUsed', g.executeWithRecovery, {
      label: 'account without recovery',
      value: g.execute,
      unit: 'gas',
    });
    step('initiateRecovery by the recoverer, tx gasUsed', g.initiate);
    step('vetoRecovery signed by the group, tx gasUsed', g.veto);
    step('finalizeRecovery after the delay, tx gasUsed', g.finalize);
  }
  return rows;
}

/** The large groups' per-party rows, and ZF frost's published figures beside them (not measured here). */
function perPartyRows(list: readonly PerParty[]): Row[] {
  const rows: Row[] = [];
  for (const pp of list) {
    const g = label(pp.group);
    if (pp.dkg) {
      const base = { label: `naive: noble FROST DKG, same inputs`, value: p50(pp.dkg.noble), unit: 'ms' };
      const v = p50(pp.dkg.core);
      const target = g === '67-of-100' ? TARGETS.dkgPerPartyRatio : undefined;
      rows.push(
        row({
          section: 'per party',
          measure: `DKG ${g}, one party (the middle member), median of ${pp.dkg.core.wall.length}`,
          value: v,
          unit: 'ms',
          baseline: base,
          cpu: { value: cpu(pp.dkg.core), baseline: cpu(pp.dkg.noble) },
          ...(target ? { target: { text: `<= ${target}x naive`, pass: v <= target * base.value } } : {}),
        }),
      );
    }
    if (!pp.sign) continue;
    const zfRound2 = ZF_FROST.round2Ms[g as keyof typeof ZF_FROST.round2Ms];
    const zfAggregate = ZF_FROST.aggregateMs[g as keyof typeof ZF_FROST.aggregateMs];
    for (const [what, core, noble, zf] of [
      [
        'round 2 (one signer: group commitment and share)',
        pp.sign.core.round2,
        pp.sign.noble.round2,
        zfRound2,
      ],
      [
        'aggregate (coordinator: group commitment, sum, verification)',
        pp.sign.core.aggregate,
        pp.sign.noble.aggregate,
        zfAggregate,
      ],
    ] as const) {
      rows.push(
        row({
          section: 'per party',
          measure: `sign ${g} ${what}, p50 of ${core.wall.length}`,
          value: p50(core),
          unit: 'ms',
          baseline: { label: 'noble FROST API, same packages', value: p50(noble), unit: 'ms' },
          cpu: { value: cpu(core), baseline: cpu(noble) },
        }),
      );
      if (zf !== undefined)
        rows.push(
          row({
            section: 'per party',
            measure: `sign ${g} ${what}: ZF frost, published (${ZF_FROST.machine}, reference)`,
            value: zf,
            unit: 'ms',
          }),
        );
    }
  }
  return rows;
}
