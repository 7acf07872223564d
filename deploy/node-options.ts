/**
 * The Node.js options a party daemon runs with, as NODE_OPTIONS: in the systemd unit, the Docker image, the
 * devnet and the benchmark's daemons (test/cli/deploy.test.ts checks that they agree). A young generation of
 * 1 MB semi-spaces and a single V8 worker thread: an idle daemon holds about 30 MB less (docs/performance.md,
 * "Idle RSS"), at no throughput cost measured on the 2-core machine, where fifteen daemons share two cores
 * anyway.
 */
export const DAEMON_NODE_OPTIONS = '--max-semi-space-size=1 --v8-pool-size=1';

/** `env` with DAEMON_NODE_OPTIONS added to whatever NODE_OPTIONS it already has. */
export const daemonEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
  ...env,
  NODE_OPTIONS: [env.NODE_OPTIONS, DAEMON_NODE_OPTIONS].filter(Boolean).join(' '),
});
