/**
 * `qa-ft serve`: a model behind HTTP — the Hugging Face Inference API's question-answering contract on `POST /`
 * (transformers' pipeline answers, batched across concurrent requests), a page to try it on `GET /`, `/health`,
 * `/metrics`, `/openapi.json` (src/serve). Prints the URL once listening; SIGTERM or SIGINT drains (new requests
 * get 503, those in flight finish) and exits 0; a second signal exits at once.
 */
import { Command } from 'commander';
import { basename, resolve } from 'node:path';
import { QaFtError } from '../errors.js';
import {
  addBackendOption,
  addBf16Option,
  addHubOptions,
  asBackendName,
  DEFAULT_MODEL_DIR,
  flagged,
  flagNames,
  hubResolveOptions,
  parseIntOption,
  parseNumberOption,
  precisionOption,
  resolveModelOption,
  type HubFlags,
} from './options.js';
import { info } from './output.js';

/** Where the API key may come from instead of --api-key (which shows in `ps`). */
export const API_KEY_ENV = 'QAFT_API_KEY';

interface RawServeOptions extends HubFlags {
  model: string;
  host: string;
  port: string;
  apiKey?: string;
  maxBatchSize: string;
  maxWaitMs: string;
  maxBodyBytes: string;
  requestTimeoutMs: string;
  corsOrigin?: string;
  backend: string;
  bf16?: boolean;
  quiet?: boolean;
}

function parseServeOptions(raw: RawServeOptions) {
  const apiKey = raw.apiKey ?? process.env[API_KEY_ENV];
  if (apiKey !== undefined && apiKey.length === 0)
    throw new QaFtError('BAD_ARGUMENT', `the API key is empty`, { hint: `give a key, or unset ${API_KEY_ENV}` });
  if (raw.host.trim() === '') throw new QaFtError('BAD_ARGUMENT', '--host is empty');
  return {
    model: raw.model,
    host: raw.host,
    port: parseNumberOption('--port', raw.port, { int: true, min: 0, max: 65535 }),
    ...(apiKey === undefined ? {} : { apiKey }),
    maxBatchSize: parseIntOption('--max-batch-size', raw.maxBatchSize),
    maxWaitMs: parseNumberOption('--max-wait-ms', raw.maxWaitMs, { min: 0, max: 1000 }),
    maxBodyBytes: parseIntOption('--max-body-bytes', raw.maxBodyBytes),
    requestTimeoutMs: parseIntOption('--request-timeout-ms', raw.requestTimeoutMs),
    ...(raw.corsOrigin === undefined ? {} : { corsOrigin: raw.corsOrigin }),
    backend: asBackendName(raw.backend),
    precision: precisionOption(raw),
    quiet: Boolean(raw.quiet),
    hub: hubResolveOptions(raw),
  };
}

async function run(raw: RawServeOptions): Promise<void> {
  const o = parseServeOptions(raw);
  const [{ BatchingAnswerer }, { createQaServer }] = await Promise.all([
    import('../infer/batching.js'),
    import('../serve/server.js'),
  ]);
  const dir = await resolveModelOption(o.model, o.hub);
  const answerer = await BatchingAnswerer.open(dir, {
    backend: o.backend,
    precision: o.precision,
    maxBatchSize: o.maxBatchSize,
    maxWaitMs: o.maxWaitMs,
    ...(o.quiet ? {} : { onNotice: info }),
  });
  const server = await createQaServer(answerer, {
    ...(o.apiKey === undefined ? {} : { apiKey: o.apiKey }),
    maxBodyBytes: o.maxBodyBytes,
    requestTimeoutMs: o.requestTimeoutMs,
    ...(o.corsOrigin === undefined ? {} : { corsOrigin: o.corsOrigin }),
    modelName: basename(resolve(dir)),
    version: '0.1.0',
    onInternalError: (e) =>
      process.stderr.write(
        `qa-ft: internal error (please report): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
      ),
  });
  let url: string;
  try {
    url = await server.listen(o.host, o.port);
  } catch (e) {
    await answerer.close();
    const code = (e as { code?: string }).code;
    if (code === 'EADDRINUSE')
      throw new QaFtError('BAD_ARGUMENT', `${o.host}:${o.port} is already in use`, {
        hint: 'choose another --port (0 picks a free one)',
      });
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
      throw new QaFtError('BAD_ARGUMENT', `cannot listen on --host ${o.host}: no such local address`);
    if (code === 'EACCES')
      throw new QaFtError('BAD_ARGUMENT', `not allowed to listen on port ${o.port}`, {
        hint: 'ports below 1024 need privileges: choose another --port',
      });
    throw e;
  }
  process.stdout.write(`qa-ft serve: listening on ${url}\n`);
  if (!o.quiet) {
    info(
      `model ${dir} on ${answerer.model.backend}; batches of up to ${o.maxBatchSize} windows, ${o.maxWaitMs} ms wait${o.apiKey === undefined ? '' : '; API key required'}`,
    );
  }
  await new Promise<void>((done) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.once('SIGTERM', () => process.exit(143));
      process.once('SIGINT', () => process.exit(130));
      if (!o.quiet) info(`${signal}: draining (${answerer.inFlight} in flight); a second signal exits at once`);
      void server
        .drain()
        .then(() => answerer.close())
        .then(done, (e: unknown) => {
          process.stderr.write(`qa-ft: error while draining: ${e instanceof Error ? e.message : String(e)}\n`);
          process.exit(1);
        });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  if (!o.quiet) info('drained: every request in flight was answered');
}

/** The library's option fields as this command's flags (the rest are the fields in kebab case). */
const SERVE_FLAGS = flagNames({ precision: '--bf16' });

export function serveCommand(): Command {
  const command = new Command('serve')
    .description(
      "serve a fine-tuned model over HTTP: the Hugging Face Inference API's question-answering contract on POST /, a page on GET /",
    )
    .option('--model <dir>', 'model directory or hub id (the output of `qa-ft train`)', DEFAULT_MODEL_DIR)
    .option('--host <address>', 'address to listen on (0.0.0.0 exposes the server to the network)', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', '8080')
    .option('--api-key <key>', `require Authorization: Bearer <key> on POST / (or set ${API_KEY_ENV})`)
    .option('--max-batch-size <n>', 'most windows per forward pass, across concurrent requests', '32')
    .option(
      '--max-wait-ms <ms>',
      'a batch starts once no request has arrived for this long (at most 20 ms, or this, after its first)',
      '2',
    )
    .option('--max-body-bytes <n>', 'largest request body (413 above)', String(4 * 1024 * 1024))
    .option('--request-timeout-ms <ms>', 'time a client has to send a whole request (headers: at most 10 s)', '30000')
    .option('--cors-origin <origin>', 'allow browser calls from this origin (no CORS by default)')
    .option('--quiet', 'no notes on stderr');
  return addHubOptions(addBf16Option(addBackendOption(command))).action(async (raw: RawServeOptions) => {
    await flagged(SERVE_FLAGS, () => run(raw)); // the library's option fields are this command's flags
  });
}
