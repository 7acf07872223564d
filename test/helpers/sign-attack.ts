/** What a lying coordinator does to the sign requests it sends, for tests of the signers' own checks. */
import {
  decodeSignOneRound,
  decodeSignRequest,
  encodeSignOneRound,
  encodeSignRequest,
  ROUND,
  type SignRequestMsg,
} from '../../node/session/messages.ts';
import type { Envelope } from '../../node/transport/wire.ts';

/**
 * The sign request in a coordinator's envelope, in either flow (two rounds, or one round on handed-out
 * nonces), passed through `fn`; any other envelope as it is.
 */
export function onSignRequest(
  env: Envelope,
  from: string,
  fn: (r: SignRequestMsg) => SignRequestMsg,
): Envelope {
  if (env.ceremony !== 'SIGN') return env;
  if (env.round === ROUND.sign.request)
    return { ...env, payload: encodeSignRequest(fn(decodeSignRequest(env.payload, from))) };
  if (env.round === ROUND.sign.oneRound) {
    const m = decodeSignOneRound(env.payload, from);
    return { ...env, payload: encodeSignOneRound({ ...m, request: fn(m.request) }) };
  }
  return env;
}
