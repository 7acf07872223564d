/**
 * Compiles contracts/ with the pinned solc-js (no compiler download), once per process: the build, the tools
 * and the tests all deploy exactly these bytecodes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonFragment } from 'ethers';
import solc from 'solc';
import { FrostnetError } from '../../protocol/errors.ts';

export type CompiledContract = { readonly abi: readonly JsonFragment[]; readonly bytecode: string };

const CONTRACTS_DIR = fileURLToPath(new URL('../../contracts/', import.meta.url));
// The oldest fork whose opcodes the compiler may use, so the same bytecode runs on most EVM chains.
const EVM_VERSION = 'cancun';

type SolcOutput = {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { abi: JsonFragment[]; evm: { bytecode: { object: string } } }>>;
};

function solidityFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return solidityFiles(path);
    return entry.name.endsWith('.sol') ? [path] : [];
  });
}

let cache: ReadonlyMap<string, CompiledContract> | undefined;

/** Every contract under contracts/, by contract name, compiled with the optimizer on. */
export function compileContracts(): ReadonlyMap<string, CompiledContract> {
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
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
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
      compiled.set(name, { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` });
    }
  cache = compiled;
  return compiled;
}

/** One compiled contract by name. */
export function compiledContract(name: string): CompiledContract {
  const c = compileContracts().get(name);
  if (!c) throw new FrostnetError('INTERNAL', `no contract named ${name} in contracts/`);
  return c;
}
