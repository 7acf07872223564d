/**
 * `ui`: the web console of this party (node/console). Asks the daemon for a one-time login link bound to one of
 * the party's scoped tokens, prints it, and opens it where a desktop is present. The session the link opens can
 * do what that token may: a request session looks and asks (the drill), an approve session looks and decides.
 */
import { spawn } from 'node:child_process';
import { Client, type CommandScope, locateDaemon } from '../client.ts';
import { type Command, defineCommand } from '../command.ts';
import { UsageError } from '../output.ts';

const SCOPES: readonly CommandScope[] = ['approve', 'request', 'admin'];

const ui = defineCommand({
  name: 'ui',
  summary: "Prints (and on a desktop opens) a one-time login link to this party's web console.",
  usage: '[--scope approve|request|admin] [--no-open]',
  details: [
    'The link works once, within 5 minutes; the session it opens lasts 12 hours or until the daemon restarts.',
    'The session has the scope of the token the link was made with: approve (the default) reviews and decides',
    'held requests; request looks and runs the recovery drill, and is refused every decision; admin looks.',
  ].join('\n'),
  daemon: 'read',
  options: {
    scope: { type: 'string', arg: 'SCOPE', help: 'whose token the session is bound to (default approve)' },
    'no-open': { type: 'boolean', help: 'only print the link, even on a desktop' },
  },
  async run({ values: v, out, env }) {
    // The daemon options are added by defineCommand; their values are read here, for the scope --scope names.
    const values = v as typeof v & { 'data-dir'?: string; api?: string; 'token-file'?: string };
    const scope = (values.scope ?? 'approve') as CommandScope;
    if (!SCOPES.includes(scope)) throw new UsageError('ui', `--scope must be one of ${SCOPES.join(', ')}`);
    const c = new Client(
      await locateDaemon(
        {
          dataDir: values['data-dir'],
          api: values.api,
          tokenFile: values['token-file'],
          command: 'ui',
          scope,
        },
        env,
      ),
    );
    const link = await c.post<{ path: string; scope: string; expiresAt: string }>('/v1/console/login', {});
    const url = `${c.daemon.api}${link.path}`;
    const opened = !values['no-open'] && openInBrowser(url, env);
    out.result({ url, scope: link.scope, expiresAt: link.expiresAt, opened }, () =>
      [
        `Open this link in a browser on this machine (it works once, until ${link.expiresAt}):`,
        `  ${url}`,
        `The session is bound to the ${link.scope} token.${opened ? ' Opening it now.' : ''}`,
      ].join('\n'),
    );
    return undefined;
  },
});

/** Opens `url` in the desktop's browser, if there is a desktop; whether it tried. */
function openInBrowser(url: string, env: NodeJS.ProcessEnv): boolean {
  const opener =
    process.platform === 'darwin'
      ? 'open'
      : process.platform === 'win32'
        ? undefined
        : env.DISPLAY || env.WAYLAND_DISPLAY
          ? 'xdg-open'
          : undefined;
  if (!opener) return false;
  try {
    const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
    return true;
  } catch {
    return false;
  }
}

export const commands: readonly Command[] = [ui];
