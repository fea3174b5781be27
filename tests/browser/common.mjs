// What the browser tests share: how they start Debian's chromium (CHROMIUM to use another), take screenshots,
// refuse a URL off this machine, and fail a check.
//
// Headless, with a fresh profile (playwright gives each launch its own --user-data-dir); no proxy; every name but
// loopback resolves to nothing; and the features that call home (updates, sync, metrics, safe browsing,
// translation, optimization hints) are off: on this machine's closed network they only make refused connections.
import { chromium } from 'playwright-core';
import { join } from 'node:path';

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-domain-reliability',
      '--disable-client-side-phishing-detection',
      '--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication',
      '--metrics-recording-only',
      '--no-proxy-server',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
      '--disable-dev-shm-usage',
    ],
  });
}

// Numbered full-page screenshots, DIR/PREFIX-N-NAME.png, each path printed.
export function shooter(dir, prefix) {
  let step = 0;
  return async (page, name) => {
    step += 1;
    const path = join(dir, `${prefix}-${step}-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`${prefix}.mjs: screenshot ${path}`);
  };
}

// A check that did not hold: the script prints it and exits 1.
export class Failed extends Error {}
export function check(ok, what) {
  if (!ok) throw new Failed(what);
}

// The URL the script was given, when it is on this machine; otherwise the script exits 2: the browser may only
// talk to loopback.
export function loopbackUrl(url, script) {
  const u = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
    console.error(`${script}: ${url} is not on this machine; the browser may only talk to loopback`);
    process.exit(2);
  }
  return u;
}
