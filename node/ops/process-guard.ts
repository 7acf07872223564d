/**
 * What the daemon process does with an error nobody caught. Abort and timeout errors that escape a library
 * (libp2p fires AbortSignal timeouts on streams and dials long after their caller moved on) must not take a
 * party offline in the middle of a ceremony: they are logged and the daemon goes on. Anything else is a bug:
 * it is logged and the process ends, as a crash is safer than running on in an unknown state.
 */
import { createLogger, type Logger } from './log.ts';

const isStrayAbort = (e: unknown): boolean =>
  e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');

export function guardProcess(log: Logger = createLogger({ level: 'warn' })): void {
  const handle = (kind: string) => (e: unknown) => {
    const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    if (isStrayAbort(e)) {
      log.warn(`ignored a stray ${kind}`, { reason });
      return;
    }
    log.error(`fatal ${kind}`, { reason });
    process.exit(70);
  };
  process.on('unhandledRejection', handle('unhandled rejection'));
  process.on('uncaughtException', handle('uncaught exception'));
}
