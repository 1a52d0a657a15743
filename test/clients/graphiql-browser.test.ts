import { execFile } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientFixture, startClientFixture } from './client-fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(process.cwd(), 'test-output', 'graphiql');

/** Debian's chromium, installed with apt like the test servers (scripts/services/chromium.sh). */
async function installChromium(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'streamgate-chromium-'));
  await promisify(execFile)('bash', ['scripts/services/chromium.sh', 'install', dir], {
    timeout: 15 * 60_000,
  });
}

function isLoopback(url: string): boolean {
  if (url.startsWith('data:') || url.startsWith('blob:') || url.startsWith('about:')) return true;
  const { hostname } = new URL(url);
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

/**
 * GraphiQL in a real browser with no network but loopback: every other request is failed and
 * recorded, and the test asserts there was none. The page renders from the server alone, a
 * subscription typed into the editor streams into the result pane, and a token in the Headers
 * tab authenticates a guarded subscription.
 */
describe('GraphiQL in chromium, offline', () => {
  let fixture: ClientFixture;
  let browser: Browser;
  const outside: string[] = [];

  beforeAll(async () => {
    await installChromium();
    await mkdir(SCREENSHOTS, { recursive: true });
    fixture = await startClientFixture();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await fixture?.stop();
  });

  async function openGraphiql(): Promise<Page> {
    const context = await browser.newContext();
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (isLoopback(url)) return route.continue();
      outside.push(url);
      return route.abort('internetdisconnected');
    });
    const page = await context.newPage();
    page.on('websocket', (socket) => {
      if (!isLoopback(socket.url().replace(/^ws/, 'http'))) outside.push(socket.url());
    });
    await page.goto(fixture.httpUrl, { waitUntil: 'load' });
    await page.locator('.graphiql-query-editor .monaco-editor').first().waitFor({ timeout: 60_000 });
    return page;
  }

  async function typeInto(page: Page, editor: string, text: string): Promise<void> {
    await page.locator(`${editor} .monaco-editor >> visible=true`).first().click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    // insertText, like a paste: Monaco's bracket auto-closing would double every brace typed.
    await page.keyboard.insertText(text);
  }

  async function run(page: Page): Promise<void> {
    await page.locator('.graphiql-execute-button').click();
  }

  const resultText = (page: Page) => page.locator('.graphiql-response').innerText();

  it('renders with the streamgate title, and a typed subscription streams values', async () => {
    const page = await openGraphiql();
    expect(await page.title()).toBe('streamgate');
    await typeInto(page, '.graphiql-query-editor', 'subscription Ticks { serverTime(every: "200ms") }');
    // GraphiQL names the tab after the operation once it has parsed the editor's text.
    await page.locator('.graphiql-tab-button', { hasText: 'Ticks' }).waitFor();
    await run(page);
    const seen = new Set<string>();
    await expect
      .poll(
        async () => {
          // Monaco renders spaces as no-break spaces, which \s matches.
          const match = /"serverTime":\s*"([^"]+)"/.exec(await resultText(page));
          if (match?.[1]) seen.add(match[1]);
          return seen.size;
        },
        { timeout: 30_000, interval: 50 },
      )
      .toBeGreaterThanOrEqual(3);
    await page.screenshot({ path: join(SCREENSHOTS, 'subscription.png') });
    await page.context().close();
    expect(outside).toEqual([]);
  });

  it('a token in the Headers tab authenticates a guarded subscription', async () => {
    const stateId = await fixture.newStateId();
    const page = await openGraphiql();
    await typeInto(
      page,
      '.graphiql-query-editor',
      `subscription Live { stateStream(stateId: "${stateId}") { stateId data } }`,
    );
    await page.locator('.graphiql-tab-button', { hasText: 'Live' }).waitFor();
    await page.getByRole('button', { name: 'Headers', exact: true }).click();
    await typeInto(page, '.graphiql-editor-tool', `{"Authorization": "Bearer ${fixture.token}"}`);
    await run(page);
    await fixture.waitForOpenSubscriptions('stateStream', 'graphql_ws', 1);
    await fixture.publish(stateId, { fromGraphiql: 42 });
    await expect.poll(() => resultText(page), { timeout: 30_000 }).toMatch(/"fromGraphiql":\s*42/);
    expect(await resultText(page)).not.toContain('UNAUTHENTICATED');
    await page.screenshot({ path: join(SCREENSHOTS, 'headers-token.png') });
    await page.context().close();
    await fixture.waitForOpenSubscriptions('stateStream', 'graphql_ws', 0);
    expect(outside).toEqual([]);
  });
});
