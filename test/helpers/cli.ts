/** Runs the real CLI in a child process, as a user would, and captures what it prints. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** `../shared` beside the clone (read-only data, fixtures and the real tokenizer). */
export const sharedDir = resolve(repoRoot, '..', 'shared');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `input`: stdin, as text (written as UTF-8) or as raw bytes. */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string | Uint8Array; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    // tsx resolved from this repo, so the CLI also runs from a working directory outside it
    const child = spawn(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src', 'cli.ts'), ...args],
      {
        cwd: options.cwd ?? repoRoot,
        env: { ...process.env, CI: '1', ...options.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** A fresh temporary directory, removed by the returned cleanup function. */
export async function makeTempDir(prefix = 'qa-ft-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
