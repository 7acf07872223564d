/**
 * Where the gas of one ThresholdAccount transaction goes, from its debug_traceTransaction struct log (anvil
 * keeps one only when started with --steps-tracing): the transaction's fixed costs computed from its bytes,
 * then every step the account executed, put in one part by its opcode or by the source it was compiled from
 * (solc's source map). Nothing is estimated: the parts add up to the receipt's gasUsed, or something here is
 * wrong, and the test says so (test/evm/gas-breakdown.test.ts).
 */
import { getBytes, type JsonRpcProvider } from 'ethers';
import { at } from '../../protocol/indexing.ts';
import { compiledContract, sourceFiles } from './compile.ts';

export type GasPiece = { readonly name: string; readonly gas: number; readonly count: number };

export type GasPart = {
  readonly name: string;
  readonly gas: number;
  /** What is in it: each kind of step or charge, its gas and how many there were. */
  readonly pieces: readonly GasPiece[];
};

export type GasBreakdown = {
  readonly txHash: string;
  /** The receipt's gasUsed. */
  readonly gasUsed: number;
  readonly parts: readonly GasPart[];
};

type StructLog = {
  pc: number;
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
  stack?: string[];
  refund?: number;
};

// Transaction costs (EIP-2028, EIP-2930, EIP-7623) and the refund cap (EIP-3529).
const TX_BASE = 21_000;
const ZERO_BYTE = 4;
const NONZERO_BYTE = 16;
const ACCESS_LIST_ADDRESS = 2_400;
const ACCESS_LIST_KEY = 1_900;
const FLOOR_PER_TOKEN = 10;
const MAX_REFUND_QUOTIENT = 5;

const PRECOMPILES: Record<number, string> = { 1: 'ecrecover', 2: 'sha256' };
const VERIFIER_SOURCE = 'Bip340.sol';
const ACCOUNT_SOURCE = 'ThresholdAccount.sol';

const fmt = (n: number) => n.toLocaleString('en-US');

/** The source file index of each instruction of the deployed code, by program counter. */
function sourceByPc(code: Uint8Array, sourceMap: string): Map<number, number> {
  const files: number[] = [];
  let file = -1;
  for (const entry of sourceMap.split(';')) {
    const f = entry.split(':')[2];
    if (f !== undefined && f !== '') file = Number(f);
    files.push(file);
  }
  const byPc = new Map<number, number>();
  // One source map entry per instruction; PUSH1..PUSH32 (0x60..0x7f) carry 1..32 bytes of data.
  for (let pc = 0, i = 0; pc < code.length && i < files.length; i++) {
    byPc.set(pc, at(files, i, 'source map entries'));
    const op = at(code, pc, 'the code');
    pc += 1 + (op >= 0x60 && op <= 0x7f ? op - 0x5f : 0);
  }
  return byPc;
}

/** A part's pieces in words: "SLOAD 2,100, SSTORE 2,900", "other Bip340.sol steps x183 675". */
export function partDetail(part: GasPart): string {
  return part.pieces.map((p) => `${p.name}${p.count > 1 ? ` x${p.count}` : ''} ${fmt(p.gas)}`).join(', ');
}

/** Sums gas into named parts, piece by piece. */
class Parts {
  readonly gas = new Map<string, number>();
  readonly pieces = new Map<string, Map<string, { gas: number; count: number }>>();
  add(part: string, piece: string, gas: number): void {
    this.gas.set(part, (this.gas.get(part) ?? 0) + gas);
    const pieces = this.pieces.get(part) ?? new Map();
    const p = pieces.get(piece) ?? { gas: 0, count: 0 };
    pieces.set(piece, { gas: p.gas + gas, count: p.count + 1 });
    this.pieces.set(part, pieces);
  }
  get(part: string): GasPart {
    const pieces = [...(this.pieces.get(part) ?? [])].map(([name, p]) => ({ name, ...p }));
    return { name: part, gas: this.gas.get(part) ?? 0, pieces };
  }
}

/**
 * The gas breakdown of transaction `txHash`, a call to a ThresholdAccount. Its parts: the transaction's base
 * cost, calldata, access list (when it has one), the account's storage (the nonce slot), the signature
 * verification (the sha256 and ecrecover precompiles and the rest of Bip340.sol), the calls it makes (with
 * whatever the callee spends), the event, the rest of ThresholdAccount.sol (the IR pipeline maps its ABI
 * decoding and dispatch there too), steps the source map gives no source, and a refund or the EIP-7623
 * calldata floor when either applies.
 */
