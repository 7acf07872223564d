/**
 * A real Chromium for the console's browser tests, driven by playwright-core: the system's browser, never a
 * downloaded one. Without a Chromium the tests fail (they are never skipped), saying how to install one.
 * Also decodes QR codes from screenshots (pngjs + jsQR), so a test reads what a phone's camera would.
 */
import { existsSync } from 'node:fs';
import jsQRModule from 'jsqr';
import { type Browser, chromium } from 'playwright-core';
import { PNG } from 'pngjs';

/** Where Debian, Ubuntu and Chrome put the browser; FROSTNET_CHROMIUM overrides. */
export const CHROMIUM_PATHS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

export const NO_CHROMIUM_HELP =
  'the console browser tests need a Chromium and found none: install one with "apt-get update && apt-get install -y chromium" (Debian; as root), or set FROSTNET_CHROMIUM to the path of a Chromium or Chrome binary';

/** The Chromium binary to drive; throws with the install advice when there is none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env, candidates = CHROMIUM_PATHS): string {
  const given = env.FROSTNET_CHROMIUM;
  if (given) {
    if (!existsSync(given)) throw new Error(`FROSTNET_CHROMIUM=${given} does not exist; ${NO_CHROMIUM_HELP}`);
    return given;
  }
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(NO_CHROMIUM_HELP);
  return found;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: findChromium(),
    headless: true,
    // Root (as in CI) cannot use Chromium's sandbox; the pages are the test's own.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** The text of the QR code in a PNG screenshot; undefined when none decodes. */
export function decodeQr(png: Buffer): string | undefined {
  const img = PNG.sync.read(png);
  // jsqr is CommonJS whose exports also carry the function as `default`; under NodeNext that is how its types see it.
  const code = jsQRModule.default(
    new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length),
    img.width,
    img.height,
  );
  return code?.data;
}
