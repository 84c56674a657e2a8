/**
 * The HTTP contract of `qa-ft serve`, in one place: the JSON schema of the Hugging Face Inference API's
 * question-answering body (fastify validates requests with it), the mapping of its snake_case parameters to the
 * library's, how a validation failure becomes a status (400 wrong type, 422 missing, empty or out of range), and
 * the OpenAPI document built from the same schemas.
 */
import type { PipelineAnswer, PipelineParameters } from '../infer/pipeline-qa.js';
import { PIPELINE_DEFAULTS } from '../infer/pipeline-qa.js';

const text = (description: string) => ({ type: 'string', minLength: 1, description }) as const;

const ITEM = {
  type: 'object',
  required: ['question', 'context'],
  properties: {
    question: text('the question'),
    context: text('the text that holds the answer (long texts are cut into overlapping windows)'),
  },
} as const;

const PARAMETERS = {
  type: ['object', 'null'],
  description: "the question-answering pipeline's parameters (transformers 4.57); others are ignored",
  properties: {
    top_k: {
      type: 'integer',
      minimum: 1,
      default: PIPELINE_DEFAULTS.topK,
      description: 'answers per question; a list when more than one is found',
    },
    max_answer_len: {
      type: 'integer',
      minimum: 1,
      default: PIPELINE_DEFAULTS.maxAnswerLen,
      description: 'longest answer in tokens',
    },
    doc_stride: {
      type: 'integer',
      minimum: 0,
      description: 'tokens shared by consecutive windows (default min(max_seq_len / 2, 128))',
    },
    max_seq_len: {
      type: 'integer',
      minimum: 1,
      description: "tokens per window (default min(the tokenizer's model_max_length, 384))",
    },
    max_question_len: {
      type: 'integer',
      minimum: 1,
      default: PIPELINE_DEFAULTS.maxQuestionLen,
      description: 'accepted; fast tokenizers ignore it, as in the pipeline',
    },
    handle_impossible_answer: {
      type: 'boolean',
      default: PIPELINE_DEFAULTS.handleImpossibleAnswer,
      description: 'let "" (no answer) compete',
    },
    align_to_words: {
      type: 'boolean',
      default: PIPELINE_DEFAULTS.alignToWords,
      description: 'widen answers to whole words',
    },
  },
} as const;

/** The request body: one {question, context} or a non-empty list of them, and optional parameters. */
export const REQUEST_SCHEMA = {
  type: 'object',
  required: ['inputs'],
  properties: {
    // one schema for both shapes: `required`/`properties` apply to an object, `items`/`minItems` to a list, so
    // each failure names one keyword (a oneOf would report both branches)
    inputs: { ...ITEM, type: ['object', 'array'], items: ITEM, minItems: 1 },
    parameters: PARAMETERS,
  },
} as const;

export interface QaRequest {
  readonly inputs: QaInput | QaInput[];
  readonly parameters?: WireParameters | null;
}

export interface QaInput {
  readonly question: string;
  readonly context: string;
}

interface WireParameters {
  readonly top_k?: number;
  readonly max_answer_len?: number;
  readonly doc_stride?: number;
  readonly max_seq_len?: number;
  readonly max_question_len?: number;
  readonly handle_impossible_answer?: boolean;
  readonly align_to_words?: boolean;
}

/** The library's parameters from the wire's. */
export function toPipelineParameters(p: WireParameters | null | undefined): PipelineParameters {
  const q = p ?? {};
  return {
    ...(q.top_k === undefined ? {} : { topK: q.top_k }),
    ...(q.max_answer_len === undefined ? {} : { maxAnswerLen: q.max_answer_len }),
    ...(q.doc_stride === undefined ? {} : { docStride: q.doc_stride }),
    ...(q.max_seq_len === undefined ? {} : { maxSeqLen: q.max_seq_len }),
    ...(q.max_question_len === undefined ? {} : { maxQuestionLen: q.max_question_len }),
    ...(q.handle_impossible_answer === undefined ? {} : { handleImpossibleAnswer: q.handle_impossible_answer }),
    ...(q.align_to_words === undefined ? {} : { alignToWords: q.align_to_words }),
  };
}

