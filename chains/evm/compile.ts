/**
 * Compiles contracts/ with the pinned solc-js (no compiler download), once per process: the build, the tools
 * and the tests all deploy exactly these bytecodes. The output is cached on disk (below), because loading and
 * running solc-js takes seconds that every `frostnet evm` command would otherwise pay.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonFragment } from 'ethers';
import { FrostnetError } from '../../protocol/errors.ts';

export type CompiledContract = {
  readonly abi: readonly JsonFragment[];
  readonly bytecode: string;
  /**
   * solc's source map of the deployed code (one s:l:f:j:m entry per instruction; f indexes sourceFiles()):
   * tells a trace's program counters apart by the source they were compiled from (gas-breakdown.ts).
   */
  readonly deployedSourceMap: string;
};

const CONTRACTS_DIR = fileURLToPath(new URL('../../contracts/', import.meta.url));
/**
 * Compiler output keyed by a hash of the compiler version, the settings and every source, so a changed input
 * never meets a stale output. It sits under node_modules: whoever can write there can replace the compiler
 * itself, so the cache lets no one new change the bytecode (a shared temp dir would).
 */
const CACHE_DIR = fileURLToPath(new URL('../../node_modules/.cache/frostnet-contracts/', import.meta.url));
const require = createRequire(import.meta.url);
// The oldest fork whose opcodes the compiler may use, so the same bytecode runs on most EVM chains.
const EVM_VERSION = 'cancun';

type SolcOutput = {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<
    string,
    Record<
      string,
      { abi: JsonFragment[]; evm: { bytecode: { object: string }; deployedBytecode: { sourceMap: string } } }
    >
  >;
  sources?: Record<string, { id: number }>;
};

function solidityFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return solidityFiles(path);
    return entry.name.endsWith('.sol') ? [path] : [];
  });
}

let cache: { contracts: ReadonlyMap<string, CompiledContract>; files: readonly string[] } | undefined;

/** solc's JSON output for `input`, from the disk cache when the same input was compiled before. */
function compileCached(input: string): string {
  const { version } = require('solc/package.json') as { version: string };
  const key = createHash('sha256').update(`solc ${version}\n`).update(input).digest('hex');
  const file = join(CACHE_DIR, `${key}.json`);
  try {
    return readFileSync(file, 'utf8');
  } catch {
    // Not compiled yet (or unreadable): compile below.
  }
  // Loaded only here: solc-js is large, and most runs find the output cached.
  const solc = require('solc') as { compile(input: string): string };
  const output = solc.compile(input);
  const failed = (JSON.parse(output) as SolcOutput).errors?.some((e) => e.severity === 'error');
  if (!failed)
    try {
      mkdirSync(CACHE_DIR, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, output);
      renameSync(tmp, file); // atomic: a concurrent reader sees the whole file or none
    } catch {
      // A read-only install compiles every time; that is slower, not wrong.
    }
  return output;
}

/** Every contract under contracts/, by contract name, compiled with the optimizer on. */
export function compileContracts(): ReadonlyMap<string, CompiledContract> {
  return compile().contracts;
}

/** The source files of the compilation, relative to contracts/, by the index source maps use. */
export function sourceFiles(): readonly string[] {
  return compile().files;
}

function compile(): NonNullable<typeof cache> {
  if (cache) return cache;
  const sources: Record<string, { content: string }> = {};
  for (const file of solidityFiles(CONTRACTS_DIR))
    sources[relative(CONTRACTS_DIR, file).split(sep).join('/')] = { content: readFileSync(file, 'utf8') };
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: 10_000 },
      // The IR pipeline optimizes across functions (fewer stack shuffles, storage reads merged): about 350 gas
      // less per execute than the legacy one.
      viaIR: true,
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.sourceMap'] } },
    },
  };
  const output = JSON.parse(compileCached(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0)
    throw new FrostnetError(
      'INTERNAL',
      `contracts do not compile:\n${errors.map((e) => e.formattedMessage).join('\n')}`,
    );
  const compiled = new Map<string, CompiledContract>();
  for (const [file, contracts] of Object.entries(output.contracts ?? {}))
    for (const [name, c] of Object.entries(contracts)) {
      if (compiled.has(name))
        throw new FrostnetError('INTERNAL', `contract name ${name} is used twice (${file})`);
      compiled.set(name, {
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedSourceMap: c.evm.deployedBytecode.sourceMap,
      });
    }
  const files: string[] = [];
  for (const [file, { id }] of Object.entries(output.sources ?? {})) files[id] = file;
  cache = { contracts: compiled, files };
  return cache;
}

/** One compiled contract by name. */
export function compiledContract(name: string): CompiledContract {
  const c = compileContracts().get(name);
  if (!c) throw new FrostnetError('INTERNAL', `no contract named ${name} in contracts/`);
  return c;
}
