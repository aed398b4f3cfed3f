/**
 * The subspace family's metric ids and default settings, apart from subspace.ts: the engine and
 * finalize need only these, and subspace.ts pulls in the dense linear algebra (ml-matrix, the
 * largest module a metrics worker would otherwise load before any work).
 */
import type { SubspaceOptions } from './subspace.js';

export const DEFAULT_SUBSPACE: SubspaceOptions = { k: 10, spectrumK: 100, exactMaxDim: 512, bottomMaxDim: 512 };

export const SUBSPACE_METRICS = [
  'sv_overlap',
  'left_subspace_overlap',
  'right_subspace_overlap_top',
  'right_subspace_overlap_bottom',
  'interaction_overlap_top',
  'interaction_overlap_bottom',
] as const;
