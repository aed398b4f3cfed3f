import { runStudy } from './src/study/run.js';
import { stderrProgress } from './src/util/progress.js';
const r = await runStudy({ outDir: '/tmp/full2', fit: false, report: false, predictorDir: null, workers: 2, onProgress: stderrProgress({ minIntervalMs: 10000 }), log: (l) => console.error(l) });
console.log(r.seconds);
const by = new Map<string, number[]>();
for (const row of r.dataset.rows) { if (!by.has(row.method)) by.set(row.method, []); by.get(row.method)!.push(row.outcome); }
for (const [m, v] of by) console.log(m, (v.reduce((a, b) => a + b) / v.length).toFixed(3), Math.min(...v).toFixed(3), Math.max(...v).toFixed(3));
