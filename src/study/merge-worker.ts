/** Worker-thread entry for parallel merge evaluation: one EvalContext per worker, one MergeResult per MergeJob. */
import { serveJobs } from './worker-serve.js';
import { createEvalContext, evaluateMerge, type EvalContext, type EvalSpec, type MergeJob, type MergeResult } from './evaluate.js';

serveJobs<EvalContext, MergeJob, MergeResult>(
  (data) => createEvalContext(data as EvalSpec),
  (ctx, job) => evaluateMerge(ctx, job),
  (ctx) => ctx.close(),
);
