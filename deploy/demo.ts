/**
 * `npm run demo`: the main job end to end on this machine. It starts five party daemons on 127.0.0.1 (in a
 * temporary directory), runs a 3-of-5 DKG, signs a message, and signs and finalizes a Taproot key-path spend
 * of a made-up coin, verifying every signature here, independently of the daemons. Then it stops the network
 * and deletes the directory. Exit code 0 only when everything verified.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { Transaction } from 'bitcoinjs-lib';
import { p2trAddress, p2trScript } from '../chains/bitcoin/address.ts';
import { buildWalletPsbt } from '../chains/bitcoin/build.ts';
import { walletKey, walletRoot } from '../chains/bitcoin/keys.ts';
import { SIGHASH_DEFAULT } from '../chains/bitcoin/sighash.ts';
import { DRILL_PATH, drillMessage } from '../chains/domains.ts';
import { Client } from '../cli/client.ts';
import { asKeyView } from '../cli/keyview.ts';
import { Output } from '../cli/output.ts';
import { bytesToHex, hexToBytes, xOnly } from '../protocol/curve.ts';
import { derivePath } from '../protocol/derive.ts';
import { verifyBip340 } from '../protocol/sign.ts';
import { LocalNetwork } from './local-network.ts';

const PARTIES = 5;
const THRESHOLD = 3;
const NETWORK = 'mainnet';
const COIN = 100_000n;
const PAYMENT = 60_000n;

const out = new Output(false);
const say = (line = '') => process.stdout.write(`${line}\n`);
const t0 = Date.now();
/** A numbered step's title, with the time since the start: the demo also shows what each step costs. */
const step = (title: string) => say(`${title}  [${((Date.now() - t0) / 1000).toFixed(1)} s]`);
const check = (ok: boolean, what: string) => {
  say(`   ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  return ok;
};

/** A CLI client of party i's control API, with its request token, as an operator's `frostnet` has. */
const clientOf = (net: LocalNetwork, i: number) =>
  new Client({ api: net.parties[i].api!, token: net.token(i, 'request'), label: net.parties[i].name });

type SignResult = {
  signatures: string[];
  signers: string[];
  txid?: string;
  txHex?: string;
  vsize?: number;
  fee?: string;
};

async function demo(net: LocalNetwork): Promise<boolean> {
  const name = (id: string) => net.parties.find((p) => p.peerId === id)?.name ?? id;
  let ok = true;

  step(`2. DKG: a ${THRESHOLD}-of-${PARTIES} key, started from party-1`);
  const key = asKeyView(
    await clientOf(net, 0).run('/v1/keys', {
      name: 'demo',
      threshold: THRESHOLD,
      parties: net.ids,
    }),
  );
  const root = walletRoot(hexToBytes(key.groupKey), hexToBytes(key.chainCode));
  const receive0 = walletKey(root, { change: false, index: 0 });
  say(`   group key        ${key.groupKey}`);
  say(`   taproot address  ${p2trAddress(receive0.outputKey, NETWORK)}  (receive m/0/0)`);
  const views = await Promise.all(
    net.parties.map((p) => clientOf(net, p.index).get('/v1/keys/demo').then(asKeyView)),
  );
  ok =
    check(
      views.every((v) => v.groupKey === key.groupKey),
      `all ${PARTIES} parties hold the same group key`,
    ) && ok;

  const message = sha256(new TextEncoder().encode('Frostnet demo: one key, no single holder'));
  say('');
  step(`3. a test signature through party-2 (the recovery drill's own key): ${bytesToHex(message)}`);
  const signed = await clientOf(net, 1).run<SignResult>('/v1/keys/demo/sign', {
    drill: bytesToHex(message),
  });
  const signature = hexToBytes(signed.signatures[0]);
  say(`   signature  ${signed.signatures[0]}`);
  say(`   signed by  ${signed.signers.map(name).join(', ')}`);
  ok =
    check(
      verifyBip340(signature, drillMessage(message), xOnly(derivePath(root, DRILL_PATH).key)),
      'BIP340 signature verifies under the drill key (no wallet, account or proposal key signs a test message)',
    ) && ok;

  say('');
  step('4. a Taproot key-path spend through party-3 (a made-up coin; nothing is broadcast)');
  const outside = p2trAddress(schnorr.getPublicKey(schnorr.utils.randomSecretKey()), NETWORK);
  const coin = {
    txid: bytesToHex(sha256(new TextEncoder().encode('frostnet demo coin'))),
    vout: 0,
    amount: COIN,
  };
  const { psbt, fee, change } = buildWalletPsbt(
    { root, network: NETWORK },
    {
      utxos: [{ ...coin, change: false, index: 0 }],
      payments: [{ address: outside, amount: PAYMENT }],
      changeIndex: 0,
      feeRate: 2,
    },
  );
  say(
    `   spends     ${COIN} sat at m/0/0 -> ${PAYMENT} sat to ${outside}, ${change} sat change to m/1/0, fee ${fee} sat`,
  );
  const spend = await clientOf(net, 2).run<SignResult>('/v1/keys/demo/sign', {
    psbt: psbt.toBase64(),
    network: NETWORK,
    finalize: true,
  });
  const tx = Transaction.fromHex(spend.txHex!);
  say(`   txid       ${spend.txid}`);
  say(`   vsize      ${spend.vsize} vB (weight ${tx.weight()})`);
  say(`   signed by  ${spend.signers.map(name).join(', ')}`);
  const witness = tx.ins[0].witness;
  ok = check(tx.getId() === spend.txid, 'the transaction hashes to the reported txid') && ok;
  ok =
    check(witness.length === 1 && witness[0].length === 64, "the input's witness is one 64-byte signature") &&
    ok;
  // The sighash computed here by bitcoinjs, not by the daemons' code.
  const sighash = tx.hashForWitnessV1(0, [p2trScript(receive0.outputKey)], [COIN], SIGHASH_DEFAULT);
  ok =
    check(
      verifyBip340(witness[0], sighash, receive0.outputKey),
      'the signature verifies under the output key of m/0/0 (BIP341 sighash)',
    ) && ok;
  return ok;
}

async function main(): Promise<number> {
  step(`1. start ${PARTIES} party daemons on 127.0.0.1`);
  // In a temporary directory, which close() deletes; each daemon logs to <data dir>/daemon.log.
  const net = await LocalNetwork.create(PARTIES, { logLevel: 'warn' });
  try {
    say(`   in ${net.dir}`);
    await net.startAll();
    for (const p of net.parties) say(`   ${p.name}  ${p.peerId}  ${p.listen}`);
    step('   all running');
    say('');
    const ok = await demo(net);
    say('');
    step(ok ? 'all verified' : 'some checks FAILED');
    return ok ? 0 : 1;
  } finally {
    await net.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => process.exit(out.error(e, process.env.FROSTNET_DEBUG === '1')),
);
