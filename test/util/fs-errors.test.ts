/** The one place file-system failures are worded: each errno → a one-line DISK error naming the path and the operation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatUserError, QaFtError } from '../../src/errors.js';
import { fileSystemError, FileSystemError, formatBytes, strayFileSystemError } from '../../src/util/fs-errors.js';

const sysError = (code: string, extra: Record<string, string> = {}): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: something, write`), { code, ...extra });

function mapped(code: string, bytes?: number): FileSystemError {
  const e = fileSystemError(sysError(code), {
    path: '/x/checkpoint-16/model.safetensors',
    operation: 'write',
    ...(bytes === undefined ? {} : { bytes }),
  });
  assert.ok(e instanceof FileSystemError, `${code} should map to a FileSystemError`);
  assert.equal(e.code, 'DISK');
  assert.doesNotMatch(formatUserError(e), /\n/);
  return e;
}

test('ENOSPC → "no space left on device" with roughly how much the write needed', () => {
  const e = mapped('ENOSPC', 264 * 2 ** 20);
  assert.equal(
    e.message,
    'cannot write /x/checkpoint-16/model.safetensors: no space left on device (the write needed about 264 MiB)',
  );
  assert.match(e.hint ?? '', /free some space/);
  assert.equal(mapped('ENOSPC').message, 'cannot write /x/checkpoint-16/model.safetensors: no space left on device');
});

test('EDQUOT (a full quota) also says how much the write needed; a lower bound says "at least"', () => {
  assert.match(
    mapped('EDQUOT', 3 * 2 ** 30).message,
    /: disk quota exceeded \(EDQUOT\) \(the write needed about 3\.0 GiB\)$/,
  );
  const atLeast = fileSystemError(sysError('ENOSPC'), {
    path: '/x',
    operation: 'write',
    bytes: 12 * 2 ** 20,
    bytesAtLeast: true,
  });
  assert.match((atLeast as Error).message, /\(the write needed at least 12 MiB\)$/);
});

test('each other errno the environment causes has its own words, and the size only matters for a full disk', () => {
  const words: Record<string, RegExp> = {
    EACCES: /: permission denied \(EACCES\)$/,
    EPERM: /: operation not permitted \(EPERM\)$/,
    EROFS: /: read-only file system \(EROFS\)$/,
    EISDIR: /: is a directory \(EISDIR\)$/,
    ENOTDIR: /: a parent is not a directory \(ENOTDIR\)$/,
    EMFILE: /: too many open files \(EMFILE\)$/,
    ENFILE: /: too many open files in the system \(ENFILE\)$/,
    EIO: /: input\/output error \(EIO\)$/,
  };
  for (const [code, message] of Object.entries(words)) {
    const e = mapped(code, 1000);
    assert.match(e.message, /^cannot write \/x\/checkpoint-16\/model\.safetensors: /, code);
    assert.match(e.message, message, code);
    assert.ok((e.hint ?? '').length > 0, `${code} has a hint`);
    assert.equal(e.errno, code);
  }
  assert.match(mapped('EXDEV').message, /: EXDEV: EXDEV: something, write$/); // unknown codes keep the system's words
});

test('the operation is named: create directory, append to, rename into place', () => {
  const e = fileSystemError(sysError('EROFS'), { path: '/ro/out', operation: 'create directory' }) as Error;
  assert.equal(e.message, 'cannot create directory /ro/out: read-only file system (EROFS)');
  assert.match(
    (fileSystemError(sysError('ENOSPC'), { path: '/o/metrics.jsonl', operation: 'append to', bytes: 120 }) as Error)
      .message,
    /^cannot append to \/o\/metrics\.jsonl: no space left on device \(the write needed about 120 bytes\)$/,
  );
});

test('a bug (no errno) and an already typed error pass through unchanged', () => {
  const bug = new TypeError('x is undefined');
  assert.equal(fileSystemError(bug, { path: '/x', operation: 'write' }), bug);
  const typed = new QaFtError('BAD_DATA', 'bad');
  assert.equal(fileSystemError(typed, { path: '/x', operation: 'write' }), typed);
});

test('a system error that reached the CLI without context still becomes a DISK error (path from the error, else "a file")', () => {
  assert.equal(strayFileSystemError(sysError('ENOSPC'))?.message, 'cannot write a file: no space left on device');
  assert.equal(
    strayFileSystemError(sysError('EACCES', { path: '/o/tokenizer.json', syscall: 'open' }))?.message,
    'cannot write /o/tokenizer.json: permission denied (EACCES)',
  );
  assert.equal(
    strayFileSystemError(sysError('EROFS', { path: '/o/a', syscall: 'mkdir' }))?.message,
    'cannot create directory /o/a: read-only file system (EROFS)',
  );
  assert.equal(strayFileSystemError(sysError('ENOENT')), undefined); // more likely a bug than the environment
  assert.equal(strayFileSystemError(new Error('plain')), undefined);
});

test('sizes read as a person would say them', () => {
  assert.equal(formatBytes(300), '300 bytes');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(264 * 2 ** 20), '264 MiB');
  assert.equal(formatBytes(2.5 * 2 ** 30), '2.5 GiB');
});
