/**
 * Without onnxruntime-node (an optional package), the ONNX engine fails in one line saying what to install. The
 * package is hidden from this test process by a module resolution hook registered before anything imports it.
 */
import assert from 'node:assert/strict';
import { register } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { QaFtError } from '../../src/errors.js';
import { parseDistilBertConfig } from '../../src/model/config.js';
import { openOnnxModel } from '../../src/onnx/session.js';
import { loadFixture } from '../model/tiny-fixture.js';

const HIDE = `export async function resolve(specifier, context, next) {
  if (specifier === 'onnxruntime-node') throw Object.assign(new Error("Cannot find package 'onnxruntime-node'"), { code: 'ERR_MODULE_NOT_FOUND' });
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(HIDE)}`);

test('without onnxruntime-node, opening an ONNX model is a one-line BACKEND_UNAVAILABLE error naming the package', async () => {
  const config = parseDistilBertConfig({}, 'defaults');
  await assert.rejects(openOnnxModel(join(loadFixture('distilbert').dir, 'model.onnx'), config), (e: unknown) => {
    assert.ok(e instanceof QaFtError);
    assert.equal(e.code, 'BACKEND_UNAVAILABLE');
    assert.match(e.message, /^the onnx engine needs onnxruntime-node, which is not installed$/);
    assert.match(e.hint ?? '', /npm install onnxruntime-node/);
    return true;
  });
});
