/**
 * Worker-thread entry of the transformer study (pool.ts): fine-tunes experts (workerData role
 * "finetune") or merges and scores pairs (role "merge"), one job per message.
 */
import { serveJobs } from '../worker-serve.js';
import { buildTextTaskData, getTextTask, type TextTaskData } from './tasks.js';
import { finetuneExpert, paramsFromNamed, type FinetuneJob, type FinetuneResult, type FinetuneWorkerData } from './zoo.js';
import { createMergeEvalContext, evaluatePairMerge, type MergeEvalContext, type MergeEvalSpec, type PairMergeJob, type PairMergeResult } from './merge-eval.js';
import type { Params } from './model.js';

type Ctx = { role: 'finetune'; data: FinetuneWorkerData; base: Params; tasks: Map<string, TextTaskData> } | { role: 'merge'; ctx: MergeEvalContext };

serveJobs<Ctx, FinetuneJob | PairMergeJob, FinetuneResult | PairMergeResult, { step: number; loss: number }>(
  async (wd) => {
    const d = wd as FinetuneWorkerData | MergeEvalSpec;
    if (d.role === 'merge') return { role: 'merge', ctx: await createMergeEvalContext(d) };
    return { role: 'finetune', data: d, base: paramsFromNamed(d.base), tasks: new Map() };
  },
  async (c, job, progress) => {
    if (c.role === 'merge') return evaluatePairMerge(c.ctx, job as PairMergeJob);
    const j = job as FinetuneJob;
    let td = c.tasks.get(j.task);
    if (!td) c.tasks.set(j.task, (td = buildTextTaskData(getTextTask(j.task), c.data.config.seed, c.data.config.split)));
    // Progress every 10 steps (messages are cheap, but not free).
    return finetuneExpert(c.base, td, c.data.config, j.kind, (step, loss) => {
      if (step % 10 === 0) progress({ step, loss });
    });
  },
  async (c) => {
    if (c.role === 'merge') await c.ctx.close();
  },
);
