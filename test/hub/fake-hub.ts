/**
 * A stand-in for huggingface.co on 127.0.0.1, serving the hub's URL layout from files a test makes:
 *   HEAD/GET /{repo}/resolve/{rev}/{file}, /datasets/{repo}/resolve/…  (X-Repo-Commit, ETag = git sha1;
 *     LFS files: 302 relative redirect to /cdn/{sha256} with X-Linked-Etag / X-Linked-Size)
 *   GET /cdn/{sha256}                       (Range → 206)
 *   GET /api/{models|datasets}/{repo}/revision/{rev}   ({ sha, siblings }; other branches, e.g. refs/convert/parquet)
 * Errors carry X-Error-Code as the hub's do (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo).
 * Every request is logged; faults (a dropped connection, a stalled body, corrupted bytes) are injected per file,
 * 503 answers for the next requests. `silentServer` accepts connections and never answers.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { QaFtError } from '../../src/errors.js';

export interface FakeFile {
  path: string;
  content: Buffer;
  /** Served like an LFS file: redirect to the CDN path, sha256 ETag. */
  lfs?: boolean;
}

export interface FakeRepo {
  type: 'model' | 'dataset';
  id: string;
  commit: string;
  /** Branches/tags besides `main` (all point at `commit`). */
  tags?: string[];
  files: FakeFile[];
  /** Needs `Authorization: Bearer {FakeHub.token}`. */
  gated?: boolean;
  /** An old name that redirects (relative 307) to `id`, as renamed hub repos do. */
  renamedFrom?: string;
  /** Other branches with their own commit and files (the hub's `refs/convert/parquet` export). */
  branches?: Record<string, { commit: string; files: FakeFile[] }>;
}

