/**
 * ETH amounts as people write them: `0.5eth`, `1.5 ether`, `20gwei`, `1000wei`, or a plain whole number of
 * wei (as before). Shown back with the unit: `0.5 ETH (500000000000000000 wei)`.
 */
const DECIMALS: Readonly<Record<string, number>> = { eth: 18, ether: 18, gwei: 9, wei: 0 };
const LIMIT = 1n << 256n;

/** The wei an amount names; undefined when it is not one (the caller says which option was wrong). */
export function parseEth(text: string): bigint | undefined {
  const m = /^([0-9]+)(?:\.([0-9]+))?\s*([a-z]*)$/i.exec(text.trim());
  if (!m) return undefined;
  const [, whole, frac = '', rawUnit] = m;
  const unit = rawUnit.toLowerCase();
  const decimals = unit === '' ? 0 : DECIMALS[unit];
  if (decimals === undefined || frac.length > decimals) return undefined;
  if (whole.length > 1 && whole.startsWith('0')) return undefined;
  const wei = BigInt(whole) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
  return wei < LIMIT ? wei : undefined;
}

/** "0.5 ETH", "0.000000001 ETH": the exact amount in ETH, no trailing zeros. */
export function formatEth(wei: bigint): string {
  const whole = wei / 10n ** 18n;
  const frac = (wei % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '');
  return `${whole}${frac ? `.${frac}` : ''} ETH`;
}
