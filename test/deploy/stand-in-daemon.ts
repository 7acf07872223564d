/**
 * A stand-in for `frostnet start --config FILE`, for the harness's own tests (local-network.test.ts): it takes
 * the same arguments and prints the same ready line, tells on stderr what it was started with, and answers
 * every call with what it received. Each POST starts a request that, one state a poll, runs, settles and is done.
 * Told by its environment: STAND_IN_EXIT=<code> exits before it is ready, STAND_IN_NOISE=<n> writes n more
 * characters to stderr, STAND_IN_IGNORE_TERM=1 outlives a SIGTERM. POST /exit ends it with code 3.
 */
import { createServer } from 'node:http';

const env = process.env;
const config = process.argv[process.argv.indexOf('--config') + 1];
process.stderr.write(
  `config=${config} passphrase=${env.FROSTNET_PASSPHRASE ?? ''} flags=${process.execArgv.join(' ')} ` +
    `options=${env.NODE_OPTIONS ?? ''} extra=${env.STAND_IN_EXTRA ?? ''}\n`,
);
if (env.STAND_IN_EXIT) {
  process.stderr.write('error: told to fail\n');
  process.exit(Number(env.STAND_IN_EXIT));
}
process.stderr.write('x'.repeat(Number(env.STAND_IN_NOISE ?? 0)));

const STATES = ['running', 'settling', 'done'];
let polls = 0;
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += String(d)));
  req.on('end', () => {
    if (req.url === '/exit') process.exit(3);
    const seen = { method: req.method, url: req.url, authorization: req.headers.authorization, body };
    res.setHeader('content-type', 'application/json');
    if (req.method === 'POST') {
      res.statusCode = 202;
      polls = 0;
    }
    const request = req.url?.startsWith('/v1/requests/')
      ? { state: STATES[Math.min(polls++, STATES.length - 1)], result: 'signed' }
      : {};
    res.end(JSON.stringify({ ...seen, id: 'r1', ...request }));
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ api: `http://127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => {
  if (!env.STAND_IN_IGNORE_TERM) process.exit(0);
});
