/** The public library API of qa-ft (`import { … } from 'qa-ft'`). */
export { QaFtError, isQaFtError } from './errors.js';
// EXPORTS-BEGIN
export { squadMetrics, normalizeAnswer, type SquadMetrics } from './infer/squad-metric.js';
export { evaluateModel, type EvaluateOptions, type EvaluateResult, type NBestEntry } from './infer/evaluate.js';
export { answerQuestions, type AskItem, type Answer, type AnswerOptions, type Strategy } from './infer/answer.js';
// EXPORTS-END
