import type { Checkpoint, InputFingerprint } from '../types.js';
import type { SafetensorsFile } from '../safetensors/reader.js';

/** The files behind a checkpoint opened by `openCheckpoint` (empty for in-memory checkpoints). */
export function checkpointFiles(c: Checkpoint): readonly SafetensorsFile[] {
  const files = (c as { files?: readonly SafetensorsFile[] }).files;
  return Array.isArray(files) ? files : [];
}

/** What a report records about an input: paths, sizes and header hashes of its files. */
export function fingerprintCheckpoint(c: Checkpoint): InputFingerprint {
  return {
    name: c.name,
    path: c.path,
    kind: c.kind,
    files: checkpointFiles(c).map((f) => ({ path: f.path, bytes: f.size, headerSha256: f.headerSha256 })),
  };
}
