/** One request, one answer, over the session router: the answer comes back on the request's session id. */
import { randomBytes } from 'node:crypto';
import { FrostnetError } from '../../protocol/errors.ts';
import { type Ceremony, type Envelope, envelope } from '../transport/wire.ts';
import type { Router } from './router.ts';

export type Send = (to: string, env: Envelope) => Promise<void>;

export async function request(
  deps: { router: Router; send: Send; self: string },
  to: string,
  ceremony: Ceremony,
  round: number,
  payload: Uint8Array,
  timeoutMs: number,
): Promise<Envelope> {
  const sessionId = randomBytes(32);
  const { promise, resolve, reject } = Promise.withResolvers<Envelope>();
  const timer = setTimeout(
    () => reject(new FrostnetError('TIMEOUT', `${to} did not answer in time`, [to])),
    timeoutMs,
  );
  deps.router.add(ceremony, sessionId, {
    receive(env, from) {
      if (from === to) resolve(env);
    },
  });
  try {
    await deps.send(to, envelope({ sessionId, ceremony, sender: deps.self }, round, payload));
    return await promise;
  } finally {
    clearTimeout(timer);
    deps.router.remove(ceremony, sessionId);
  }
}
