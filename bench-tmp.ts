import path from 'node:path';
import { openCheckpoint } from './src/checkpoint/open.js';
import { mergeStream } from './src/merge/stream.js';
import { listMethods } from './src/merge/registry.js';
import { defaultZooDir } from './src/study/zoo.js';
const dir = defaultZooDir();
const base = await openCheckpoint(path.join(dir, 'base.safetensors'));
const a = await openCheckpoint(path.join(dir, 'experts/digits.safetensors'));
const b = await openCheckpoint(path.join(dir, 'experts/invert.safetensors'));
for (const m of listMethods()) {
  const t = performance.now();
  for (let k = 0; k < 3; k++) for await (const x of mergeStream(base, [a, b], { method: m.id })) {}
  console.log(m.id, ((performance.now() - t) / 3).toFixed(0), 'ms');
}
import { buildTaskData, getTask } from './src/study/data.js';
import { accuracy, initEncoder, initHead } from './src/study/mlp.js';
import { createRng } from './src/study/rng.js';
for (const id of ['digits', 'invert']) {
  const td = buildTaskData(getTask(id), 1, { train: 2000, test: 500 });
  const r = createRng(1);
  const model = { encoder: initEncoder([784, 256, 128], r), head: initHead(128, 10, r) };
  const t = performance.now();
  for (let k = 0; k < 5; k++) accuracy(model, td.test.x, td.test.y, 500);
  console.log('eval', id, ((performance.now() - t) / 5).toFixed(0), 'ms');
}
