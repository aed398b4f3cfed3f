/**
 * mergelens library API. The CLI, HTML report and dashboard are thin shells over these exports.
 */
export * from './types.js';
export * from './errors.js';
export { memoryCheckpoint } from './checkpoint/memory.js';
export { stderrProgress, formatBytes, formatProgress } from './util/progress.js';
export { writeFileAtomic } from './util/atomic.js';
