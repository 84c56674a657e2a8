/** The public library API of qa-ft (`import { … } from 'qa-ft'`). */
export { QaFtError, isQaFtError } from './errors.js';
// EXPORTS-BEGIN
export { squadMetrics, normalizeAnswer, type SquadMetrics } from './infer/squad-metric.js';
export { evaluateModel, type EvaluateOptions, type EvaluateResult, type NBestEntry } from './infer/evaluate.js';
export { answerQuestions, type AskItem, type Answer, type AnswerOptions, type Strategy } from './infer/answer.js';
export { loadQaModel, createRandomQaModel, type LoadOptions } from './model/qa-model.js';
export { parseDistilBertConfig, loadConfig, configToJson, type DistilBertConfig } from './model/config.js';
export { readSafetensors, writeSafetensors, SafetensorsFile, type HostTensor, type SafetensorsContents, type TensorSource } from './model/safetensors.js';
export { selectBackend, type BackendChoice } from './model/backend.js';
export type { QaModel, BackendName, ForwardOutput } from './model/types.js';
// EXPORTS-END
