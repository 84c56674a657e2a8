/**
 * Held-out check, step 2 (development only): `qa-ft serve` on dev/heldout.py's model answers its SQuAD pairs as
 * transformers' pipeline did — one request at a time, then 40 at once — and the page in chromium shows the same
 * answers. Prints the counts of exact matches (answer/start/end; score within 1e-4).
 *     node --import tsx dev/heldout.ts OUT_DIR
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { assertSameAnswers } from '../test/serve/helpers.js';

const out = process.argv[2] ?? '/tmp/heldout';
const { cases } = JSON.parse(readFileSync(path.join(out, 'expected.json'), 'utf8')) as {
  cases: { id: string; body: unknown; expected: unknown }[];
};
const child = spawn(
  process.execPath,
  ['--import', 'tsx', 'src/cli.ts', 'serve', '--model', path.join(out, 'model'), '--port', '0', '--quiet'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const url = await new Promise<string>((resolve) => {
  let s = '';
  child.stdout.on('data', (d: Buffer) => {
    s += d.toString();
    const m = /listening on (\S+)/.exec(s);
    if (m) resolve(m[1]!);
  });
});
const ask = async (body: unknown): Promise<unknown> => {
  const r = await fetch(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
  return r.json();
};
const check = (got: unknown[], label: string): void => {
  const bad: string[] = [];
  got.forEach((g, i) => {
    try {
      assertSameAnswers(g, cases[i]!.expected, cases[i]!.id);
    } catch (e) {
      bad.push((e as Error).message);
    }
  });
  console.log(`${label}: ${cases.length - bad.length}/${cases.length} as the pipeline`);
  for (const b of bad.slice(0, 5)) console.log(`  ${b}`);
};
try {
  const one: unknown[] = [];
  let t0 = performance.now();
  for (const c of cases) one.push(await ask(c.body));
  check(one, `one at a time (${((performance.now() - t0) / cases.length).toFixed(1)} ms each)`);
  const many: unknown[] = [];
  t0 = performance.now();
  for (let i = 0; i < cases.length; i += 40)
    many.push(...(await Promise.all(cases.slice(i, i + 40).map((c) => ask(c.body)))));
  check(many, `40 at once (${((performance.now() - t0) / cases.length).toFixed(1)} ms per request)`);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage();
  await page.goto(url);
  let same = 0;
  const plain = cases
    .filter((c) => JSON.stringify((c.body as { parameters: object }).parameters) === '{}')
    .slice(0, 10);
  for (const c of plain) {
    const { question, context } = (c.body as { inputs: { question: string; context: string } }).inputs;
    const expected = (c.expected as { answer: string }).answer;
    await page.locator('input[name=question]').fill(question);
    await page.locator('textarea[name=context]').fill(context);
    await page.getByTestId('answer').evaluate((e) => (e.textContent = ''));
    await page.locator('input[name=question]').press('Enter');
    await page.getByTestId('meta').filter({ hasText: 'score' }).waitFor();
    const shown = await page.getByTestId('answer').textContent();
    const marked = await page.locator('#context-view mark').textContent();
    if (shown === expected && marked === expected) same++;
    else
      console.log(
        `  page: ${c.id} shows ${JSON.stringify(shown)} (marked ${JSON.stringify(marked)}), pipeline ${JSON.stringify(expected)}`,
      );
  }
  console.log(`page in chromium: ${same}/${plain.length} answers shown and highlighted as the pipeline's`);
  await browser.close();
} finally {
  child.kill('SIGTERM');
}
