// Drives the operations console in Debian's headless Chromium (playwright-core, no browser
// download) through what an operator does, and checks what it shows. Called by
// tests/e2e/console_browser_test.cpp, which sets the scenario up and checks the engine after.
//
// Environment:
//   CONSOLE_URL      http://127.0.0.1:<port>/admin/
//   CONSOLE_TOKEN    an operator's token
//   EXPECT_ACCEPTED  the "accepted" figure the console must show
//   EXPECT_LISTED    order numbers the exception queue must list (comma-separated)
//   SETTLE           the order to settle as failed through the UI
//   EVIDENCE         the evidence text to type
//   SCREENSHOT_DIR   where console-zh.png and console-en.png are written
// Prints one line per check; exits 1 at the first failure.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (v === undefined) { console.error(`console_check: ${name} is not set`); process.exit(2); }
  return v;
};
const url = env('CONSOLE_URL');
const token = env('CONSOLE_TOKEN');
const expectAccepted = env('EXPECT_ACCEPTED');
const listed = env('EXPECT_LISTED').split(',').filter(Boolean);
const settle = env('SETTLE');
const evidence = env('EVIDENCE');
const shots = env('SCREENSHOT_DIR');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const step = (what) => console.log(`console_check: ${what}`);
const fail = (what) => { throw new Error(what); };

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let exitCode = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1600 } });
  // Errors in the page fail the run, but for the 401 of the wrong token tried on purpose.
  const problems = [];
  let expect401 = false;
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (expect401 && m.text().includes('401')) return;
    problems.push(`console error: ${m.text()}`);
  });
  page.setDefaultTimeout(15000);

  await page.goto(url);
  await page.waitForSelector('#login:not([hidden])');
  step('login form shown, main hidden');
  if (await page.isVisible('#main')) fail('the console shows data before a token was given');

  expect401 = true;
  await page.fill('#token-input', 'not-a-token');
  await page.click('#login-button');
  await page.waitForSelector('#login-error:not([hidden])');
  expect401 = false;
  step(`a wrong token is refused: ${await page.textContent('#login-error')}`);

  await page.fill('#token-input', token);
  await page.click('#login-button');
  await page.waitForSelector('#main:not([hidden])');
  step('logged in');

  // The figures: the accepted count the scenario made.
  await page.waitForFunction((n) => document.getElementById('fig-accepted')?.textContent === n,
                             expectAccepted);
  step(`accepted figure shows ${expectAccepted}`);
  // The chart: the server's first sample and the live counters make its first point.
  await page.waitForFunction(() => state.chart && state.chart.data[0].length >= 1);
  const plotted = await page.evaluate(() => state.chart.data[1].length);
  step(`chart plots ${plotted} point(s) of orders/s`);
  const channels = await page.$$eval('#channels-table tbody tr', (rows) => rows.map((r) => r.dataset.channel));
  if (!channels.includes('sim1')) fail(`channels table lists ${channels}`);
  step(`channels table lists ${channels.join(', ')}`);
  const merchant = await page.textContent('#merchants-table tbody tr[data-merchant="1001"] td:nth-child(2)');
  if (!/^\d+\.\d\d$/.test(merchant?.trim() ?? '')) fail(`merchant 1001 balance shows "${merchant}"`);
  step(`merchant 1001 balance shows ${merchant}`);

  // The exception queue lists every expected order.
  for (const number of listed) await page.waitForSelector(`#exceptions-table tr[data-order="${number}"]`);
  const total = await page.textContent('#exceptions-total');
  if (Number(total) < listed.length) fail(`exceptions badge shows ${total}, expected >= ${listed.length}`);
  step(`exception queue lists ${listed.join(', ')} (badge ${total})`);

  // Chinese first (the default), then English: both legible in the screenshots.
  const zhTitle = await page.textContent('h1');
  if (!zhTitle.includes('运营控制台')) fail(`Chinese title is "${zhTitle}"`);
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, 'console-zh.png'), fullPage: true });
  await page.click('#lang-toggle');
  const enTitle = await page.textContent('h1');
  if (enTitle !== 'topupd operations console') fail(`English title is "${enTitle}"`);
  const kindCell = await page.textContent(`#exceptions-table tr[data-order="${listed[0]}"] td:nth-child(3)`);
  if (kindCell !== 'No supplier result') fail(`exception kind in English shows "${kindCell}"`);
  step('language toggle: English');

  // Settle one order as failed, with evidence, through the UI.
  const row = `#exceptions-table tr[data-order="${settle}"]`;
  await page.click(`${row} button.primary`);
  const form = `[data-form="settle:${settle}"]`;
  await page.waitForSelector(form);
  await page.click(`${form} button.primary`);  // no evidence yet: refused in the page
  await page.waitForFunction(() => document.getElementById('toast')?.textContent.includes('Evidence'));
  step('settle without evidence is refused by the form');
  await page.click(row + ' button.primary');
  await page.selectOption(`${form} select[name=result]`, 'failed');
  await page.fill(`${form} input[name=evidence]`, evidence);
  await page.click(`${form} button.primary`);
  await page.waitForSelector(row, { state: 'detached' });
  step(`settled ${settle} as failed; it left the queue`);

  // Its history, opened from the order lookup, shows the settlement.
  await page.fill('#order-input', settle);
  await page.click('#order-button');
  await page.waitForSelector('#order-detail:not([hidden])');
  await page.waitForFunction((ev) => document.getElementById('order-events')?.textContent.includes(ev), evidence);
  step('order history shows the settlement with its evidence');
  await page.screenshot({ path: path.join(shots, 'console-en.png'), fullPage: true });

  if (problems.length) fail(problems.join('; '));
  step('ok');
} catch (e) {
  console.error(`console_check: FAILED: ${e.message}`);
  exitCode = 1;
} finally {
  await browser.close();
}
process.exit(exitCode);
