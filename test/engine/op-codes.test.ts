import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OP_CODES, addonPath, loadAddonFile, opCodeMismatch } from '../../src/engine/addon.js';
import { skipUnlessRequired } from '../helpers/required.js';

/** A deep, writable copy of OP_CODES to tamper with. */
function codes(): Record<string, Record<string, number>> {
  return JSON.parse(JSON.stringify(OP_CODES)) as Record<string, Record<string, number>>;
}

describe('the op codes shared with native/kernels.h', () => {
  const built = addonPath();
  const skip = skipUnlessRequired('native', existsSync(built) ? undefined : `no ${built}`) ?? false;

  test("the built addon's codes are addon.ts's, name for name", { skip }, () => {
    const addon = createRequire(import.meta.url)(built) as { opCodes: unknown };
    assert.deepEqual(addon.opCodes, OP_CODES);
    assert.equal(opCodeMismatch(addon.opCodes), undefined);
  });

  test('a changed, missing or unknown code, or none at all, is named', () => {
    assert.equal(opCodeMismatch(codes()), undefined);
    const changed = codes();
    changed['binary']!['Multiply'] = 3;
    assert.equal(opCodeMismatch(changed), 'binary op Multiply is 2 here but 3 in the addon');
    const missing = codes();
    delete missing['unary']!['Floor'];
    assert.equal(opCodeMismatch(missing), 'it has no unary op Floor');
    const extra = codes();
    extra['reduce']!['Prod'] = 4;
    assert.equal(opCodeMismatch(extra), 'it has a reduce op Prod this qa-ft does not know');
    const noKind = codes();
    delete noKind['activation'];
    assert.equal(opCodeMismatch(noKind), 'it has no activation op codes');
    assert.equal(opCodeMismatch(undefined), 'it exports no op codes');
  });

  test('an addon whose codes differ is refused on load with a one-line reason and the rebuild command', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'qaft-opcodes-'));
    try {
      const stale = codes();
      stale['unary']!['Exp'] = 1;
      stale['unary']!['Erf'] = 0;
      const file = path.join(dir, 'stale-addon.cjs'); // require() loads it as it would a .node file
      writeFileSync(file, `module.exports = { opCodes: ${JSON.stringify(stale)} };\n`);
      const r = loadAddonFile(file);
      assert.ok('reason' in r);
      assert.doesNotMatch(r.reason, /\n/);
      assert.match(r.reason, /unary op Exp is 0 here but 1 in the addon/);
      assert.match(r.reason, /npm run build:native/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
