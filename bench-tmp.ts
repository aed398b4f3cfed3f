import { trainZoo, defaultZooDir } from './src/study/zoo.js';
const m = await trainZoo(defaultZooDir(), undefined, (e) => { if (e.done === e.total) console.error(e.phase, e.done, e.detail); });
console.log(JSON.stringify(m.tasks.map((t) => [t.id, t.expertAccuracy, t.baseEncoderAccuracy, t.trainSeconds.toFixed(1)])), m.timing);
