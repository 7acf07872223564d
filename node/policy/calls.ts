/**
 * The EVM calls an operator meets most, named for the approvals queue, the audit log and `frostnet evm`: anything
 * else is shown as its selector and raw data. Imports ethers, so the daemon loads it with the first typed-data
 * request only (describe.ts).
 */
import { Interface } from 'ethers';

const KNOWN_CALLS = new Interface([
  'function transfer(address to, uint256 amount)',
  'function approve(address spender, uint256 amount)',
  'function transferFrom(address from, address to, uint256 amount)',
  'function safeTransferFrom(address from, address to, uint256 tokenId)',
  'function setApprovalForAll(address operator, bool approved)',
]);

/** "transfer(0xabc..., 1000)" for a known call, else undefined. */
export function decodeCall(data: string): string | undefined {
  try {
    const tx = KNOWN_CALLS.parseTransaction({ data });
    if (!tx) return undefined;
    return `${tx.name}(${tx.args.map((a) => String(a)).join(', ')})`;
  } catch {
    return undefined;
  }
}
