/**
 * JSON sources as flat records: SQuAD v1.1 and 2.0 JSON (`{version, data: [{title, paragraphs: [{context, qas: [{id,
 * question, answers: [{text, answer_start}], is_impossible?, plausible_answers?}]}]}]}`), flattened into one record
 * per question as `datasets`' squad and squad_v2 loaders do (an unanswerable question keeps its empty answers;
 * `plausible_answers` is dropped); JSON Lines of records (`Dataset.to_json`, `load_dataset("json")`); and a JSON
 * array of records. Each record carries where it came from (`line N` of JSON Lines, 1-based; `row N` otherwise).
 */
import { QaFtError } from '../errors.js';
import type { SourceRecord } from './source-records.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** SQuAD JSON: a top-level object with a `data` list. */
export function isSquadJson(doc: unknown): boolean {
  return isObject(doc) && 'data' in doc;
}

/** The records of SQuAD JSON text (nested articles → paragraphs → questions). */
export function readSquadJsonRecords(text: string, file: string): SourceRecord[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${file}: not valid JSON (${e instanceof Error ? e.message : String(e)})`, {
      hint: 'expected SQuAD v1.1/2.0 JSON {data: [{title, paragraphs: [...]}]}',
    });
  }
  if (!isSquadJson(doc))
    throw new QaFtError('BAD_FORMAT', `${file}: JSON without a 'data' list`, {
      hint: 'expected SQuAD v1.1 JSON {data: [{title, paragraphs: [...]}]}',
    });
  return flattenSquad(doc as Json, file);
}

function flattenSquad(doc: Json, file: string): SourceRecord[] {
  const data = doc.data;
  if (!Array.isArray(data)) throw new QaFtError('BAD_FORMAT', `${file}: 'data' must be a list of articles`);
  const records: SourceRecord[] = [];
  data.forEach((article: unknown, a) => {
    const where = `data[${a}]`;
    if (!isObject(article) || !Array.isArray(article.paragraphs)) {
      throw new QaFtError('BAD_FORMAT', `${file}: ${where} must be an object with a 'paragraphs' list`);
    }
    article.paragraphs.forEach((p: unknown, k) => {
      if (!isObject(p) || !Array.isArray(p.qas)) {
        throw new QaFtError(
          'BAD_FORMAT',
          `${file}: ${where}.paragraphs[${k}] must be an object with 'context' and a 'qas' list`,
        );
      }
      for (const qa of p.qas as unknown[]) {
        const q = isObject(qa) ? qa : {};
        const answers = q.answers;
        const values: Json = {
          id: q.id,
          title: article.title ?? '',
          context: p.context,
          question: q.question,
          answers: Array.isArray(answers)
            ? {
                text: answers.map((x: unknown) => (isObject(x) ? x.text : x)),
                answer_start: answers.map((x: unknown) => (isObject(x) ? x.answer_start : x)),
              }
            : answers,
        };
        if (q.is_impossible !== undefined) values.is_impossible = q.is_impossible;
        records.push({ values, where: `row ${records.length}` });
      }
    });
  });
  return records;
}

/** JSON Lines: one object a line (blank lines skipped), each named by its 1-based line. */
export function readJsonLinesRecords(text: string, file: string): SourceRecord[] {
  const records: SourceRecord[] = [];
  text.split('\n').forEach((line, n) => {
    if (line.trim() === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      throw new QaFtError('BAD_FORMAT', `${file}: line ${n + 1} is not valid JSON`, {
        hint: 'expected JSON Lines: one JSON object a line',
      });
    }
    if (!isObject(rec)) throw new QaFtError('BAD_FORMAT', `${file}: line ${n + 1} is not a JSON object`);
    records.push({ values: rec, where: `line ${n + 1}` });
  });
  return records;
}

/** A JSON array of flat records, each named by its 0-based row. */
export function readJsonArrayRecords(text: string, file: string): SourceRecord[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${file}: not valid JSON (${e instanceof Error ? e.message : String(e)})`, {
      hint: 'expected a JSON array of records',
    });
  }
  if (!Array.isArray(doc))
    throw new QaFtError(
      'BAD_FORMAT',
      `${file}: expected a JSON array of records, got ${isObject(doc) ? 'an object' : typeof doc}`,
    );
  return doc.map((rec: unknown, i) => {
    if (!isObject(rec)) throw new QaFtError('BAD_FORMAT', `${file}: row ${i} of the JSON array is not an object`);
    return { values: rec, where: `row ${i}` };
  });
}