/** One item's answers as the pipeline returns them: the answer alone when there is one, else the list. */
export function shapeAnswers(answers: readonly PipelineAnswer[]): PipelineAnswer | PipelineAnswer[] {
  return answers.length === 1 ? answers[0]! : [...answers];
}

/** Validation keywords that mean "missing, empty or out of range" (422); any other (a wrong type) is 400. */
const UNPROCESSABLE = new Set(['required', 'minLength', 'minItems', 'minimum', 'maximum']);

/** One schema validation error, as Ajv reports it (the fields used here). */
export interface ValidationIssue {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message?: string;
}

/** The status and a one-line message of a failed validation (Ajv stops at the first error). */
export function validationError(errors: readonly ValidationIssue[]): { status: 400 | 422; message: string } {
  const e = errors[0];
  if (e === undefined) return { status: 400, message: 'the body does not match the request schema' };
  const path = e.instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '');
  const name = path === '' ? 'the body' : path;
  const status = UNPROCESSABLE.has(e.keyword) ? 422 : 400;
  switch (e.keyword) {
    case 'required':
      return { status, message: `${path === '' ? '' : `${path}.`}${String(e.params['missingProperty'])} is missing` };
    case 'minLength':
      return { status, message: `${name} is empty` };
    case 'minItems':
      return { status, message: `${name} is an empty list` };
    case 'minimum':
    case 'maximum':
      return { status, message: `${name} must be ${e.keyword === 'minimum' ? '≥' : '≤'} ${String(e.params['limit'])}` };
    case 'type': {
      const t = e.params['type'];
      return { status, message: `${name} must be ${Array.isArray(t) ? t.join(' or ') : String(t)}` };
    }
    default:
      return { status, message: `${name} ${e.message ?? 'is not valid'}` };
  }
}

const ANSWER = {
  type: 'object',
  required: ['answer', 'score', 'start', 'end'],
  properties: {
    answer: { type: 'string' },
    score: {
      type: 'number',
      description: 'start probability × end probability over the window (summed over spans with the same text)',
    },
    start: { type: 'integer', description: 'character offset of the answer in the context (Unicode code points)' },
    end: { type: 'integer', description: 'character offset just past the answer' },
  },
} as const;

const ERROR = { type: 'object', required: ['error'], properties: { error: { type: 'string' } } } as const;

/** The OpenAPI 3.1 document served at /openapi.json. */
export function openApiDocument(version: string, keyRequired: boolean): Record<string, unknown> {
  const one = { oneOf: [ANSWER, { type: 'array', items: ANSWER }] };
  const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ERROR } } });
  return {
    openapi: '3.1.0',
    info: {
      title: 'qa-ft serve',
      version,
      description: "Extractive question answering with the Hugging Face Inference API's contract",
    },
    ...(keyRequired ? { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } } : {}),
    paths: {
      '/': {
        post: {
          summary: 'answer questions about contexts',
          ...(keyRequired ? { security: [{ bearer: [] }] } : {}),
          requestBody: { required: true, content: { 'application/json': { schema: REQUEST_SCHEMA } } },
          responses: {
            200: {
              description:
                'for one input its answer (a list when top_k > 1 finds several); for a list of inputs, a list of those',
              content: { 'application/json': { schema: { oneOf: [one, { type: 'array', items: one }] } } },
            },
            400: errorResponse('malformed JSON or a field of the wrong type'),
            401: errorResponse('missing or wrong API key'),
            413: errorResponse('request body too large'),
            422: errorResponse('a missing or empty field, or a value out of range'),
            503: errorResponse('the server is draining'),
          },
        },
        get: {
          summary: 'a page to try the model',
          responses: { 200: { description: 'HTML', content: { 'text/html': {} } } },
        },
      },
      '/health': {
        get: {
          summary: 'readiness',
          responses: { 200: { description: 'the model is loaded' }, 503: errorResponse('draining') },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          responses: { 200: { description: 'text format 0.0.4', content: { 'text/plain': {} } } },
        },
      },
      '/openapi.json': { get: { summary: 'this document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    },
  };
}
