/** The public library API of qa-ft (`import { … } from 'qa-ft'`). */
export { QaFtError, isQaFtError } from './errors.js';
// EXPORTS-BEGIN
// EXPORTS-END
