// mergelens' WebAssembly kernels (AssemblyScript, compiled with SIMD by `npm run build:wasm`):
// pure numeric code over linear memory that src/wasm/kernels.ts lays out and calls.
export { accumulate, accumulateScratch, streamTaus } from './pairs';
export { sampleAbs, bracketSweep, bracketSpecBytes, histogramSweep, sweepScratch, tauRange, selectAbs, bracketAbs, selectScratch } from './select';
export { mulPanelF32, mulPanelF64, mulTPanelF32, mulTPanelF64, dot64, axpy64 } from './gemm';

/** First free byte after the module's static data: where the TypeScript heap starts. */
export function heapBase(): usize {
  return __heap_base;
}
export { sumF64, countNonFinite } from './stream';
export { gtaCombine, taskVector, countAbove, applyCut } from './gta';
export { mergeRange, mergeScratch, slerpSums, dareDrop, encodeBlock, tiesEqual, mergePart, loraRows } from './merge';
export { attnForward, attnBackward } from './transformer';
