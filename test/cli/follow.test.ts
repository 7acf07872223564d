/**
 * How the CLI follows a long request (cli/client.ts): the view the starting POST answers is read before any
 * long poll, so a request asked again that is already held (the same PSBT or EVM action) is reported at once,
 * instead of after a long poll that waits for a change that does not come.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client, type RequestView } from '../../cli/client.ts';
import { Waiting } from '../../cli/output.ts';

const held: RequestView = {
  id: 'abc',
  kind: 'sign',
  state: 'awaiting-approval',
  progress: ['asked party-2'],
  held: {
    id: 'h1',
    kind: 'sign',
    holders: [{ party: 'party-2', code: 'APPROVAL_REQUIRED', reason: 'held for its operator' }],
    approvals: ['party-1'],
    needed: 2,
  },
} as RequestView;

describe('following a request', () => {
  let server: Server;
  let api: string;
  /**
   * What the fake daemon answers: the POST's view, and each long poll's in turn; with none queued, the POST's
   * view again, as a daemon answers once a long poll's wait ran out with no change.
   */
  let posted: unknown;
  let polls: RequestView[] = [];
  const polled: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const answer = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      if (req.method === 'POST') return answer(202, posted);
      polled.push(req.url ?? '');
      answer(200, polls.shift() ?? posted);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const client = () => new Client({ api, token: 't', label: api });

  test('a request already held when asked again stops with Waiting without a long poll', async () => {
    posted = held;
    polls = [];
    polled.length = 0;
    const lines: string[] = [];
    await assert.rejects(
      client().run('/v1/keys/vault/sign', {}, (l) => lines.push(l)),
      (e: unknown) => {
        assert.ok(e instanceof Waiting, String(e));
        assert.equal(e.code, 'AWAITING_APPROVAL');
        assert.equal(e.request, 'abc');
        assert.match(e.message, /1 of 2 approvals/);
        return true;
      },
    );
    assert.deepEqual(polled, [], 'no long poll');
    assert.deepEqual(lines, ['asked party-2'], 'the progress the POST answered is shown');
  });

  test('with --wait it says what it waits for, then long-polls to the end', async () => {
    posted = held;
    polls = [{ ...held, state: 'done', held: undefined, progress: ['asked party-2', 'signed'], result: 42 }];
    polled.length = 0;
    const lines: string[] = [];
    const result = await client().run('/v1/keys/vault/sign', {}, (l) => lines.push(l), { wait: true });
    assert.equal(result, 42);
    assert.deepEqual(polled, ['/v1/requests/abc?wait=5000&change=1']);
    assert.equal(lines[0], 'asked party-2');
    assert.match(lines[1], /1 of 2 approvals/);
    assert.equal(lines.at(-1), 'signed');
  });

  test('a running request, and a daemon that answers the POST with its id alone, are long-polled', async () => {
    for (const start of [{ ...held, state: 'running', held: undefined, progress: [] }, { id: 'abc' }]) {
      posted = start;
      polls = [{ ...held, state: 'done', held: undefined, result: 'ok' }];
      polled.length = 0;
      assert.equal(await client().run('/v1/keys/vault/sign', {}), 'ok');
      assert.equal(polled.length, 1, JSON.stringify(start));
    }
  });
});
