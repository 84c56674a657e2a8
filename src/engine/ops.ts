/**
 * The engine's ops for src/model and src/train: each runs its kernel where the active backend has one (`native`) and
 * says what happens elsewhere. Apart from src/model/backend-select.ts registering the backend (./index.ts), the model
 * and the trainer reach the engine through this module only; nothing outside src/engine calls the addon.
 */
export { adamwUpdate } from './adamw.js';
export { sumOfSquares } from './sum-of-squares.js';
export { nativeDropoutBackward, nativeDropoutForward } from './dropout.js';
export { nativeGelu } from './gelu.js';
export { nativeAddLayerNorm, nativeAddLayerNormBackward } from './layernorm.js';
export { nativeAttentionProbs, nativeAttentionProbsGrad, type AttentionProbs } from './attention-softmax.js';
// Typed reads of kernel attributes, for the model's gradient functions (src/model/gradients.ts).
export { numberOrListAttr, numbersAttr } from './kernel-args.js';
