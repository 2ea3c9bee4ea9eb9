/**
 * Chromium for the example's browser tests (playwright-core with the system's chromium).
 */
import { requireBinary } from '@taskpulse/testkit';
import { type Browser, chromium } from 'playwright-core';

/** Launches headless Chromium, failing with the install command when it is missing. */
export function launchChromium(): Promise<Browser> {
  const executablePath = requireBinary(
    process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    'apt-get update && apt-get install -y chromium',
  );
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