export async function gasBreakdown(provider: JsonRpcProvider, txHash: string): Promise<GasBreakdown> {
  const [tx, receipt] = await Promise.all([
    provider.getTransaction(txHash),
    provider.getTransactionReceipt(txHash),
  ]);
  if (!tx || !receipt || !tx.to) throw new Error(`gas breakdown: no mined call ${txHash}`);
  const trace = (await provider.send('debug_traceTransaction', [
    txHash,
    { enableMemory: false, disableStorage: true },
  ])) as { structLogs?: StructLog[] };
  const logs = trace.structLogs ?? [];
  if (logs.length === 0)
    throw new Error('gas breakdown: the node kept no struct log (start anvil with --steps-tracing)');

  const parts = new Parts();
  parts.add('intrinsic', 'every transaction', TX_BASE);
  const data = getBytes(tx.data);
  const nonZero = data.filter((b) => b !== 0).length;
  const zero = data.length - nonZero;
  parts.add('calldata', `${nonZero} non-zero bytes`, nonZero * NONZERO_BYTE);
  parts.add('calldata', `${zero} zero bytes`, zero * ZERO_BYTE);
  for (const entry of tx.accessList ?? []) {
    parts.add('access list', 'address', ACCESS_LIST_ADDRESS);
    for (const _ of entry.storageKeys) parts.add('access list', 'storage key', ACCESS_LIST_KEY);
  }
  const intrinsic = [...parts.gas.values()].reduce((a, b) => a + b, 0);
  // The first step has the gas limit minus what the node charged up front: it must be what was computed here.
  const first = logs[0];
  if (first === undefined) throw new Error('gas breakdown: the trace has no step');
  if (Number(tx.gasLimit) - first.gas !== intrinsic)
    throw new Error(
      `gas breakdown: the node charged ${Number(tx.gasLimit) - first.gas} before execution, computed ${intrinsic}`,
    );

  const code = getBytes(await provider.getCode(tx.to, receipt.blockNumber));
  const source = sourceByPc(code, compiledContract('ThresholdAccount').deployedSourceMap);
  const files = sourceFiles();
  // Steps at depth 1 are the account's own; a step's cost is the gas it leaves to the account's next step, so
  // a call costs what the callee spent too. The last step has no next one and costs its gasCost.
  const top = logs.filter((s) => s.depth === 1);
  let execution = 0;
  top.forEach((step, i) => {
    const next = top[i + 1];
    const cost = next === undefined ? step.gasCost : step.gas - next.gas;
    execution += cost;
    const target = (step.stack ?? []).at(-2);
    const precompile =
      target !== undefined && step.op.endsWith('CALL') ? PRECOMPILES[Number(target)] : undefined;
    const file = files[source.get(step.pc) ?? -1];
    if (step.op === 'SLOAD' || step.op === 'SSTORE') parts.add('nonce slot', step.op, cost);
    else if (precompile) parts.add('verification', precompile, cost);
    else if (step.op === 'CALL') parts.add('value call', 'CALL', cost);
    else if (step.op.startsWith('LOG')) parts.add('event', step.op, cost);
    else if (file === VERIFIER_SOURCE) parts.add('verification', 'other Bip340.sol steps', cost);
    else if (file === ACCOUNT_SOURCE) parts.add('account code', 'ThresholdAccount.sol steps', cost);
    else parts.add('compiler-generated', 'steps without a source', cost);
  });

  const refund = Math.min(top.at(-1)?.refund ?? 0, Math.floor((intrinsic + execution) / MAX_REFUND_QUOTIENT));
  if (refund > 0) parts.add('refund', 'storage refund', -refund);
  const floor = TX_BASE + FLOOR_PER_TOKEN * (zero + 4 * nonZero);
  const charged = intrinsic + execution - refund;
  if (floor > charged) parts.add('calldata floor', 'EIP-7623 top-up', floor - charged);

  const order = [
    'intrinsic',
    'calldata',
    'access list',
    'nonce slot',
    'verification',
    'value call',
    'event',
    'account code',
    'compiler-generated',
    'refund',
    'calldata floor',
  ];
  return {
    txHash,
    gasUsed: Number(receipt.gasUsed),
    parts: order.filter((name) => parts.gas.has(name)).map((name) => parts.get(name)),
  };
}
