/**
 * The batching answerer: answers (question, context) items with the question-answering pipeline's rules
 * (pipeline-qa.ts), the windows of every caller's items that arrive close together going through the model in one
 * forward pass. A pass starts when `maxBatchSize` windows wait, or once no item has arrived for `maxWaitMs` and
 * none is still being tokenized, or when the oldest window has waited GATHER_CAP_MS (or `maxWaitMs` if longer).
 * A pass blocks the thread, so the requests that arrive during one are read together afterwards, tokenized
 * together, and go through the model together; one pass runs at a time, and the windows that queue up meanwhile
 * make the next, gathering afresh from its end (the callers just answered send their next requests then); a batch's
 * windows go through the model in passes of similar lengths (little padding). What `qa-ft serve` runs on; an app can
 * embed it without HTTP:
 *
 *     const answerer = await BatchingAnswerer.open('./qa-ft-model');
 *     const [best] = await answerer.answer({ question, context }, { topK: 1 });
 *
 * Inference only: the model's forward keeps no gradients and disposes its tensors (forward.ts); per window only its
 * logits are held, until its item is answered.
 */
import { QaFtError } from '../errors.js';
import type { QaModel } from '../model/types.js';
import type { QaTokenizer } from '../tokenize/tokenizer.js';
import { windowFeature } from '../tokenize/features.js';
import type { Window } from '../tokenize/windows.js';
import type { Feature } from '../records.js';
import { forwardFeatures } from './forward.js';
import type { AskItem } from './answer.js';
import {
  checkPipelineParameters,
  pipelineAnswers,
  pipelineWindows,
  type PipelineAnswer,
  type PipelineParameters,
} from './pipeline-qa.js';
import { openModelDir } from './model-dir.js';
import type { BackendName, Precision } from '../model/types.js';

export interface BatchingOptions {
  /** Most windows per forward pass (default 32). */
  readonly maxBatchSize?: number;
  /** How long no new item may arrive before a pass starts, in ms (default 2). */
  readonly maxWaitMs?: number;
  /** Called after each forward pass: its windows and how long it took. */
  readonly onBatch?: (windows: number, seconds: number) => void;
}

export const DEFAULT_MAX_BATCH_SIZE = 32;
export const DEFAULT_MAX_WAIT_MS = 2;
/** Longest a window waits for company (items still arriving or being tokenized) before its pass starts, in ms. */
const GATHER_CAP_MS = 20;

interface Pending {
  readonly feature: Feature;
  readonly since: number;
  readonly resolve: (logits: { startLogits: Float32Array; endLogits: Float32Array }) => void;
  readonly reject: (e: unknown) => void;
}

export class BatchingAnswerer {
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
  private readonly queue: Pending[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlightItems = 0;
  /** Items whose windows are being cut (tokenizing): they queue windows soon. */
  private tokenizing = 0;
  /** When the latest item arrived, and when the latest pass ended (performance.now()). */
  private lastArrival = 0;
  private lastPassEnd = 0;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private readonly batchListeners: ((windows: number, seconds: number) => void)[] = [];

  constructor(
    readonly model: QaModel,
    readonly tokenizer: QaTokenizer,
    private readonly options: BatchingOptions = {},
  ) {
    this.maxBatchSize = options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    if (!Number.isInteger(this.maxBatchSize) || this.maxBatchSize < 1) {
      throw new QaFtError('BAD_ARGUMENT', `max batch size must be an integer ≥ 1, got ${this.maxBatchSize}`);
    }
    if (!Number.isFinite(this.maxWaitMs) || this.maxWaitMs < 0)
      throw new QaFtError('BAD_ARGUMENT', `max wait must be ≥ 0 ms, got ${this.maxWaitMs}`);
  }

  /** Opens a model directory (what `qa-ft train` writes) and answers with it; `close()` disposes the model. */
  static async open(
    dir: string,
    options: BatchingOptions & {
      backend?: BackendName;
      precision?: Precision;
      onNotice?: (message: string) => void;
    } = {},
  ): Promise<BatchingAnswerer> {
    const { model, tokenizer } = await openModelDir(dir, options);
    return new BatchingAnswerer(model, tokenizer, options);
  }

  /** Also calls `listener` after each forward pass (windows, seconds), as `options.onBatch` does (metrics). */
  onBatch(listener: (windows: number, seconds: number) => void): void {
    this.batchListeners.push(listener);
  }

  /** Items being answered now (tokenizing, queued or in a forward pass). */
  get inFlight(): number {
    return this.inFlightItems;
  }

  /**
   * The pipeline's answers to one item, best first (at most `topK`; an empty list when the context offers no span).
   * Bad parameters or an input the model cannot take: a QaFtError (BAD_ARGUMENT) naming the problem.
   */
  async answer(item: AskItem, params: PipelineParameters = {}): Promise<PipelineAnswer[]> {
    if (this.closed) throw new QaFtError('INTERRUPTED', 'the answerer is closed');
    this.inFlightItems++;
    try {
      checkPipelineParameters(params);
      this.lastArrival = performance.now();
      this.tokenizing++;
      let windows: Window[];
      try {
        windows = await pipelineWindows(
          this.tokenizer,
          item.question,
          item.context,
          params,
          this.model.config.maxPositionEmbeddings,
        );
      } catch (e) {
        this.tokenizing--;
        this.schedule(); // a pass may have waited for this item
        throw e;
      }
      this.tokenizing--; // in the tick its windows queue: a pass that starts now takes them
      const pending = windows.map((w) => this.enqueue(w));
      this.schedule();
      const logits = await Promise.all(pending);
      return pipelineAnswers(
        item.context,
        windows.map((window, i) => ({ window, ...logits[i]! })),
        this.tokenizer.clsTokenId,
        params,
      );
    } finally {
      this.inFlightItems--;
      if (this.inFlightItems === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** Resolves once nothing is in flight (a draining server waits on it). */
  idle(): Promise<void> {
    if (this.inFlightItems === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Waits for the items in flight, then refuses new ones and disposes the model. */
  async close(): Promise<void> {
    await this.idle();
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.model.dispose();
  }

  private enqueue(window: Window): Promise<{ startLogits: Float32Array; endLogits: Float32Array }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ feature: windowFeature('', window), since: performance.now(), resolve, reject });
    });
  }

  /** Starts a pass now if one is due (see the file comment), else asks again when it will be. */
  private schedule(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.queue.length === 0) return;
    const now = performance.now();
    // windows that queued during a pass gather afresh when it ends: the callers it answered are about to send more
    const gatherFrom = Math.max(this.queue[0]!.since, this.lastPassEnd);
    const capLeft = Math.max(GATHER_CAP_MS, this.maxWaitMs) - (now - gatherFrom);
    const quietLeft =
      this.tokenizing > 0 ? Infinity : this.maxWaitMs - (now - Math.max(this.lastArrival, this.lastPassEnd));
    const due = Math.min(capLeft, quietLeft);
    if (this.queue.length >= this.maxBatchSize || due <= 0) {
      void this.runBatch();
      return;
    }
    this.timer = setTimeout(() => this.schedule(), due);
  }

