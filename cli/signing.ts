/**
 * One message signed through the network and checked here: the CLI does not take the daemon's word for a
 * signature, it verifies it under the key the parties signed for (shared by `sign` and `drill`).
 */
import type { Scheme } from '../protocol/sign.ts';
import type { Client, FollowOptions } from './client.ts';
import { asKeyView, type KeyView, verifies, verifyingKey } from './keyview.ts';
import { CliError } from './output.ts';

export type Exclusion = { party: string; code: string; reason: string };

export type MessageRequest = {
  /** Hex. */
  message: string;
  scheme: Scheme;
  /** A raw message (where the parties' policies allow them) or a recovery drill's test signature. */
  domain: 'raw' | 'drill';
  /** Raw messages: unhardened BIP32 path below the raw-message branch; empty for that branch's key. */
  path: readonly number[];
  taproot: boolean;
  /** Only these parties may sign (peer ids). */
  signers?: readonly string[];
};

export type CheckedSignature = {
  signature: string;
  /** The key the signature verifies under: x-only for bip340, compressed for rfc9591. */
  publicKey: string;
  verified: boolean;
  signers: string[];
  excluded: Exclusion[];
  attempts: number;
};

type SignResult = { signatures: string[]; signers: string[]; excluded: Exclusion[]; attempts: number };

function asSignResult(v: unknown): SignResult {
  const r = v as Partial<SignResult> | null;
  const ok =
    r !== null &&
    typeof r === 'object' &&
    Array.isArray(r.signatures) &&
    r.signatures.length === 1 &&
    typeof r.signatures[0] === 'string' &&
    Array.isArray(r.signers) &&
    Array.isArray(r.excluded);
  if (!ok)
    throw new CliError(
      'BAD_RESPONSE',
      'the daemon sent a malformed signing result',
      'check the daemon version',
    );
  return { attempts: 1, ...r } as SignResult;
}

export async function signMessage(
  client: Client,
  key: KeyView,
  req: MessageRequest,
  onProgress?: (line: string) => void,
  follow?: FollowOptions,
): Promise<CheckedSignature> {
  const body = {
    scheme: req.scheme,
    ...(req.domain === 'drill' ? { drill: req.message } : { message: req.message }),
    ...(req.path.length > 0 ? { path: req.path } : {}),
    ...(req.taproot ? { taproot: true } : {}),
    ...(req.signers ? { signers: req.signers } : {}),
  };
  const result = asSignResult(
    await client.run(`/v1/keys/${encodeURIComponent(key.name)}/sign`, body, onProgress, follow),
  );
  const signingKey = await verifyingKey(key, req.scheme, req.domain, req.path, req.taproot);
  const signature = result.signatures[0];
  return {
    signature,
    publicKey: signingKey.hex,
    verified: await verifies(req.scheme, signingKey.point, await signedMessage(req), signature),
    signers: result.signers,
    excluded: result.excluded,
    attempts: result.attempts,
  };
}

/** The message the parties sign for `req` (hex): a raw message itself, a drill's tagged hash of its challenge. */
async function signedMessage(req: MessageRequest): Promise<string> {
  if (req.domain !== 'drill') return req.message;
  const [{ drillMessage }, { bytesToHex, hexToBytes }] = await Promise.all([
    import('../chains/domains.ts'),
    import('../protocol/curve.ts'),
  ]);
  return bytesToHex(drillMessage(hexToBytes(req.message)));
}

/** The key as the daemon reports it now; an unknown name is an error naming the party. */
export async function fetchKey(client: Client, name: string): Promise<KeyView> {
  try {
    return asKeyView(await client.get(`/v1/keys/${encodeURIComponent(name)}`));
  } catch (e) {
    if (!(e instanceof CliError) || e.code !== 'UNKNOWN_KEY') throw e;
    throw new CliError(
      'UNKNOWN_KEY',
      `the party at ${client.daemon.label} holds no key named ${JSON.stringify(name)}`,
      'check the name; "frostnet keys" lists the keys of this party',
    );
  }
}
