/**
 * Where a backend must run: CI sets QAFT_REQUIRE_BACKENDS (e.g. `native,tensorflow,bf16`), and a listed backend
 * that cannot start fails the test file instead of skipping its tests, so a broken build cannot pass as "skipped".
 */

const required = new Set((process.env.QAFT_REQUIRE_BACKENDS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''));

/** `reason` (why `backend`'s tests would skip) passed through, or thrown where `backend` is required here. */
export function skipUnlessRequired(backend: string, reason: string | undefined): string | undefined {
  if (reason !== undefined && required.has(backend)) {
    throw new Error(`the ${backend} backend is required here (QAFT_REQUIRE_BACKENDS) but cannot run: ${reason}`);
  }
  return reason;
}
