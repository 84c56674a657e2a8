/**
 * The HTTP server of `qa-ft serve` on fastify: `POST /` answers with the batching answerer (contract.ts), `GET /`
 * the page (page.ts), `/health`, `/metrics` (prom-client, a registry of its own) and `/openapi.json`. Every error is
 * JSON `{"error"}` with its status; no route serves files. Bounded by a body limit and header/request timeouts (a
 * slow client cannot hold a connection); an API key, when set, is checked in constant time before the body is read.
 * `drain()` turns new requests away with 503 (the load balancer's cue, /health included), lets the ones in flight
 * finish, then stops listening.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import cors from '@fastify/cors';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { isQaFtError } from '../errors.js';
import { pyStrip } from '../util/py-string.js';
import type { BatchingAnswerer } from '../infer/batching.js';
import {
  REQUEST_SCHEMA,
  openApiDocument,
  shapeAnswers,
  toPipelineParameters,
  validationError,
  type QaRequest,
} from './contract.js';
import { PAGE_CSP, renderPage } from './page.js';

export interface QaServerOptions {
  /** Requests must carry `Authorization: Bearer <key>` (POST / only). */
  readonly apiKey?: string;
  /** Largest request body in bytes (default 4 MiB). */
  readonly maxBodyBytes?: number;
  /** Time to receive a whole request, headers and body, in ms (default 30 s); headers alone get at most 10 s. */
  readonly requestTimeoutMs?: number;
  /** An origin allowed to call the API from a browser (CORS); none by default. */
  readonly corsOrigin?: string;
  /** Shown on the page. */
  readonly modelName?: string;
  readonly version?: string;
  /** Called with each request that failed inside (a bug, not a user error). */
  readonly onInternalError?: (e: unknown) => void;
}

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface QaServer {
  readonly app: FastifyInstance;
  /** Listens; resolves to the URL (http://host:port). */
  listen(host: string, port: number): Promise<string>;
  /** 503 to new requests (and /health) while those in flight finish, then stops listening. */
  drain(): Promise<void>;
  readonly draining: boolean;
}

/** Constant-time check of an Authorization header against the key (digests: equal lengths whatever is sent). */
function keyMatches(header: string | undefined, key: string): boolean {
  const sent = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(sent), digest(key)) && sent.length > 0;
}

function metricsOf(registry: Registry) {
  collectDefaultMetrics({ register: registry, prefix: 'qaft_' });
  return {
    requests: new Counter({
      name: 'qaft_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'qaft_http_request_duration_seconds',
      help: 'time from request to response, by route',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'qaft_batch_windows',
      help: 'windows per forward pass',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'qaft_batch_duration_seconds',
      help: 'time of one forward pass',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'qaft_items_in_flight',
      help: 'question/context items being answered',
      registers: [registry],
    }),
  };
}

type Metrics = ReturnType<typeof metricsOf>;

const sendError = (reply: FastifyReply, status: number, message: string): FastifyReply =>
  reply.code(status).type('application/json; charset=utf-8').send({ error: message });

