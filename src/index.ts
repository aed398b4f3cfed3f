/**
 * mergelens library API. The CLI, HTML report and dashboard are thin shells over these exports.
 */
export * from './types.js';
export * from './errors.js';
export { memoryCheckpoint } from './checkpoint/memory.js';
export { stderrProgress, formatBytes, formatProgress } from './util/progress.js';
export { writeFileAtomic } from './util/atomic.js';
export { SafetensorsFile, parseSafetensorsBuffer } from './safetensors/reader.js';
export { parseHeader, parseHeaderLength, encodeHeader, numelOf, MAX_HEADER_BYTES, type HeaderEntry, type SafetensorsHeader } from './safetensors/header.js';
export { writeSafetensors, createCheckpointWriter, type CheckpointWriter, type CheckpointWriterOptions, type WriteSpec, type WriteTensor } from './safetensors/writer.js';
export { decodeToFloat32, decodeToFloat64, encodeFloats, requireFloatDType, isFloatDType, FLOAT_DTYPE_BYTES, DTYPE_BITS } from './safetensors/dtype.js';
export { openCheckpoint, openCheckpoints } from './checkpoint/open.js';
export { SafetensorsCheckpoint } from './checkpoint/files.js';
export { openSharded, readShardIndex } from './checkpoint/sharded.js';
export { LoraAdapterCheckpoint, openLoraAdapter, matchPatternKey } from './checkpoint/lora.js';
export { isLora, denseDeltaRows, loraGramInner, loraFrobeniusNorm } from './checkpoint/lowrank.js';
export { fingerprintCheckpoint, checkpointFiles } from './checkpoint/fingerprint.js';
export { getMethod, listMethods, resolveParams } from './merge/registry.js';
export { planMerge, type MergeOptions, type MergePlan, type TensorPlan, type ExpertSource } from './merge/plan.js';
export { mergeStream, streamPlan, type MergedTensor } from './merge/stream.js';
export { mergeToDisk, MERGE_RECORD, type MergeToDiskOptions, type MergeResult, type MergeRecord } from './merge/to-disk.js';
export { parseMergeConfig, loadMergeConfig, type MergeConfig } from './merge/config.js';
export { tensorRandom } from './merge/random.js';
