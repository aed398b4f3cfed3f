// A fast stand-in for a user's evaluation command (plain node, no tsx): reads the model's
// safetensors bytes and writes {"scores": {task: s}} with s a smooth deterministic function of
// the weights, so the same model always gets the same scores and different merges differ.
// usage: node fake-eval.mjs MODEL OUT TASKS   (env FAKE_EVAL_SLEEP_MS delays the write)
import fs from 'node:fs';
import path from 'node:path';

const [model, out, tasks] = process.argv.slice(2);
// A folder: its (first) weights file, model.safetensors or model-00001-of-000NN.safetensors.
const file = fs.statSync(model).isDirectory() ? path.join(model, fs.readdirSync(model).filter((n) => n.endsWith('.safetensors')).sort()[0]) : model;
const buf = fs.readFileSync(file);
const headerLen = Number(buf.readBigUInt64LE(0));
const data = buf.subarray(8 + headerLen);
const f32 = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + (data.length - (data.length % 4))));
const scores = {};
for (const task of tasks.split(',')) {
  let h = 7;
  for (const ch of task) h = (h * 31 + ch.charCodeAt(0)) % 1000003;
  let s = 0;
  for (let i = 0; i < f32.length; i += 7) s += f32[i] * Math.sin((i % 9973) * (h % 97 + 1) * 1e-3);
  scores[task] = 1 / (1 + Math.exp(-s / 10));
}
const write = () => fs.writeFileSync(out, JSON.stringify({ scores }));
const ms = Number(process.env.FAKE_EVAL_SLEEP_MS ?? 0);
if (ms > 0) setTimeout(write, ms);
else write();
