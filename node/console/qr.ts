/**
 * QR codes as SVG images, drawn on the daemon with lean-qr (a dependency-free encoder of about 7 KB; chosen over
 * a browser-side encoder so that the page needs no script to show one and a printed wallet card has them).
 * One path per code, a four-module quiet zone, black on white.
 */
import { generate } from 'lean-qr';

/** Longest text the console encodes (a descriptor with a checksum fits easily). */
export const MAX_QR_TEXT = 1000;

export function qrSvg(text: string): string {
  const code = generate(text);
  const quiet = 4;
  const size = code.size + 2 * quiet;
  let d = '';
  for (let y = 0; y < code.size; y++)
    for (let x = 0; x < code.size; x++) if (code.get(x, y)) d += `M${x + quiet} ${y + quiet}h1v1h-1z`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges"><rect width="${size}" height="${size}" fill="#fff"/><path d="${d}" fill="#000"/></svg>`;
}