/** The server around an answerer (its forward passes feed the batch histograms). */
export async function createQaServer(answerer: BatchingAnswerer, options: QaServerOptions = {}): Promise<QaServer> {
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const headersTimeout = Math.min(10_000, requestTimeout);
  const app = Fastify({
    bodyLimit: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    requestTimeout,
    // Node checks the header/request timeouts on this period (default 30 s: too coarse for short limits)
    http: {
      headersTimeout,
      requestTimeout,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 2))),
    },
    // longer than a load balancer's idle timeout (60 s on the common ones), so the balancer closes first; a server
    // busy in forward passes for seconds would otherwise race clients reusing a socket it is closing
    keepAliveTimeout: 65_000,
    forceCloseConnections: 'idle',
    return503OnClosing: false, // draining answers its own JSON 503 (onRequest below)
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, allowUnionTypes: true } }, // "3" is not an integer
    logger: false,
  });
  const registry = new Registry();
  const metrics: Metrics = metricsOf(registry);
  let draining = false;
  const keyRequired = options.apiKey !== undefined && options.apiKey !== '';

  if (options.corsOrigin !== undefined)
    await app.register(cors, {
      origin: options.corsOrigin,
      methods: ['GET', 'POST'],
      allowedHeaders: ['Content-Type', 'Authorization'],
    });

  // A body of any content type is read as JSON (curl -d sends form-urlencoded), with fastify's safe parser.
  app.addContentTypeParser('*', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  const started = new WeakMap<object, number>();
  app.addHook('onRequest', async (request, reply) => {
    started.set(request, performance.now());
    if (draining) {
      reply.header('connection', 'close');
      return sendError(reply, 503, 'the server is draining: try another replica');
    }
    if (keyRequired && request.method === 'POST' && !keyMatches(request.headers.authorization, options.apiKey!)) {
      reply.header('www-authenticate', 'Bearer');
      return sendError(reply, 401, 'missing or wrong API key: send Authorization: Bearer <key>');
    }
    return undefined;
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'; // the route's pattern, never the raw path
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    const t0 = started.get(request);
    if (t0 !== undefined) metrics.latency.observe({ route }, (performance.now() - t0) / 1000);
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, `no route ${request.method} ${request.url.split('?')[0]}`),
  );
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error.validation) {
      const { status, message } = validationError(error.validation);
      return sendError(reply, status, message);
    }
    const status = error.statusCode ?? 500;
    if (status === 413)
      return sendError(reply, 413, `request body over the limit of ${app.initialConfig.bodyLimit} bytes`);
    if (status >= 400 && status < 500) return sendError(reply, status, error.message);
    options.onInternalError?.(error);
    return sendError(reply, 500, 'internal error');
  });

  app.get('/health', async (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/metrics', async (_request, reply) => {
    metrics.inFlight.set(answerer.inFlight);
    return reply.type(registry.contentType).send(await registry.metrics());
  });
  app.get('/openapi.json', async (_request, reply) => reply.send(openApiDocument(options.version ?? '0', keyRequired)));
  const page = renderPage({ modelName: options.modelName ?? 'model', keyRequired });
  app.get('/', async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', PAGE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(page),
  );

  app.post('/', { schema: { body: REQUEST_SCHEMA } }, async (request, reply) => {
    const body = request.body as QaRequest;
    const items = Array.isArray(body.inputs) ? body.inputs : [body.inputs];
    for (const [i, item] of items.entries()) {
      const where = Array.isArray(body.inputs) ? `inputs[${i}]` : 'inputs';
      if (pyStrip(item.question) === '') return sendError(reply, 422, `${where}.question is blank`);
      if (pyStrip(item.context) === '') return sendError(reply, 422, `${where}.context is blank`);
    }
    const params = toPipelineParameters(body.parameters);
    try {
      const answers = await Promise.all(
        items.map((item) => answerer.answer({ question: item.question, context: item.context }, params)),
      );
      const shaped = answers.map(shapeAnswers);
      return reply.send(Array.isArray(body.inputs) ? shaped : shaped[0]);
    } catch (e) {
      if (isQaFtError(e) && e.code === 'BAD_ARGUMENT') return sendError(reply, 422, e.message);
      throw e;
    }
  });

  answerer.onBatch((windows, seconds) => {
    metrics.batchSize.observe(windows);
    metrics.batchSeconds.observe(seconds);
  });

  return {
    app,
    async listen(host, port) {
      return app.listen({ host, port });
    },
    get draining() {
      return draining;
    },
    async drain() {
      draining = true;
      // still listening while the answers in flight are computed, so that /health says 503 to the load balancer;
      // then close() stops listening and waits for any request still being received or written
      await answerer.idle();
      await app.close();
      await answerer.idle();
    },
  };
}
