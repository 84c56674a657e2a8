/**
 * Terminal output shared by the commands: progress bars on a TTY, plain lines elsewhere (CI, pipes),
 * and JSON printing. Library code reports progress through callbacks; only commands use this module.
 */
import cliProgress from 'cli-progress';

export interface ProgressReporter {
  /** Starts a phase with a known number of steps. */
  start(label: string, total: number, payload?: Record<string, string | number>): void;
  /** Sets the absolute position within the current phase. */
  update(done: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

export function isInteractive(stream: NodeJS.WriteStream = process.stderr): boolean {
  return Boolean(stream.isTTY) && !process.env.CI;
}

/** Progress on stderr: a redrawn bar on a TTY; otherwise a plain line at most every `plainEveryMs`. */
export function createProgress(
  options: { quiet?: boolean; plainEveryMs?: number; format?: string } = {},
): ProgressReporter {
  if (options.quiet) return { start() {}, update() {}, stop() {} };
  if (isInteractive()) {
    const bar = new cliProgress.SingleBar(
      {
        format: options.format ?? '{label} [{bar}] {value}/{total} {percentage}% | ETA {eta_formatted} {extra}',
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let running = false;
    return {
      start(label, total, payload = {}) {
        if (running) bar.stop();
        bar.start(total, 0, { label, extra: formatPayload(payload) });
        running = true;
      },
      update(done, payload) {
        bar.update(done, payload ? { extra: formatPayload(payload) } : {});
      },
      stop() {
        if (running) bar.stop();
        running = false;
      },
    };
  }
  const every = options.plainEveryMs ?? 10_000;
  let label = '';
  let total = 0;
  let last = 0;
  let startedAt = 0;
  return {
    start(l, t) {
      label = l;
      total = t;
      last = 0;
      startedAt = Date.now();
    },
    update(done, payload = {}) {
      const now = Date.now();
      if (done < total && now - last < every) return;
      last = now;
      const secs = ((now - startedAt) / 1000).toFixed(1);
      process.stderr.write(`${label}: ${done}/${total} (${secs}s) ${formatPayload(payload)}\n`);
    },
    stop() {},
  };
}

function formatPayload(payload: Record<string, string | number>): string {
  return Object.entries(payload)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : v}`)
    .join(' | ');
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) < 1e-3 && v !== 0) return v.toExponential(2);
  return v.toFixed(4);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Informational lines (backend chosen, notices) go to stderr so stdout stays machine-readable. */
export function info(line: string): void {
  process.stderr.write(`${line}\n`);
}
