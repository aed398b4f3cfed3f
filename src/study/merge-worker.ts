/** Worker-thread entry for parallel merge evaluation: one EvalContext per worker, one result per job (pair, group or probe reference). */
import { serveJobs } from './worker-serve.js';
import { createEvalContext, evaluateJob, type EvalContext, type EvalSpec, type StudyJob, type StudyJobResult } from './evaluate.js';

serveJobs<EvalContext, StudyJob, StudyJobResult>(
  (data) => createEvalContext(data as EvalSpec),
  (ctx, job) => evaluateJob(ctx, job),
  (ctx) => ctx.close(),
);
