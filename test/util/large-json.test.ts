import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JsonBytesError, parseJsonObjectBytes } from '../../src/util/large-json.js';

const parse = (text: string): unknown => parseJsonObjectBytes(Buffer.from(text, 'utf8'));

test('parses what JSON.parse parses: escapes, backslash runs, nested values, literals, non-ASCII, repeated and __proto__ keys', () => {
  const texts = [
    '{}',
    ' \n{ }\t',
    '{"a":"b"}',
    '{"q\\"1": "say \\"hi\\"", "q2": "ends in a backslash \\\\", "q3": "\\\\\\"", "q4": "\\u00e9t\\u00e9 — 東京"}',
    '{"n": 1.5e3, "t": true, "f": false, "z": null, "neg": -0}',
    '{"o": {"x": [1, {"y": "}]"}], "s": "{["}, "arr": [[], {}], "e": ""}',
    '{"k": "first", "k": "last", "__proto__": "own"}',
    '{\n    "q1": "Denver",\n    "q2": "Panthers"\n}\n',
  ];
  for (const text of texts) {
    const got = parse(text) as Record<string, unknown>;
    const want = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(got, want, text);
    assert.deepEqual(Object.keys(got), Object.keys(want), text);
  }
  assert.equal(Object.getPrototypeOf(parse('{"__proto__": "x"}')), Object.prototype);
});

test('malformed JSON fails with the byte where it went wrong; a non-object says so', () => {
  const cases: Array<[string, RegExp, number]> = [
    ['{"a": "b",}', /expected a string key/, 10],
    ['{"a" "b"}', /expected ':'/, 5],
    ['{"a": "b" "c": 1}', /expected ',' or '}'/, 10],
    ['{"a": "b', /unterminated string/, 6],
    ['{"a": [1, 2}', /unterminated object or array|Unexpected|Expected/, 6],
    ['{"a": tru}', /Unexpected|not valid|Expected/, 6],
    ['{"a": 1} x', /unexpected content after the object/, 9],
    ['["a"]', /expected a JSON object/, 0],
    ['', /expected a JSON object/, 0],
  ];
  for (const [text, message, offset] of cases) {
    assert.throws(
      () => parse(text),
      (e: unknown) => e instanceof JsonBytesError && message.test(e.message) && e.offset === offset,
      text,
    );
  }
});
