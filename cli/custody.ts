/**
 * What `refresh`, `reshare` and `repair` share: each is a custody proposal the key's members approve under their
 * own policies before it runs (docs/policy.md, "Custody proposals"). Without --wait a command stops once the
 * proposal waits for approval, and says who must approve; the daemon goes on with it either way.
 */
import { integerOption, type OptionSpecs } from './command.ts';

export const CUSTODY_OPTIONS = {
  wait: {
    type: 'boolean',
    help: 'wait for the approvals (and for the new epoch to settle) instead of stopping to say who must approve',
  },
  'expires-in': {
    type: 'string',
    arg: 'SECONDS',
    help: 'how long the members may take to approve (default 86400, at most 604800)',
  },
} as const satisfies OptionSpecs;

/** The request body's proposal fields from the options. */
export function proposalBody(cmd: string, expiresIn: string | undefined): { expiresInSeconds?: number } {
  if (expiresIn === undefined) return {};
  return { expiresInSeconds: integerOption(cmd, 'expires-in', expiresIn, 60, 604_800) };
}
