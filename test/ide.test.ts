import { existsSync } from 'node:fs';
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startStack, type Stack } from './utils/harness.js';

const CHROMIUM = '/usr/bin/chromium';

// Debian's Chromium (`apt-get install chromium`; .ci/run installs it). Without it this
// file cannot run at all, and says so rather than passing.
describe.runIf(existsSync(CHROMIUM) || process.env.CI)('the browser IDE', () => {
  let stack: Stack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startStack();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('opens on the first query and runs it: CloudLX customers with their realms', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('requestfailed', (request) => problems.push(`${request.url()} ${request.failure()?.errorText}`));
    await page.goto(stack.gateway.graphqlUrl);
    const answer = page.waitForResponse((r) => r.url() === stack.gateway.graphqlUrl && r.request().method() === 'POST' && (r.request().postData() ?? '').includes('FirstQuery'));
    await page.locator('.graphiql-execute-button').click();
    const body = (await (await answer).json()) as any;
    expect(body.data.platforms.map((p: any) => p.platform)).toEqual(['CLOUDLX', 'EXOTEL', 'IXC', 'CLOUDCIX']);
    expect(body.data.platforms.every((p: any) => p.simulated)).toBe(true);
    const first = [...stack.sim('cloudlx').customers.values()][0]!;
    const result = page.locator('.result-window');
    await expect.poll(async () => result.innerText(), { timeout: 15_000 }).toContain(first.name);
    // What the person sees: the first customer and its first realm, at the top of the result pane.
    const text = await result.innerText();
    expect(text).toContain(first.realms[0]!.name);
    if (process.env.IDE_SCREENSHOT) await page.screenshot({ path: process.env.IDE_SCREENSHOT });
    expect(problems).toEqual([]);
  });
});
