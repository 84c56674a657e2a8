// Every error status of the server, each a JSON {"error"} (one server per option set, in process), and the server
// still answering after each: 400, 401, 404, 413, 422, 503; CORS only when asked; a slow client is cut off.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { BatchingAnswerer } from '../../src/infer/batching.js';
import type { QaServer } from '../../src/serve/server.js';
import { fixtureServer } from './helpers.js';

const GOOD = { inputs: { question: 'Where did the cat sit?', context: 'The cat sat on the mat.' } };

function isJsonError(r: { headers: Record<string, unknown>; body: string }): string {
  assert.match(String(r.headers['content-type']), /^application\/json/);
  const body = JSON.parse(r.body) as { error?: unknown };
  assert.equal(typeof body.error, 'string', r.body);
  assert.deepEqual(Object.keys(body), ['error']);
  return body.error as string;
}

describe('without a key', () => {
  let server: QaServer;
  let answerer: BatchingAnswerer;
  before(async () => ({ server, answerer } = await fixtureServer({ maxBodyBytes: 2048 })));
  after(async () => {
    await server.drain();
    await answerer.close();
  });
  const post = (payload: string, contentType = 'application/json') =>
    server.app.inject({ method: 'POST', url: '/', payload, headers: { 'content-type': contentType } });

  test('400: malformed JSON, and fields of the wrong type', async () => {
    const cases: [string, RegExp][] = [
      ['{"inputs":', /JSON/],
      ['[1, 2]', /the body must be object/],
      ['"text"', /the body must be object/],
      ['{"inputs": "just a string"}', /inputs must be object or array/],
      ['{"inputs": {"question": 5, "context": "c"}}', /inputs\.question must be string/],
      ['{"inputs": [{"question": "q", "context": null}]}', /inputs\[0\]\.context must be string/],
      ['{"inputs": {"question": "q", "context": "c"}, "parameters": {"top_k": "3"}}', /top_k must be integer/],
      ['{"inputs": {"question": "q", "context": "c"}, "parameters": {"top_k": 2.5}}', /top_k must be integer/],
      [
        '{"inputs": {"question": "q", "context": "c"}, "parameters": {"handle_impossible_answer": "yes"}}',
        /handle_impossible_answer must be boolean/,
      ],
      ['{"inputs": {"question": "q", "context": "c"}, "parameters": []}', /parameters must be object/],
      ['{"__proto__": {"x": 1}, "inputs": {"question": "q", "context": "c"}}', /./],
    ];
    for (const [payload, message] of cases) {
      const r = await post(payload);
      assert.equal(r.statusCode, 400, `${payload}: ${r.body}`);
      assert.match(isJsonError(r), message, payload);
    }
  });

  test('422: missing, empty or blank fields and values out of range', async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /inputs is missing/],
      [{ inputs: {} }, /inputs\.question is missing/],
      [{ inputs: { question: 'q' } }, /inputs\.context is missing/],
      [{ inputs: { question: '', context: 'c' } }, /inputs\.question is empty/],
      [{ inputs: { question: 'q', context: ' \n\t ' } }, /inputs\.context is blank/],
      [{ inputs: [] }, /inputs is an empty list/],
      [{ inputs: [GOOD.inputs, { question: 'q' }] }, /inputs\[1\]\.context is missing/],
      [{ ...GOOD, parameters: { top_k: 0 } }, /top_k must be ≥ 1/],
      [{ ...GOOD, parameters: { max_answer_len: 0 } }, /max_answer_len must be ≥ 1/],
      [
        { ...GOOD, parameters: { doc_stride: 50, max_seq_len: 40 } },
        /doc_stride \(50\) is larger than max_seq_len \(40\)/,
      ],
      [
        { inputs: { question: 'why '.repeat(20), context: 'c '.repeat(50) }, parameters: { max_seq_len: 16 } },
        /no window can hold the context/,
      ],
      [{ ...GOOD, parameters: { max_seq_len: 600 } }, /./], // fits 512 positions? the context is short: allowed (see next test)
    ];
    for (const [body, message] of cases.slice(0, -1)) {
      const r = await post(JSON.stringify(body));
      assert.equal(r.statusCode, 422, `${JSON.stringify(body)}: ${r.body}`);
      assert.match(isJsonError(r), message, JSON.stringify(body));
    }
  });

  test("a max_seq_len above the model's positions is fine until a window is longer than the positions (as in the pipeline)", async () => {
    assert.equal((await post(JSON.stringify({ ...GOOD, parameters: { max_seq_len: 600 } }))).statusCode, 200);
    const long = {
      inputs: { question: 'q', context: 'abc '.repeat(300) },
      parameters: { max_seq_len: 600, doc_stride: 10 },
    };
    const r = await post(JSON.stringify(long));
    assert.equal(r.statusCode, 422, r.body);
    assert.match(isJsonError(r), /exceeds the model's 512 positions/);
  });

  test('413: a body over --max-body-bytes', async () => {
    const r = await post(JSON.stringify({ inputs: { question: 'q', context: 'x'.repeat(4096) } }));
    assert.equal(r.statusCode, 413, r.body);
    assert.match(isJsonError(r), /over the limit of 2048 bytes/);
  });

  test('404: any other path or method, and no file is served from a path', async () => {
    for (const [method, url] of [
      ['GET', '/etc/passwd'],
      ['GET', '/../../package.json'],
      ['GET', '/%2e%2e/%2e%2e/package.json'],
      ['GET', '/index.html'],
      ['PUT', '/'],
      ['DELETE', '/'],
      ['POST', '/health'],
      ['GET', '/static/app.js'],
    ] as const) {
      const r = await server.app.inject({ method, url });
      assert.equal(r.statusCode, 404, `${method} ${url}: ${r.body}`);
      isJsonError(r);
      assert.doesNotMatch(r.body, /"name":\s*"qa-ft"|root:/);
    }
  });

  test('any content type is read as JSON (curl -d sends form-urlencoded), and no CORS header is sent', async () => {
    const r = await post(JSON.stringify(GOOD), 'application/x-www-form-urlencoded');
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    const pre = await server.app.inject({
      method: 'OPTIONS',
      url: '/',
      headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
  });

  test('/health, /openapi.json and the metrics of the requests so far', async () => {
    assert.deepEqual((await server.app.inject({ url: '/health' })).json(), { status: 'ok' });
    const doc = (await server.app.inject({ url: '/openapi.json' })).json() as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.paths).sort(), ['/', '/health', '/metrics', '/openapi.json']);
    const metrics = (await server.app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /qaft_http_requests_total\{route="\/",method="POST",status="400"\} 11/);
    assert.match(metrics, /qaft_http_requests_total\{route="\/",method="POST",status="413"\} 1/);
    assert.match(metrics, /qaft_http_requests_total\{route="unmatched",method="GET",status="404"\} \d/);
    assert.match(metrics, /qaft_http_request_duration_seconds_bucket\{le="0.005",route="\/"\}/);
    assert.match(metrics, /qaft_batch_windows_bucket\{le="1"\} [1-9]/);
  });
});

