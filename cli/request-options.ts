/**
 * Options that every command asking the network to sign shares, with one meaning everywhere: who may sign,
 * whether to wait while parties hold the request for approval, and the answer to "sign this?".
 */
import type { OptionSpec } from './command.ts';

export const SIGNERS_OPTION = {
  type: 'string',
  arg: 'P,...',
  help: 'only these parties may sign: names from the config, peer ids, or self',
} as const satisfies OptionSpec;

export const WAIT_OPTION = {
  type: 'boolean',
  help: 'while parties hold the request for approval, wait for their decision instead of stopping (exit code 3)',
} as const satisfies OptionSpec;

export const YES_OPTION = {
  type: 'boolean',
  short: 'y',
  help: 'sign without asking (for scripts); also signs a request that has warnings',
} as const satisfies OptionSpec;
