/** Loads the external test vectors copied into test/vectors (see its README for their origins). */
import { readFileSync } from 'node:fs';

export const vectorPath = (name: string): string => new URL(`../vectors/${name}`, import.meta.url).pathname;
export const loadVector = <T = Record<string, any>>(name: string): T =>
  JSON.parse(readFileSync(vectorPath(name), 'utf8'));

export type Bip340Vector = {
  index: number;
  secretKey: string;
  publicKey: string;
  auxRand: string;
  message: string;
  signature: string;
  valid: boolean;
  comment: string;
};

export function bip340Vectors(): Bip340Vector[] {
  const [, ...rows] = readFileSync(vectorPath('bip-0340_test-vectors.csv'), 'utf8').trim().split('\n');
  return rows.map((line) => {
    const [index, secretKey, publicKey, auxRand, message, signature, result, comment] = line
      .trim()
      .split(',');
    return {
      index: Number(index),
      secretKey,
      publicKey,
      auxRand,
      message,
      signature,
      valid: result === 'TRUE',
      comment: comment ?? '',
    };
  });
}
