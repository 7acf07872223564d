/** The pure parts of the daily workflow (issue 16): ETH units, hints that fit, the confirmation, fee warnings. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { feeWarnings } from '../../cli/commands/btc.ts';
import { confirmSigning } from '../../cli/confirm.ts';
import { formatEth, parseEth } from '../../cli/eth-units.ts';
import { describeError, hintFor } from '../../cli/output.ts';
import { ERROR_CODES, FrostnetError } from '../../protocol/errors.ts';

describe('ETH amounts', () => {
  test('with units, or plain wei', () => {
    assert.equal(parseEth('0.5eth'), 5n * 10n ** 17n);
    assert.equal(parseEth('1.5 ether'), 15n * 10n ** 17n);
    assert.equal(parseEth('20gwei'), 20n * 10n ** 9n);
    assert.equal(parseEth('1000wei'), 1000n);
    assert.equal(parseEth('1000'), 1000n);
    assert.equal(parseEth('0'), 0n);
    for (const bad of ['-5', '0.1', '1.0000000001gwei', '01', '1 btc', 'eth', '', `1${'0'.repeat(78)}`])
      assert.equal(parseEth(bad), undefined, bad);
  });
  test('shown in ETH, exactly', () => {
    assert.equal(formatEth(5n * 10n ** 17n), '0.5 ETH');
    assert.equal(formatEth(10n ** 18n), '1 ETH');
    assert.equal(formatEth(1n), '0.000000000000000001 ETH');
    assert.equal(formatEth(0n), '0 ETH');
  });
});

describe('hints fit the situation', () => {
  test('every error code a daemon can return has advice of its own', () => {
    const fallback = hintFor('NO_SUCH_CODE');
    const api = ['NOT_FOUND', 'METHOD_NOT_ALLOWED', 'WRONG_SCOPE', 'TOKEN_RETIRED', 'WRONG_HOST'];
    const without = [...ERROR_CODES, ...api].filter((code) => hintFor(code) === fallback);
    assert.deepEqual(without, []);
  });

  test('one code, several situations', () => {
    assert.match(hintFor('CONFLICT', 'the store at /x is in use by another process'), /another daemon runs/);
    assert.match(
      hintFor('CONFLICT', 'cannot listen on /ip4/1: the address is in use'),
      /another program listens/,
    );
    assert.match(hintFor('CONFLICT', 'a key named vault already exists'), /pick another name/);
    assert.match(hintFor('CONFLICT', 'request abc is already cancelled'), /nothing to do/);
    assert.match(
      hintFor('CONFLICT', 'this party holds key vault already; a backup restores only a missing key'),
      /nothing to restore/,
    );
    assert.match(
      hintFor('CONFLICT', 'a ceremony for key k is running; try again once it ends'),
      /running ceremony/,
    );
    assert.match(
      hintFor('WRONG_PASSPHRASE', 'the backup does not open with this passphrase'),
      /the backup was made with/,
    );
    assert.match(
      hintFor('WRONG_PASSPHRASE', 'wrong passphrase for the store'),
      /this party was created with/,
    );
    assert.match(
      hintFor(
        'EPOCH_MISMATCH',
        'members not on epoch 1 of k (still settling, erased, or not vouched alike): x',
      ),
      /vouch/,
    );
    const line = describeError(
      new FrostnetError('CONFLICT', 'the store at /x is in use by another process'),
    ).line;
    assert.match(line, /— another daemon runs on this data dir/);
  });
});

describe('show before signing', () => {
  const io = (answer: string, interactive = true) => ({ interactive, ask: async () => answer });
  test('a terminal is asked; only yes goes on', async () => {
    await confirmSigning('x', [], { yes: false, json: false, io: io('y') });
    await confirmSigning('x', [], { yes: false, json: false, io: io('YES') });
    await assert.rejects(confirmSigning('x', [], { yes: false, json: false, io: io('') }), /NOT|not signing/);
    await assert.rejects(confirmSigning('x', [], { yes: false, json: false, io: io('no') }), /not signing x/);
  });
  test('without a terminal, a warning stops it unless --yes', async () => {
    await confirmSigning('x', [], { yes: false, json: false, io: io('', false) });
    await assert.rejects(
      confirmSigning('x', ['fee too high'], { yes: false, json: false, io: io('', false) }),
      /not signing x: fee too high/,
    );
    await confirmSigning('x', ['fee too high'], { yes: true, json: false, io: io('', false) });
  });
  test('fee warnings: above 10% of what is sent, or a fee rate above 1000 sat/vB', () => {
    const s = (sent: bigint, fee: bigint) =>
      ({
        sent,
        fee,
        totalIn: sent + fee,
        totalOut: sent,
        inputs: [],
        outputs: [],
        network: 'mainnet',
      }) as never;
    assert.deepEqual(feeWarnings(s(100_000n, 300n), 2), []);
    assert.equal(feeWarnings(s(1_000n, 99_000n), 2).length, 1);
    assert.match(feeWarnings(s(100_000n, 300n), 1500)[0], /fee rate of 1500\.0 sat\/vB/);
  });
});
