// Adminer in a real browser, as a user meets it after `make adminer`: Debian's chromium, headless, driven by
// playwright-core (which never downloads a browser). Run by tests/browser.rs; on its own:
//
//   ADMINER_PASSWORD=... [SWEEP_ID=...] node tests/browser/adminer.mjs URL SCREENSHOT_DIR HOST...
//
// URL is the address `scripts/services.sh adminer` printed; HOSTs are the hosts of the one sweep in the database
// (SWEEP_ID when given), each checked once and alive. It checks that / leads to the login form, that the form opens on PostgreSQL with server,
// user and database filled in from URL, logs in with the password, opens pinger_data (select data) and
// host_availability_24h from the menu and finds the sweep's hosts there; one screenshot per step in
// SCREENSHOT_DIR (adminer-*.png). Any failed check exits 1 with what was expected and what the page showed.
//
// The browser talks to this Adminer only: no proxy, every other name resolves to nothing, requests to any other
// origin are aborted, and the features that call home (updates, sync, metrics, safe browsing) are off. The test
// also runs it in a network namespace with only loopback, so that the kernel enforces it.
import { check, Failed, launch, loopbackUrl, shooter } from './common.mjs';
import { mkdirSync } from 'node:fs';

const [url, shots, ...hosts] = process.argv.slice(2);
const password = process.env.ADMINER_PASSWORD;
// The id of the sweep whose rows pinger_data must show (optional).
const sweep = process.env.SWEEP_ID || undefined;
if (!url || !shots || hosts.length === 0 || password === undefined) {
  console.error('usage: ADMINER_PASSWORD=... node adminer.mjs URL SCREENSHOT_DIR HOST...');
  process.exit(2);
}
const login = loopbackUrl(url, 'adminer.mjs');
const want = {
  driver: 'pgsql',
  server: login.searchParams.get('pgsql'),
  username: login.searchParams.get('username'),
  db: login.searchParams.get('db'),
};
mkdirSync(shots, { recursive: true });

const browser = await launch();
let page;
const snap = shooter(shots, 'adminer');
async function shot(name) {
  await snap(page, name);
}

// The rows of Adminer's result table (table#table on a select page) as objects keyed by column name.
async function rows() {
  await page.locator('table#table').waitFor();
  return page.evaluate(() => {
    const table = document.querySelector('table#table');
    const names = [...table.querySelectorAll('thead th, thead td')].map((c) => c.innerText.trim());
    return [...table.querySelectorAll('tbody tr')].map((tr) => {
      const cells = [...tr.querySelectorAll('th, td')].map((c) => c.innerText.trim());
      return Object.fromEntries(names.map((n, i) => [n, cells[i]]));
    });
  });
}

// A link of the menu (the list of tables and views on the left), clicked as a user would.
async function openFromMenu(name) {
  const link = page.locator(`#tables a.select[href$="&select=${name}"]`);
  check((await link.count()) === 1, `the menu has a "select" link for ${name}`);
  await Promise.all([page.waitForURL((u) => u.searchParams.get('select') === name), link.click()]);
  const error = await page.locator('.error').allInnerTexts();
  check(error.length === 0, `${name} opens without an error, but Adminer says: ${error.join(' ')}`);
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(60_000);
  // Nothing but this Adminer: any other request is refused before it leaves the browser.
  await context.route(
    (u) => u.origin !== login.origin,
    (route) => route.abort('blockedbyclient'),
  );

  // / leads to the login form, filled in.
  await page.goto(new URL('/', login).href);
  const landed = new URL(page.url());
  check(
    landed.pathname === login.pathname && landed.search === login.search,
    `/ redirects to the login form ${login.pathname}${login.search}, but the browser is at ${page.url()}`,
  );
  const form = {
    driver: await page.locator('select[name="auth[driver]"]').inputValue(),
    system: (await page.locator('select[name="auth[driver]"] option:checked').innerText()).trim(),
    server: await page.locator('input[name="auth[server]"]').inputValue(),
    username: await page.locator('input[name="auth[username]"]').inputValue(),
    db: await page.locator('input[name="auth[db]"]').inputValue(),
    password: await page.locator('input[name="auth[password]"]').inputValue(),
  };
  await shot('login-form');
  check(
    form.driver === 'pgsql' && form.system === 'PostgreSQL',
    `the form opens on System = PostgreSQL, but shows ${form.system} (${form.driver})`,
  );
  for (const k of ['server', 'username', 'db']) {
    check(form[k] === want[k], `the form has ${k} = ${want[k]} filled in, but shows "${form[k]}"`);
  }
  check(form.password === '', 'the password field starts empty');

  // Log in with the password only: everything else is already there.
  await page.locator('input[name="auth[password]"]').fill(password);
  await page.locator('input[value="Login"]').click();
  // The next page has either a Logout button (logged in) or an error (the form again).
  await page.locator('input[name="logout"], .error').first().waitFor();
  const loginError = await page.locator('.error').allInnerTexts();
  check(loginError.length === 0, `the login succeeds, but Adminer says: ${loginError.join(' ')}`);
  await page.locator('#tables').waitFor();
  await shot('logged-in');

  // The raw rows: one per host of the sweep.
  await openFromMenu('pinger_data');
  const data = await rows();
  await shot('pinger_data');
  const seen = data.map((r) => r.host).sort();
  check(
    JSON.stringify(seen) === JSON.stringify([...hosts].sort()),
    `pinger_data shows one row per host of the sweep (${hosts.join(', ')}), but shows hosts: ${seen.join(', ')}`,
  );
  for (const r of data) {
    check(
      r.status === 'alive' && (sweep === undefined || r.sweep_id === sweep),
      `pinger_data shows ${r.host} alive${sweep ? ` in sweep ${sweep}` : ''}, but shows ${JSON.stringify(r)}`,
    );
  }
  const count = await page.locator('#content').innerText();
  check(
    new RegExp(`\\b${hosts.length} rows?\\b`).test(count),
    `pinger_data says it has ${hosts.length} rows, but the page says: ${count.slice(-400)}`,
  );

  // The question people ask: how available was each host over the last day.
  await openFromMenu('host_availability_24h');
  const avail = await rows();
  await shot('host_availability_24h');
  for (const h of hosts) {
    const r = avail.find((r) => r.host === h);
    check(r !== undefined, `host_availability_24h shows ${h}, but shows: ${avail.map((r) => r.host).join(', ')}`);
    check(
      r.checks === '1' && r.failures === '0',
      `host_availability_24h shows ${h} checked once without failure, but shows ${JSON.stringify(r)}`,
    );
  }
  console.log(
    `adminer.mjs: ok: / -> login form on PostgreSQL (${want.server}, ${want.username}, ${want.db}), logged in, ` +
      `pinger_data and host_availability_24h show the ${hosts.length} hosts of the sweep`,
  );
} catch (e) {
  if (page) await shot('failed').catch(() => {});
  console.error(`adminer.mjs: ${e instanceof Failed ? 'check failed' : 'error'}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