export interface LoggedRequest {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

/** Awaits `p`'s rejection: a QaFtError with `code`, a message matching `pattern`, message and hint one line each. */
export async function rejectsWith(p: Promise<unknown>, code: string, pattern: RegExp): Promise<QaFtError> {
  const e = await p.then(
    () => assert.fail('expected an error'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof QaFtError, `expected a QaFtError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  assert.match(e.message, pattern);
  assert.doesNotMatch(`${e.message} ${e.hint ?? ''}`, /\n/);
  return e;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
export const gitSha1 = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
export const fakeCommit = (seed: string): string => createHash('sha1').update(seed).digest('hex');

export class FakeHub {
  readonly requests: LoggedRequest[] = [];
  readonly token = 'hf_fake_token_for_tests';
  /** Repo file paths whose next GET sends half the bytes and then drops the connection. */
  readonly dropNext = new Set<string>();
  /** Repo file paths whose next GET sends half the bytes and then nothing more, keeping the connection open. */
  readonly stallNext = new Set<string>();
  /** Repo file paths served with one byte changed (same length). */
  readonly corrupt = new Set<string>();
  /** How many of the next requests (any URL) are answered 503 Service Unavailable. */
  unavailable = 0;
  private readonly server: Server;
  private readonly byPath = new Map<string, { repo: FakeRepo; file: FakeFile }>();

  constructor(private readonly repos: FakeRepo[]) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.endpoint;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({
      method: req.method ?? '',
      url: url.pathname,
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
    if (this.unavailable > 0) {
      this.unavailable--;
      return end(res, 503, {});
    }
    const path = url.pathname;
    if (path.startsWith('/cdn/')) return this.serveCdn(req, res, path.slice('/cdn/'.length));
    const api = /^\/api\/(models|datasets)\/(.+)\/revision\/([^/]+)$/.exec(path);
    if (api)
      return this.serveInfo(
        req,
        res,
        api[1] === 'datasets' ? 'dataset' : 'model',
        api[2]!,
        decodeURIComponent(api[3]!),
      );
    const type = path.startsWith('/datasets/') ? 'dataset' : 'model';
    const rest = type === 'dataset' ? path.slice('/datasets/'.length) : path.slice(1);
    const at = rest.indexOf('/resolve/');
    if (at < 0) return end(res, 404, { 'x-error-code': 'RepoNotFound' });
    const id = rest.slice(0, at);
    const [rev, ...fileParts] = rest.slice(at + '/resolve/'.length).split('/');
    this.serveResolve(
      req,
      res,
      type,
      id,
      decodeURIComponent(rev ?? ''),
      fileParts.map(decodeURIComponent).join('/'),
      path,
    );
  }

  /** The repo, or an answer already sent (not found, renamed, gated, unknown revision). */
  private findRepo(
    req: IncomingMessage,
    res: ServerResponse,
    type: FakeRepo['type'],
    id: string,
    rev: string,
    path: string,
  ): FakeRepo | undefined {
    const renamed = this.repos.find((r) => r.type === type && r.renamedFrom === id);
    if (renamed) {
      end(res, 307, { location: path.replace(`/${id}/`, `/${renamed.id}/`) });
      return undefined;
    }
    const repo = this.repos.find((r) => r.type === type && r.id === id);
    if (!repo) {
      end(res, 404, { 'x-error-code': 'RepoNotFound' });
      return undefined;
    }
    if (repo.gated && req.headers.authorization !== `Bearer ${this.token}`) {
      end(res, 401, { 'x-error-code': 'GatedRepo' });
      return undefined;
    }
    const branch = Object.entries(repo.branches ?? {}).find(([name, b]) => rev === name || rev === b.commit)?.[1];
    if (branch) return { ...repo, commit: branch.commit, files: branch.files };
    if (rev !== repo.commit && rev !== 'main' && !(repo.tags ?? []).includes(rev)) {
      end(res, 404, { 'x-error-code': 'RevisionNotFound' });
      return undefined;
    }
    return repo;
  }

  private serveInfo(req: IncomingMessage, res: ServerResponse, type: FakeRepo['type'], id: string, rev: string): void {
    const repo = this.findRepo(req, res, type, id, rev, `/api/${type}s/${id}/revision/${rev}`);
    if (!repo) return;
    const body = Buffer.from(
      JSON.stringify({ id: repo.id, sha: repo.commit, siblings: repo.files.map((f) => ({ rfilename: f.path })) }),
    );
    end(res, 200, { 'content-type': 'application/json', 'content-length': String(body.length) }, body);
  }

  private serveResolve(
    req: IncomingMessage,
    res: ServerResponse,
    type: FakeRepo['type'],
    id: string,
    rev: string,
    filePath: string,
    path: string,
  ): void {
    const repo = this.findRepo(req, res, type, id, rev, path);
    if (!repo) return;
    const file = repo.files.find((f) => f.path === filePath);
    if (!file) return end(res, 404, { 'x-error-code': 'EntryNotFound', 'x-repo-commit': repo.commit });
    const common = { 'x-repo-commit': repo.commit };
    if (file.lfs) {
      const sha = sha256(file.content);
      this.byPath.set(sha, { repo, file });
      return end(res, 302, {
        ...common,
        location: `/cdn/${sha}?name=${encodeURIComponent(filePath)}`,
        'x-linked-etag': `"${sha}"`,
        'x-linked-size': String(file.content.length),
        etag: `"${gitSha1(Buffer.from('lfs pointer'))}"`,
      });
    }
    this.sendBytes(req, res, file, { ...common, etag: `"${gitSha1(file.content)}"` });
  }

  private serveCdn(req: IncomingMessage, res: ServerResponse, sha: string): void {
    const found = this.byPath.get(sha);
    if (!found) return end(res, 404, {});
    this.sendBytes(req, res, found.file, { etag: `"${sha}"` });
  }

  private sendBytes(req: IncomingMessage, res: ServerResponse, file: FakeFile, headers: Record<string, string>): void {
    let body = file.content;
    if (this.corrupt.has(file.path)) {
      body = Buffer.from(body);
      body[body.length >> 1] = (body[body.length >> 1]! + 1) & 0xff;
    }
    let status = 200;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      if (start >= body.length) return end(res, 416, { 'content-range': `bytes */${body.length}` });
      headers = { ...headers, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` };
      body = body.subarray(start);
      status = 206;
    }
    headers = { ...headers, 'accept-ranges': 'bytes', 'content-length': String(body.length) };
    if (req.method === 'HEAD') return end(res, status, headers);
    if (this.dropNext.delete(file.path)) {
      res.writeHead(status, headers);
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    if (this.stallNext.delete(file.path)) {
      res.writeHead(status, headers);
      res.write(body.subarray(0, body.length >> 1)); // and no more: the client must give up waiting
      return;
    }
    end(res, status, headers, body);
  }
}

function end(res: ServerResponse, status: number, headers: Record<string, string>, body?: Buffer): void {
  res.writeHead(status, headers);
  res.end(body);
}

/** A server on 127.0.0.1 that accepts connections and never answers (a hung hub or proxy). */
export async function silentServer(): Promise<{
  endpoint: string;
  connections: () => number;
  close: () => Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createTcpServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // the client hanging up is expected
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const HUB_VARS = [
  'HF_ENDPOINT',
  'HF_HOME',
  'HF_HUB_CACHE',
  'HUGGINGFACE_HUB_CACHE',
  'HF_TOKEN',
  'HUGGING_FACE_HUB_TOKEN',
  'HF_TOKEN_PATH',
  'HF_HUB_OFFLINE',
  'HF_HUB_ETAG_TIMEOUT',
  'HF_HUB_DOWNLOAD_TIMEOUT',
];

/** Sets the hub variables for a test (all others cleared); returns the function that restores them. */
export function setHubEnv(vars: Record<string, string>): () => void {
  const saved = new Map(HUB_VARS.map((k) => [k, process.env[k]]));
  for (const k of HUB_VARS) delete process.env[k];
  Object.assign(process.env, vars);
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
