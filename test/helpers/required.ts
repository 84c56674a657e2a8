/**
 * What must run here: CI sets QAFT_TEST_REQUIRE (e.g. `native,tensorflow,bf16,chromium`), and a listed backend or
 * tool that cannot start fails the test file instead of skipping its tests, so a broken build cannot pass as
 * "skipped". A plain `npm test` requires nothing and skips, saying why.
 */

const required = new Set(
  (process.env.QAFT_TEST_REQUIRE ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''),
);

/** `reason` (why `what`'s tests would skip) passed through, or thrown where `what` is required here. */
export function skipUnlessRequired(what: string, reason: string | undefined): string | undefined {
  if (reason !== undefined && required.has(what)) {
    throw new Error(`${what} is required here (QAFT_TEST_REQUIRE) but cannot run: ${reason}`);
  }
  return reason;
}