  private async runBatch(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.queue.splice(0, this.maxBatchSize);
    try {
      for (const group of lengthGroups(batch)) {
        const t0 = performance.now();
        const { logits } = await forwardFeatures(
          this.model,
          group.map((p) => p.feature),
          { batchSize: group.length, withLabels: false },
        );
        const seconds = (performance.now() - t0) / 1000;
        this.options.onBatch?.(group.length, seconds);
        for (const listener of this.batchListeners) listener(group.length, seconds);
        logits.forEach((l, i) => group[i]!.resolve({ startLogits: l.startLogits, endLogits: l.endLogits }));
      }
    } catch (e) {
      for (const p of batch) p.reject(e); // a window already answered ignores this
    } finally {
      this.running = false;
      this.lastPassEnd = performance.now();
      this.schedule();
    }
  }
}

/**
 * What a forward pass costs beyond its padded tokens, in tokens' worth of time: packing the weights, per-kernel
 * dispatch and thread wake-ups, the same for a pass of one window as of many. distilbert-base on the native engine,
 * 2 cores: a pass of B windows of T tokens takes ≈ 40 ms + 0.31 ms × B·T (B 1–16 at T 192), so ≈ 130 tokens.
 */
const PASS_OVERHEAD_TOKENS = 128;

/**
 * The windows of one batch as forward passes of similar lengths, longest first: a pass pads every window to its
 * longest, and SQuAD windows run from ~150 to 384 tokens, so one pass for all would spend much of its time on
 * padding, while a pass per window would pay the per-pass overhead each time. The split of the windows sorted by
 * length that costs least, a pass costing PASS_OVERHEAD_TOKENS + windows × longest (dynamic programming over the
 * split points; batches hold at most a few dozen windows).
 */
export function lengthGroups<T extends { readonly feature: { readonly inputIds: ArrayLike<number> } }>(
  batch: readonly T[],
): T[][] {
  const sorted = [...batch].sort((a, b) => b.feature.inputIds.length - a.feature.inputIds.length);
  const n = sorted.length;
  // best[i]: the least cost of passes for sorted[i..n); cut[i]: where the first of them ends
  const best = new Float64Array(n + 1);
  const cut = new Int32Array(n + 1);
  for (let i = n - 1; i >= 0; i--) {
    best[i] = Infinity;
    const longest = sorted[i]!.feature.inputIds.length;
    for (let j = i + 1; j <= n; j++) {
      const cost = PASS_OVERHEAD_TOKENS + (j - i) * longest + best[j]!;
      if (cost < best[i]!) {
        best[i] = cost;
        cut[i] = j;
      }
    }
  }
  const groups: T[][] = [];
  for (let i = 0; i < n; i = cut[i]!) groups.push(sorted.slice(i, cut[i]));
  return groups;
}
