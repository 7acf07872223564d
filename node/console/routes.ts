/**
 * Control API routes the web console adds to node/api/routes.ts ROUTES. They serve bearer-token clients the
 * same way: a one-time console login link for the caller's own scope, the audit log, a key's wallet view, the
 * recovery drill run by the daemon, and the list of requests this daemon runs.
 */
import { parseNetwork } from '../../chains/bitcoin/network-names.ts';
import { errorMessage, FrostnetError } from '../../protocol/errors.ts';
import { knownKey, type Route, route } from '../api/routes.ts';
import { AUDIT_DECISIONS } from '../policy/audit.ts';
import { readAudit } from './audit-reader.ts';
import { runDrill } from './drill.ts';
import type { ConsoleSessions } from './sessions.ts';

export const CONSOLE_PREFIX = '/ui';
/** Addresses the wallet page shows per branch, at most. */
export const MAX_ADDRESSES = 20;

export type ConsoleRouteDeps = {
  sessions: ConsoleSessions;
  /** <dataDir>/audit.log */
  auditFile: string;
};

const bad = (field: string, why: string): never => {
  throw new FrostnetError('BAD_REQUEST', `"${field}" ${why}`);
};

export function consoleRoutes(d: ConsoleRouteDeps): Route[] {
  return [
    route({
      method: 'POST',
      path: '/v1/console/login',
      scope: 'read',
      handle: ({ token }) => {
        if (token === 'metrics') throw new FrostnetError('BAD_REQUEST', 'the metrics token opens no console');
        const { code, expiresAt } = d.sessions.issueLink(token);
        return {
          status: 200,
          json: {
            path: `${CONSOLE_PREFIX}/login?code=${code}`,
            scope: token,
            expiresAt: new Date(expiresAt).toISOString(),
          },
        };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/audit',
      scope: 'read',
      handle: async ({ query }) => {
        const decision = query.get('decision') || undefined;
        if (decision && !(AUDIT_DECISIONS as readonly string[]).includes(decision))
          bad('decision', `must be one of ${AUDIT_DECISIONS.join(', ')}`);
        const limit = query.has('limit') ? Number(query.get('limit')) : undefined;
        if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1))
          bad('limit', 'must be a positive integer');
        return {
          status: 200,
          json: await readAudit(d.auditFile, { key: query.get('key') || undefined, decision, limit }),
        };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/keys/:name/wallet',
      scope: 'read',
      handle: async (ctx) => {
        const e = knownKey(ctx);
        // The key's own network; `network` may only repeat it (a key from before it was stored takes it).
        let network: ReturnType<typeof parseNetwork>;
        const asked = ctx.query.get('network');
        try {
          network = parseNetwork(asked ?? e.network ?? 'mainnet');
        } catch (err) {
          return bad('network', errorMessage(err));
        }
        if (e.network !== undefined && network !== e.network)
          return bad('network', `is ${network}, but key ${e.name} is a ${e.network} key`);
        const count = Number(ctx.query.get('addresses') ?? 5);
        if (!Number.isSafeInteger(count) || count < 1 || count > MAX_ADDRESSES)
          bad('addresses', `must be an integer from 1 to ${MAX_ADDRESSES}`);
        // The wallet's address and descriptor code (bitcoinjs-lib) loads with the first wallet page shown.
        const { walletView } = await import('./wallet.ts');
        return { status: 200, json: walletView(e, network, count) };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/keys/:name/drill',
      scope: 'request',
      body: (_raw, ctx) => knownKey(ctx),
      handle: ({ b }, entry) => ({
        status: 202,
        json: b.requests.start('drill', (progress) =>
          runDrill(entry, { sign: (n, o) => b.sign(n, o) }, progress),
        ),
      }),
    }),
  ];
}
