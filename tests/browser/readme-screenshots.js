/* The README's screenshots: node readme-screenshots.js BASE_URL OUT_DIR. Debian's headless
 * chromium through playwright-core; scripts/readme-screenshots.sh prepares the server. */
'use strict';

const path = require('node:path');
const { chromium } = require('playwright-core');

(async () => {
  const [base, out] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1000, height: 560 } });
  page.setDefaultTimeout(20000);

  await page.goto(`${base}/chat?user=1&peer=2`);
  await page.waitForSelector('#messages li[data-message-id]');
  await page.waitForFunction(() => document.querySelectorAll('#conversations li').length >= 3);
  await page.screenshot({ path: path.join(out, 'chat.png') });

  await page.goto(`${base}/docs`);
  const tag = page.locator('#operations-tag-messages');
  await tag.waitFor();
  await page.locator('#operations-tag-conversations').waitFor();
  await tag.evaluate((e) => e.scrollIntoView());
  await page.screenshot({ path: path.join(out, 'docs.png') });
  await browser.close();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
