// The page in a real browser: Debian's chromium (/usr/bin/chromium; .ci/run installs it) driven by playwright-core
// (no browser download). Typing a question and a context and pressing Enter shows the pipeline's answer, highlighted
// in the context, with score and latency; the page loads nothing from outside; with a key, it sends the typed key.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import type { BatchingAnswerer } from '../../src/infer/batching.js';
import type { QaServer } from '../../src/serve/server.js';
import { fixtureServer, type PipelineCase } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;
const fixture = JSON.parse(readFileSync(new URL('./fixtures/pipeline-outputs.json', import.meta.url), 'utf8')) as {
  cases: PipelineCase[];
};

let browser: Browser;
const servers: { server: QaServer; answerer: BatchingAnswerer }[] = [];
before(async () => {
  if (skip) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  for (const { server, answerer } of servers) {
    await server.drain();
    await answerer.close();
  }
});

async function start(apiKey?: string): Promise<string> {
  const s = await fixtureServer(apiKey === undefined ? {} : { apiKey });
  servers.push(s);
  return s.server.listen('127.0.0.1', 0);
}

test('typing a question and a context and pressing Enter shows the pipeline answer, highlighted, with score and latency', {
  skip,
}, async () => {
  const url = await start();
  const c = fixture.cases.find((x) => x.name === 'unicode')!; // code-point offsets past an emoji
  const { question, context } = c.body.inputs as { question: string; context: string };
  const expected = c.expected as { answer: string; score: number };
  const page = await browser.newPage();
  const outside: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(url)) outside.push(r.url());
  });
  const cspErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') cspErrors.push(m.text());
  });
  await page.goto(url);
  await page.locator('textarea[name=context]').fill(context);
  await page.locator('input[name=question]').fill(question);
  await page.locator('input[name=question]').press('Enter');
  const answer = page.getByTestId('answer');
  await answer.filter({ hasText: expected.answer }).waitFor({ timeout: 15_000 });
  assert.equal(await answer.textContent(), expected.answer);
  assert.equal(await page.locator('#context-view mark').textContent(), expected.answer);
  assert.equal(await page.locator('#context-view').textContent(), context);
  assert.match(
    (await page.getByTestId('meta').textContent()) ?? '',
    new RegExp(`score ${expected.score.toFixed(4)} · \\d+ ms`),
  );
  assert.deepEqual(outside, []);
  assert.deepEqual(cspErrors, []);
  await page.close();
});

test('keyboard only: Tab to each field, Ctrl+Enter in the context asks; the button is reachable', {
  skip,
}, async () => {
  const url = await start();
  const page = await browser.newPage();
  await page.goto(url);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate('document.activeElement?.getAttribute("name")'), 'question');
  await page.keyboard.type('Where did the cat sit?');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate('document.activeElement?.getAttribute("name")'), 'context');
  await page.keyboard.type('The cat sat on the mat.');
  await page.keyboard.press('Control+Enter');
  await page.getByTestId('meta').filter({ hasText: 'score' }).waitFor({ timeout: 15_000 });
  assert.ok(((await page.getByTestId('answer').textContent()) ?? '').length > 0);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate('document.activeElement?.tagName'), 'BUTTON');
  await page.close();
});

test('with an API key: the page asks for it, says so when it is wrong, and answers with the right one', {
  skip,
}, async () => {
  const url = await start('page-key');
  const page = await browser.newPage();
  await page.goto(url);
  await page.locator('input[name=question]').fill('Where did the cat sit?');
  await page.locator('textarea[name=context]').fill('The cat sat on the mat.');
  await page.locator('input[name=key]').fill('wrong');
  await page.getByRole('button', { name: 'Ask' }).click();
  await page.getByRole('alert').filter({ hasText: 'API key' }).waitFor({ timeout: 15_000 });
  await page.locator('input[name=key]').fill('page-key');
  await page.getByRole('button', { name: 'Ask' }).click();
  await page.getByTestId('meta').filter({ hasText: 'score' }).waitFor({ timeout: 15_000 });
  assert.equal(await page.getByRole('alert').textContent(), '');
  await page.close();
});