describe('with a key', () => {
  let server: QaServer;
  let answerer: BatchingAnswerer;
  before(async () => ({ server, answerer } = await fixtureServer({ apiKey: 's3cret-key' })));
  after(async () => {
    await server.drain();
    await answerer.close();
  });
  const post = (headers: Record<string, string>) =>
    server.app.inject({ method: 'POST', url: '/', payload: GOOD, headers });

  test('401 without the key or with a wrong one, before the body is read; 200 with it', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: 's3cret-key' },
      { authorization: 'Bearer s3cret-key2' },
      { authorization: 'Bearer ' },
      { authorization: 'Basic s3cret-key' },
    ] as Record<string, string>[]) {
      const r = await post(headers);
      assert.equal(r.statusCode, 401, JSON.stringify(headers));
      assert.match(isJsonError(r), /API key/);
      assert.equal(r.headers['www-authenticate'], 'Bearer');
    }
    const big = await server.app.inject({
      method: 'POST',
      url: '/',
      payload: 'x'.repeat(10 * 1024 * 1024),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(big.statusCode, 401);
    assert.equal((await post({ authorization: 'Bearer s3cret-key' })).statusCode, 200);
  });

  test('the page, health and metrics stay open; the page asks for the key and does not hold it', async () => {
    const page = await server.app.inject({ url: '/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /name="key" type="password"/);
    assert.doesNotMatch(page.body, /s3cret-key/);
    assert.equal((await server.app.inject({ url: '/health' })).statusCode, 200);
    assert.equal((await server.app.inject({ url: '/metrics' })).statusCode, 200);
  });
});

describe('options', () => {
  test('--cors-origin allows that origin only', async () => {
    const { server, answerer } = await fixtureServer({ corsOrigin: 'https://app.example' });
    try {
      const r = await server.app.inject({
        method: 'POST',
        url: '/',
        payload: GOOD,
        headers: { origin: 'https://app.example' },
      });
      assert.equal(r.headers['access-control-allow-origin'], 'https://app.example');
    } finally {
      await server.drain();
      await answerer.close();
    }
  });

  test('503 {"error"} and /health 503 while draining; requests in flight finish', async () => {
    const { server, answerer } = await fixtureServer({}, { maxWaitMs: 200 }); // the first request waits in the queue
    const url = await server.listen('127.0.0.1', 0);
    const inFlight = fetch(url, {
      method: 'POST',
      body: JSON.stringify(GOOD),
      headers: { 'content-type': 'application/json' },
    });
    while (answerer.inFlight === 0) await new Promise((r) => setTimeout(r, 5));
    const drained = server.drain();
    const health = await server.app.inject({ url: '/health' });
    assert.equal(health.statusCode, 503);
    assert.match(isJsonError(health), /draining/);
    const late = await server.app.inject({ method: 'POST', url: '/', payload: GOOD });
    assert.equal(late.statusCode, 503);
    const r = await inFlight;
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { answer: string }).answer.length > 0, true);
    await drained;
    await answerer.close();
  });

  test('a client that sends its headers too slowly is cut off, and the server goes on answering', async () => {
    const { server, answerer } = await fixtureServer({ requestTimeoutMs: 400 });
    const url = new URL(await server.listen('127.0.0.1', 0));
    try {
      const t0 = Date.now();
      const closedAfter = await new Promise<number>((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname, () => socket.write('POST / HTTP/1.1\r\nHost: x\r\n')); // never finishes
        socket.on('data', () => undefined);
        socket.on('close', () => resolve(Date.now() - t0));
        socket.on('error', reject);
      });
      assert.ok(closedAfter < 3000, `closed after ${closedAfter} ms`);
      const slowBody = await new Promise<string>((resolve, reject) => {
        let got = '';
        const socket = connect(Number(url.port), url.hostname, () =>
          socket.write(
            'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"inputs"',
          ),
        );
        socket.on('data', (d) => (got += d.toString()));
        socket.on('close', () => resolve(got));
        socket.on('error', reject);
      });
      assert.match(slowBody, /^HTTP\/1\.1 408/);
      const ok = await fetch(url, {
        method: 'POST',
        body: JSON.stringify(GOOD),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(ok.status, 200);
    } finally {
      await server.drain();
      await answerer.close();
    }
  });
});
