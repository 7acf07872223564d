/** The web console as the daemon mounts it on its control API: its routes and its pages, sharing one session store. */
import { join } from 'node:path';
import type { ControlApiExtras } from '../api/server.ts';
import { AUDIT_FILE } from '../policy/audit.ts';
import { ConsolePages } from './pages.ts';
import { consoleRoutes } from './routes.ts';
import { ConsoleSessions, type SessionOptions } from './sessions.ts';

export function consoleExtras(o: { self: string; dataDir: string } & SessionOptions): ControlApiExtras {
  const sessions = new ConsoleSessions(o);
  return {
    routes: consoleRoutes({ sessions, auditFile: join(o.dataDir, AUDIT_FILE) }),
    pages: new ConsolePages({ sessions, self: o.self }),
  };
}
