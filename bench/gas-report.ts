/**
 * The shapes of the gas figures bench/evm.ts measures and bench/rows.ts prints (apart, so neither imports the
 * other).
 */
import type { GasPart } from '../chains/evm/gas-breakdown.ts';

export type GroupGas = {
  group: string;
  /** Who made the signatures: the daemons, or the protocol code in this process. */
  signedBy: 'network' | 'in-process FROST';
  verification: number;
  firstEthTransfer: number;
  ethTransfer: number;
  /** The steady-state transfer's parts; they add up to ethTransfer. */
  breakdown: GasPart[];
};

export type GasReport = { groups: GroupGas[] };

export type RecoveryGas = {
  group: string;
  /** gasUsed of each transaction: the factory deploying the account without and with recovery. */
  deploy: number;
  deployWithRecovery: number;
  /** A steady-state ETH transfer through execute, without and with recovery (the latter also resets its clock). */
  execute: number;
  executeWithRecovery: number;
  initiate: number;
  veto: number;
  finalize: number;
};
