/** Worker-thread entry for parallel expert training (zoo.ts): one TrainedExpert per task id. */
import { serveJobs } from './worker-serve.js';
import { buildTaskData, getTask, INPUT_DIM } from './data.js';
import type { Dense } from './mlp.js';
import { encoderFromTensors, lookupOf } from './tensors.js';
import { trainExpert, type TrainedExpert, type TrainWorkerData } from './zoo.js';

interface Ctx {
  config: TrainWorkerData['config'];
  base: Dense[];
}

serveJobs<Ctx, string, TrainedExpert, { done: number; loss: number }>(
  async (data) => {
    const d = data as TrainWorkerData;
    return { config: d.config, base: encoderFromTensors(lookupOf(d.base), d.config.encoderDims.length - 1, 'base', INPUT_DIM) };
  },
  async (ctx, id, progress) => {
    const td = buildTaskData(getTask(id), ctx.config.seed, ctx.config.split);
    return trainExpert(ctx.base, td, ctx.config, (done, _total, loss) => progress({ done, loss }));
  },
);
