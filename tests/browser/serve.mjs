// `pinger serve` in a real browser: Debian's chromium, headless, driven by playwright-core (which never downloads
// a browser). Run by tests/serve.rs; on its own:
//
//   EXPECT_LEAST=... EXPECT_OUTAGES_NOW=a,b EXPECT_OUTAGE_HOST=... EXPECT_POINTS_7D=N EXPECT_SWEEPS=N \
//     node tests/browser/serve.mjs URL SCREENSHOT_DIR
//
// URL is where `pinger serve` listens. It checks what a person sees: on the overview, the least available host
// first and the outages going on now, longest first; the window switch to 7 days; on the outage host's page,
// its outage and a 7-day chart with one point per hour with checks; on the sweeps page, a row and a bar per
// sweep; and that a malformed address gets a page that says so (400). One screenshot per step in SCREENSHOT_DIR
// (serve-*.png). Any failed check exits 1 with what was expected and what the page showed.
//
// The browser talks to this server only: no proxy, every other name resolves to nothing, requests to any other
// origin are aborted, and the features that call home are off. The test also runs it in a network namespace
// with only loopback, so that the kernel enforces it.
import { check, Failed, launch, loopbackUrl, shooter } from './common.mjs';
import { mkdirSync } from 'node:fs';

const [url, shots] = process.argv.slice(2);
const env = process.env;
const want = {
  least: env.EXPECT_LEAST,
  outagesNow: (env.EXPECT_OUTAGES_NOW || '').split(',').filter((h) => h),
  outageHost: env.EXPECT_OUTAGE_HOST,
  points7d: Number(env.EXPECT_POINTS_7D),
  sweeps: Number(env.EXPECT_SWEEPS),
  source: env.EXPECT_SOURCE,
};
if (!url || !shots || !want.least || !want.outageHost || !want.points7d || !want.sweeps) {
  console.error('usage: EXPECT_LEAST=... EXPECT_OUTAGES_NOW=... EXPECT_OUTAGE_HOST=... EXPECT_POINTS_7D=N ' +
    'EXPECT_SWEEPS=N node serve.mjs URL SCREENSHOT_DIR');
  process.exit(2);
}
const base = loopbackUrl(url, 'serve.mjs');
mkdirSync(shots, { recursive: true });

const browser = await launch();
let page;
const snap = shooter(shots, 'serve');
async function shot(name) {
  await snap(page, name);
}

// The text of each cell of the rows of table `id`.
async function rows(id) {
  await page.locator(`table#${id}`).waitFor();
  return page.locator(`table#${id} tbody tr`).evaluateAll((trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText.trim())),
  );
}

async function open(path, status = 200) {
  const response = await page.goto(new URL(path, base).href);
  check(response.status() === status, `${path} answers ${status}, but answered ${response.status()}`);
}

try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(60_000);
  await context.route(
    (u) => u.origin !== base.origin,
    (route) => route.abort('blockedbyclient'),
  );

  // The overview: the answer first.
  await open('/');
  const least = await rows('least');
  await shot('overview');
  check(least.length > 0, 'the overview lists the least available hosts');
  check(least[0][1] === want.least, `${want.least} is listed first, but the list starts ${least[0].join(' | ')}`);
  check(least[0][2] === '0.00%', `${want.least} shows 0.00% available, but shows ${least[0][2]}`);
  const now = (await rows('outages-now')).map((r) => r[0]);
  check(
    JSON.stringify(now) === JSON.stringify(want.outagesNow),
    `the outages going on now are ${want.outagesNow.join(', ')} (longest first), but the page lists ${now.join(', ')}`,
  );
  const latest = await page.locator('#latest').innerText();
  check(/alive/.test(latest) && /hosts/.test(latest), `the latest sweep is shown, but: ${latest}`);
  const cells = await page.locator('table#heatmap td.cell').count();
  check(cells > 0, 'the heatmap has cells');

  // The window switch, as a person clicks it.
  await Promise.all([page.waitForURL((u) => u.searchParams.get('since') === '7d'), page.locator('#since a', { hasText: '7d' }).click()]);
  const marked = await page.locator('#since a.here').innerText();
  check(marked === '7d', `after clicking 7d the switch marks 7d, but marks ${marked}`);
  const heading = await page.locator('h2', { hasText: 'Least available' }).innerText();
  check(heading.includes('7d'), `the list says it covers 7d, but says: ${heading}`);
  check((await rows('least'))[0][1] === want.least, `over 7d ${want.least} is still first`);
  await shot('overview-7d');

  // The host with an outage that ended: reached by its link, as a person would.
  await Promise.all([
    page.waitForURL((u) => u.pathname === `/host/${want.outageHost}`),
    page.locator('#least a', { hasText: new RegExp(`^${want.outageHost.replaceAll('.', '\\.')}$`) }).click(),
  ]);
  const outages = await rows('outages');
  await shot('host');
  check(outages.length === 1, `${want.outageHost} has one outage listed, but the page lists ${outages.length}`);
  check(
    outages[0][3] === '3' && outages[0][1] !== 'going on',
    `the outage lasted 3 failed checks and is over, but the page shows ${outages[0].join(' | ')}`,
  );
  const status = await page.locator('#status').innerText();
  check(status === 'alive', `the latest sweep saw ${want.outageHost} alive, but the page says ${status}`);
  const svg = page.locator('svg.latency');
  check((await svg.count()) === 1, 'the host page has a latency chart');

  // The 7-day chart: a point per hour with checks.
  await Promise.all([page.waitForURL((u) => u.searchParams.get('range') === '7d'), page.locator('#range a', { hasText: '7d' }).click()]);
  const points = await page.locator('svg.latency g.pt').count();
  const median = await page.locator('svg.latency g.pt line.median').count();
  await shot('host-7d');
  check(points === want.points7d, `the 7-day chart has ${want.points7d} points, but has ${points}`);
  check(median > 0 && median <= points, `the chart draws median lines (${median} of ${points} points)`);
  const box = await svg.boundingBox();
  check(box && box.width > 600 && box.height > 200, `the chart is drawn large enough to read: ${JSON.stringify(box)}`);

  // Sweeps: the chart and the list.
  await open('/sweeps');
  const sweeps = await rows('sweeps');
  const bars = await page.locator('svg.sweeps rect.bar').count();
  await shot('sweeps');
  const shown = Math.min(want.sweeps, 100);
  check(sweeps.length === shown, `the sweeps page lists ${shown} sweeps, but lists ${sweeps.length}`);
  check(bars === shown, `the sweeps chart has ${shown} bars, but has ${bars}`);
  const bold = await page.locator('table#sweeps b').count();
  check(
    !want.source || (sweeps.some((r) => r[6] === want.source) && bold === 0),
    `a list's source with markup in it shows as text (${want.source}), not as markup (${bold} bold elements)`,
  );

  // A malformed address: a page that says what is wrong.
  await open('/host/not-an-address', 400);
  const error = await page.locator('#error').innerText();
  await shot('bad-address');
  check(/not an IP address/.test(error), `a malformed address says so, but the page says: ${error}`);

  console.log(
    `serve.mjs: ok: ${want.least} listed first, outages now ${now.join(', ')}, ${want.outageHost}'s outage and ` +
      `${points} chart points, ${sweeps.length} sweeps, a clear 400 for a malformed address`,
  );
} catch (e) {
  if (page) await shot('failed').catch(() => {});
  console.error(`serve.mjs: ${e instanceof Failed ? 'check failed' : 'error'}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
