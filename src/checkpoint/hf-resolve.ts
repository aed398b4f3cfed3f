/**
 * Model references as users write them, resolved to local paths before a checkpoint is opened
 * — no network:
 *   - a path that exists is itself;
 *   - a Hugging Face id `org/name` or `org/name@revision` is looked up in the local hub cache
 *     (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`), laid out as
 *     `models--org--name/refs/<branch>` (a file holding the commit) and
 *     `models--org--name/snapshots/<commit>/` (files, usually symlinks into `blobs/`);
 *     the revision defaults to `main` and may be a branch/tag in `refs/` or a commit (or a
 *     unique prefix of one) in `snapshots/`; absent → NOT_FOUND with a `huggingface-cli
 *     download` hint;
 *   - mergekit's `base+lora` names a base model and a PEFT adapter applied to it, each side
 *     resolved as above.
 * The cache layout is read directly (see huggingface_hub's file_download.py) rather than with
 * @huggingface/hub, whose cache helpers scan the whole cache and whose focus is the network API.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MergelensError } from '../errors.js';

export interface ModelRef {
  /** Local path of the model (a file or folder). */
  path: string;
  /** Local path of a PEFT adapter to apply to it (`base+lora`). */
  lora?: string;
  /** Where a Hub id resolved from. */
  hub?: { repo: string; revision: string; commit: string };
}

/** The hub cache folder, as huggingface_hub computes it. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE; // older name, still honoured by huggingface_hub
  const home = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  return path.join(home, 'hub');
}

const HUB_ID = /^(?:([A-Za-z0-9][\w.-]*)\/)?([A-Za-z0-9][\w.-]*)(?:@([\w./-]+))?$/;

/** `org/name[@rev]` → its parts, or undefined when the text cannot be a Hub model id. */
export function parseHubId(ref: string): { repo: string; revision?: string } | undefined {
  const m = HUB_ID.exec(ref);
  if (!m || m[2].endsWith('.safetensors') || m[2] === '.' || m[2] === '..') return undefined;
  return { repo: m[1] ? `${m[1]}/${m[2]}` : m[2], revision: m[3] };
}

const exists = (p: string) => fsp.stat(p).then(() => true, () => false);

async function readdirOr(p: string): Promise<string[]> {
  return fsp.readdir(p).catch(() => []);
}

/** The snapshot folder of `repo` at `revision` in the cache; NOT_FOUND (with a download hint) when absent. */
export async function resolveHubSnapshot(repo: string, revision = 'main', env: NodeJS.ProcessEnv = process.env): Promise<ModelRef> {
  const cache = hubCacheDir(env);
  const dir = path.join(cache, `models--${repo.replace(/\//g, '--')}`);
  const rev = revision === 'main' ? '' : ` --revision ${revision}`;
  const hint = `download it first: huggingface-cli download ${repo}${rev} --include '*.safetensors' '*.json' (mergelens reads only the local cache, ${cache}; set HF_HUB_CACHE or HF_HOME if yours is elsewhere)`;
  if (!(await exists(dir))) throw new MergelensError('NOT_FOUND', `"${repo}" is neither a local path nor in the Hugging Face cache`, { file: `${repo}${revision === 'main' ? '' : '@' + revision}`, hint });
  let commit: string | undefined;
  const refFile = path.join(dir, 'refs', revision);
  if (!revision.includes('..') && (await fsp.stat(refFile).then((s) => s.isFile(), () => false))) commit = (await fsp.readFile(refFile, 'utf8')).trim();
  const snapshots = await readdirOr(path.join(dir, 'snapshots'));
  if (!commit && /^[0-9a-f]{4,40}$/i.test(revision)) {
    const hits = snapshots.filter((s) => s.startsWith(revision.toLowerCase()));
    if (hits.length > 1) throw new MergelensError('BAD_INPUT', `revision "${revision}" matches ${hits.length} cached snapshots of ${repo}; give more of the commit hash`, { file: dir });
    commit = hits[0];
  }
  if (!commit || !snapshots.includes(commit)) {
    const refs = await readdirOr(path.join(dir, 'refs'));
    const have = [...refs.map((r) => `@${r}`), ...snapshots.map((s) => `@${s.slice(0, 12)}`)];
    throw new MergelensError('NOT_FOUND', `revision "${revision}" of ${repo} is not in the Hugging Face cache${have.length ? ` (cached: ${have.join(', ')})` : ''}`, { file: dir, hint });
  }
  return { path: path.join(dir, 'snapshots', commit), hub: { repo, revision, commit } };
}

/** Resolve one reference without `+` (see the header). */
async function resolveOne(ref: string, env: NodeJS.ProcessEnv): Promise<ModelRef> {
  if (await exists(ref)) return { path: ref };
  const id = path.isAbsolute(ref) || /^\.\.?[\\/]/.test(ref) ? undefined : parseHubId(ref);
  if (!id) return { path: ref }; // the opener reports what is missing
  // A bare name (no org/) is a Hub id only when the cache has it: otherwise it is a missing path.
  if (!id.repo.includes('/') && !(await exists(path.join(hubCacheDir(env), `models--${id.repo}`)))) return { path: ref };
  return resolveHubSnapshot(id.repo, id.revision ?? 'main', env);
}

/** Resolve a model reference (path, Hub id, `base+lora`) to local paths. */
export async function resolveModelRef(ref: string, env: NodeJS.ProcessEnv = process.env): Promise<ModelRef> {
  if (!ref.includes('+') || (await exists(ref))) return resolveOne(ref, env);
  const plus = ref.indexOf('+');
  const [baseRef, loraRef] = [ref.slice(0, plus), ref.slice(plus + 1)];
  if (!baseRef || !loraRef) throw new MergelensError('BAD_INPUT', `"${ref}": expected base+lora`, { file: ref });
  const base = await resolveOne(baseRef, env);
  const lora = await resolveOne(loraRef, env);
  return { path: base.path, lora: lora.path, hub: base.hub };
}

/**
 * The base a PEFT adapter names (`base_model_name_or_path` in adapter_config.json), resolved to
 * a local path — or undefined when it names nothing found locally or in the cache.
 */
export async function adapterBase(adapterConfig: Record<string, unknown> | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const name = adapterConfig?.base_model_name_or_path;
  if (typeof name !== 'string' || !name) return undefined;
  try {
    const r = await resolveOne(name, env);
    return (await exists(r.path)) ? r.path : undefined;
  } catch {
    return undefined;
  }
}
