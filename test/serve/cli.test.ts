// `qa-ft serve` as a user runs it (a child process): prints its URL on 127.0.0.1, survives a soak of mixed good and
// bad requests with its memory flat, and on SIGTERM answers every request in flight before exiting 0.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/cli.js';
import { FIXTURE_MODEL } from './helpers.js';

interface Served {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function serve(args: string[]): Promise<Served> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      join(repoRoot, 'src', 'cli.ts'),
      'serve',
      '--model',
      FIXTURE_MODEL,
      '--port',
      '0',
      '--backend',
      'cpu',
      ...args,
    ],
    {
      cwd: repoRoot,
      env: { ...process.env, CI: '1' },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`serve exited ${code} before listening: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr, exited };
}

const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

async function rss(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^qaft_process_resident_memory_bytes (\d+)/m.exec(text);
  assert.ok(m, 'no resident memory metric');
  return Number(m[1]);
}

const CONTEXT = 'The Domesday Book was compiled in 1086 to record land and livestock across England. ';

test('prints the URL on 127.0.0.1, and SIGTERM answers every request in flight, 503s new ones, then exits 0', async () => {
  const s = await serve(['--max-wait-ms', '800']); // requests sit in the batch queue: in flight when the signal comes
  try {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const inFlight = Array.from({ length: 6 }, (_, i) =>
      post(
        s.url,
        JSON.stringify({ inputs: { question: `When was it compiled ${i}?`, context: CONTEXT.repeat(i + 1) } }),
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    s.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const health = await fetch(`${s.url}/health`);
    assert.equal(health.status, 503);
    const late = await post(s.url, JSON.stringify({ inputs: { question: 'q', context: 'c' } }));
    assert.equal(late.status, 503);
    assert.match(((await late.json()) as { error: string }).error, /draining/);
    for (const r of await Promise.all(inFlight)) {
      assert.equal(r.status, 200);
      assert.equal(typeof ((await r.json()) as { answer: string }).answer, 'string');
    }
    assert.equal(await s.exited, 0, s.stderr());
    assert.match(s.stderr(), /SIGTERM: draining \(\d+ in flight\)/);
    await assert.rejects(fetch(`${s.url}/health`)); // no longer listening
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('a soak of 400 mixed good and bad requests, 16 at a time: every status as expected, the server alive, RSS flat', async () => {
  const s = await serve(['--api-key', 'k', '--max-body-bytes', '65536']);
  const auth = { authorization: 'Bearer k' };
  const kinds: [string, () => Promise<Response>, number][] = [
    [
      'good',
      () =>
        post(s.url, JSON.stringify({ inputs: { question: 'When was the book compiled?', context: CONTEXT } }), auth),
      200,
    ],
    [
      'list',
      () =>
        post(
          s.url,
          JSON.stringify({
            inputs: [
              { question: 'What was recorded?', context: CONTEXT },
              { question: 'Where?', context: CONTEXT.repeat(3) },
            ],
            parameters: { top_k: 3 },
          }),
          auth,
        ),
      200,
    ],
    [
      'long',
      () =>
        post(
          s.url,
          JSON.stringify({
            inputs: { question: 'What?', context: CONTEXT.repeat(12) },
            parameters: { max_seq_len: 128, doc_stride: 32 },
          }),
          auth,
        ),
      200,
    ],
    ['no key', () => post(s.url, JSON.stringify({ inputs: { question: 'q', context: 'c' } })), 401],
    ['bad json', () => post(s.url, '{"inputs": [', auth), 400],
    ['wrong type', () => post(s.url, JSON.stringify({ inputs: { question: ['q'], context: 'c' } }), auth), 400],
    ['empty', () => post(s.url, JSON.stringify({ inputs: { question: '', context: 'c' } }), auth), 422],
    [
      'too big',
      () => post(s.url, JSON.stringify({ inputs: { question: 'q', context: 'x'.repeat(70_000) } }), auth),
      413,
    ],
    ['no route', () => fetch(`${s.url}/../../etc/passwd`), 404],
    ['health', () => fetch(`${s.url}/health`), 200],
  ];
  const round = async (n: number): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        const [name, send, status] = kinds[i % kinds.length]!;
        const r = await send();
        const body = await r.text();
        assert.equal(r.status, status, `${name}: ${body}`);
        assert.doesNotThrow(() => JSON.parse(body), `${name}: ${body}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  };
  try {
    await round(100); // warm-up: code paths compiled, pools filled
    const before = await rss(s.url);
    await round(300);
    const afterRss = await rss(s.url);
    assert.ok(
      afterRss - before < 40 * 1024 * 1024,
      `RSS grew ${((afterRss - before) / 2 ** 20).toFixed(1)} MiB over 300 requests`,
    );
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /qaft_http_requests_total\{route="\/",method="POST",status="401"\} 40/);
    assert.equal(s.child.exitCode, null);
    s.child.kill('SIGINT');
    assert.equal(await s.exited, 0, s.stderr());
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('a bad option or a busy port is a one-line error, exit 1 or 2', async () => {
  const { runCli } = await import('../helpers/cli.js');
  const bad = await runCli(['serve', '--model', FIXTURE_MODEL, '--port', '70000']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--port must be an integer ≥ 0 and ≤ 65535/);
  const missing = await runCli(['serve', '--model', join(repoRoot, 'no-such-model')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist/);
  const s = await serve([]);
  try {
    const port = new URL(s.url).port;
    const busy = await runCli(['serve', '--model', FIXTURE_MODEL, '--port', port, '--backend', 'cpu']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /already in use/);
    assert.doesNotMatch(busy.stderr, /\n\s+at /);
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
  }
});
