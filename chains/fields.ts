/** Validation of JSON-shaped input shared by the chain encodings: plain objects with exactly known fields. */

/** A plain object (what JSON.parse makes), not an array, a class instance or null. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype
  );
}

/**
 * `v` as a plain object with exactly `keys`: none missing, none unexpected (almost always a typo). `fail` makes
 * the caller's own error from the reason.
 */
export function exactFields(
  v: unknown,
  keys: readonly string[],
  what: string,
  fail: (reason: string) => Error,
): Record<string, unknown> {
  if (!isRecord(v)) throw fail(`${what} is not an object`);
  const got = Object.keys(v);
  const extra = got.filter((k) => !keys.includes(k));
  const missing = keys.filter((k) => !got.includes(k));
  if (extra.length > 0 || missing.length > 0)
    throw fail(
      `${what} fields differ (missing: ${missing.join(',') || '-'}; unexpected: ${extra.join(',') || '-'})`,
    );
  return v;
}
