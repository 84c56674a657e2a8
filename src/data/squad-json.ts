/**
 * SQuAD v1.1 and 2.0 JSON (`{version, data: [{title, paragraphs: [{context, qas: [{id, question, answers: [{text,
 * answer_start}], is_impossible?, plausible_answers?}]}]}]}`), flattened into one row per question as `datasets`'
 * squad and squad_v2 loaders do (an unanswerable question keeps its empty answers; `plausible_answers` is dropped);
 * and JSON Lines of flat rows, as `Dataset.to_json` writes them.
 */
import { QaFtError } from '../errors.js';
import type { SquadRow } from '../records.js';
import { REQUIRED_COLUMNS, coerceRow, missingColumnError } from './validate.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

export function readJsonRows(text: string, file: string): SquadRow[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return readJsonLines(text, file);
  }
  if (isObject(doc) && 'data' in doc) return flattenSquad(doc, file);
  if (isObject(doc)) return readJsonLines(text, file); // a one-line JSON Lines file
  throw new QaFtError('BAD_FORMAT', `${file}: JSON without a 'data' list`, { hint: 'expected SQuAD v1.1 JSON {data: [{title, paragraphs: [...]}]}' });
}

function flattenSquad(doc: Json, file: string): SquadRow[] {
  const data = doc.data;
  if (!Array.isArray(data)) throw new QaFtError('BAD_FORMAT', `${file}: 'data' must be a list of articles`);
  const rows: SquadRow[] = [];
  data.forEach((article: unknown, a) => {
    const where = `data[${a}]`;
    if (!isObject(article) || !Array.isArray(article.paragraphs)) {
      throw new QaFtError('BAD_FORMAT', `${file}: ${where} must be an object with a 'paragraphs' list`);
    }
    article.paragraphs.forEach((p: unknown, k) => {
      if (!isObject(p) || !Array.isArray(p.qas)) {
        throw new QaFtError('BAD_FORMAT', `${file}: ${where}.paragraphs[${k}] must be an object with 'context' and a 'qas' list`);
      }
      for (const qa of p.qas as unknown[]) {
        const q = isObject(qa) ? qa : {};
        const answers = q.answers;
        rows.push(
          coerceRow(
            {
              id: q.id,
              title: article.title ?? '',
              context: p.context,
              question: q.question,
              is_impossible: q.is_impossible,
              answers: Array.isArray(answers)
                ? {
                    text: answers.map((x: unknown) => (isObject(x) ? x.text : x)),
                    answer_start: answers.map((x: unknown) => (isObject(x) ? x.answer_start : x)),
                  }
                : answers,
            },
            file,
            rows.length,
          ),
        );
      }
    });
  });
  return rows;
}

function readJsonLines(text: string, file: string): SquadRow[] {
  const rows: SquadRow[] = [];
  const lines = text.split('\n');
  lines.forEach((line, n) => {
    if (line.trim() === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      throw new QaFtError('BAD_FORMAT', `${file}: line ${n + 1} is not valid JSON`, {
        hint: 'expected SQuAD v1.1 JSON or JSON Lines of rows',
      });
    }
    if (!isObject(rec)) throw new QaFtError('BAD_FORMAT', `${file}: line ${n + 1} is not a JSON object`);
    if (rows.length === 0) {
      for (const c of REQUIRED_COLUMNS) if (!(c in rec)) throw missingColumnError(file, c, Object.keys(rec));
    }
    rows.push(coerceRow(rec, file, rows.length));
  });
  return rows;
}
