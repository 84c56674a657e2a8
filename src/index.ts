/** The public library API of qa-ft (`import { … } from 'qa-ft'`). */
export { QaFtError, isQaFtError, OptionError, spellOptions, type OptionText } from './errors.js';
export { DEFAULTS } from './defaults.js';
// EXPORTS-BEGIN
export { squadMetrics, normalizeAnswer, type SquadMetrics } from './infer/squad-metric.js';
export { squadV2Metrics, type SquadV2Metrics } from './infer/squad-v2-metric.js';
export { evaluateModel, type EvaluateOptions, type EvaluateResult, type NBestEntry } from './infer/evaluate.js';
export { answerQuestions, type AskItem, type Answer, type AnswerOptions } from './infer/answer.js';
export type { Strategy } from './infer/strategy.js';
export {
  BatchingAnswerer,
  DEFAULT_MAX_BATCH_SIZE,
  DEFAULT_MAX_WAIT_MS,
  type BatchingOptions,
} from './infer/batching.js';
export {
  pipelineAnswers,
  pipelineWindows,
  PIPELINE_DEFAULTS,
  type PipelineAnswer,
  type PipelineParameters,
  type ScoredWindow,
} from './infer/pipeline-qa.js';
export {
  createQaServer,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type QaServer,
  type QaServerOptions,
} from './serve/server.js';
export {
  loadTokenizer,
  type QaTokenizer,
  type TextEncoding,
  type PairEncoding,
  type PairTemplate,
} from './tokenize/tokenizer.js';
export { encodeWindows, cutWindows, type Window, type WindowOptions } from './tokenize/windows.js';
export { answerTokenLabels, type LabelRule, type TokenLabels } from './tokenize/labels.js';
export { prepareFeatures, type FeatureOptions, type FeatureStats, type PreparedFeatures } from './tokenize/features.js';
export {
  makeBatches,
  batchOrder,
  lengthGroupedOrder,
  type BatchOptions,
  type IndexedBatch,
} from './tokenize/batches.js';
export { prepareDataset, type PrepareOptions, type PrepareResult, type PrepareProgress } from './tokenize/pipeline.js';
export type { Feature, QaBatch, SquadRow } from './records.js';
export {
  readSquad,
  readSquadRows,
  detectFormat,
  type FileReadOptions,
  type ReadOptions,
  type ReadResult,
  type SourceFormat,
} from './data/read.js';
export { DEFAULT_COLUMNS, type ColumnOptions } from './data/columns.js';
export { INPUT_FORMATS, type InputFormat } from './data/source-records.js';
export type { RejectedRow } from './data/validate.js';
export { parseSplit, applySplit, splitRange, trainTestSplit, type SplitSpec } from './data/split.js';
export { permutation } from './data/rng.js';
export {
  writePrepared,
  readPrepared,
  readPreparedManifest,
  type PreparedData,
  type PreparedManifest,
} from './tokenize/prepared.js';
export { loadQaModel, createRandomQaModel, type LoadOptions } from './model/qa-model.js';
export {
  parseModelConfig,
  parseDistilBertConfig,
  loadConfig,
  configToJson,
  qaArchitecture,
  MODEL_TYPES,
  type ModelConfig,
  type DistilBertConfig,
} from './model/config.js';
export type { BertLikeConfig } from './model/config-bert.js';
export type { DebertaV2Config } from './model/config-deberta.js';
export {
  readSafetensors,
  writeSafetensors,
  SafetensorsFile,
  type HostTensor,
  type SafetensorsContents,
  type TensorSource,
} from './model/safetensors.js';
export { selectBackend, type BackendChoice } from './model/backend-select.js';
export type { QaModel, BackendName, ForwardOutput, Precision } from './model/types.js';
export {
  createTrainer,
  type Trainer,
  type TrainerOptions,
  type StepResult,
  type TrainerState,
} from './train/trainer.js';
export {
  AdamW,
  isDecayed,
  decaySummary,
  type AdamWOptions,
  type AdamWState,
  type DecaySummary,
} from './train/optimizer.js';
export { learningRateAt, linearScheduleFactor, scheduleFactor } from './train/schedule.js';
export { checkTrainOptions, LR_SCHEDULER_TYPES, TRAIN_NUMBER_RULES, type LrSchedulerType } from './train/options.js';
export { clipCoefficient, globalNorm } from './train/clip.js';
export {
  trainLoop,
  type TrainLoopOptions,
  type TrainEvent,
  type TrainLoopResult,
  type EvalResult as TrainEvalResult,
} from './train/loop.js';
export {
  resolveModel,
  resolveTokenizer,
  resolveDatasetFiles,
  hubSettings,
  type ResolveOptions,
  type DownloadProgress,
  type ProgressCallback,
  type HubSettings,
  type ModelFiles,
} from './hub/index.js';
export { exportModel, type ExportOptions, type ExportResult } from './export/write-export.js';
export { onnxModels, qaGraph, ONNX_DIR, ONNX_FP32_FILE, ONNX_Q8_FILE } from './onnx/model.js';
export { openOnnxModel, openOnnxExport, ONNX_ENGINES, type OnnxQaModel, type OnnxEngine } from './onnx/session.js';
export {
  renderModelCard,
  readTrainingSummary,
  type ModelCardInfo,
  type TrainingSummary,
  type FinalMetrics,
} from './export/model-card.js';
// EXPORTS-END
