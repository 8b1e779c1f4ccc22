import { loadFunctionFile, type LoadedFunction, type LoadResult } from './load.ts';
import { probeHandler, type ProbeLimits } from './probe/probe.ts';

/** What the checks need to know about the runtime: a narrow view, so this file never imports it. */
export interface CheckContext {
  /** Limits of the isolated first look at the file (probe/probe.ts). */
  readonly probe: ProbeLimits;
  /** `pre`/`post` time limit as a multiple of the SLO, where a handler sets no `hookTimeout`. */
  readonly hookTimeoutFactor: number;
  knownModel(model: string): boolean;
  /** Why the model could not be loaded, or undefined when it is loaded (or loading). */
  modelFailure(model: string): string | undefined;
  /** Runs the function's example through its schema and `pre`; throws with the reason it is not a valid item. */
  tryExample(fn: LoadedFunction): Promise<void>;
  /** Gives the model a cost fit (the warm-up probe with this function's example) when it has none yet. */
  ensureFit(fn: LoadedFunction): Promise<void>;
  /** U(0) against the SLO on the fitted cost; null without a fit. */
  feasibility(fn: LoadedFunction): { feasible: boolean; reason?: string } | null;
}

/**
 * The one set of checks a handler passes before it serves, alike for a file at start, a save in `dev` and
 * a deploy: it imports and runs its example in a worker thread within a time limit (probe/probe.ts), so a
 * file that exits, loops or hangs is refused before the runtime imports it; then it imports and has the
 * right shape (load.ts), its `example` passes its own schema and `pre` makes an item the model accepts, and its SLO can be met on this device by the formula (U(0) <= SLO on
 * the fitted cost). The first problem found is reported with the file; nothing is thrown.
 *
 * A function whose model failed to load is not refused for it: its example cannot be run, its calls are
 * answered 503 `model_unavailable` with the model's reason, and it serves once the model does.
 */
export async function checkFunction(ctx: CheckContext, file: string, name?: string): Promise<LoadResult> {
  const refused = await probeHandler(file, ctx.probe);
  if (refused) return { ok: false, problem: { file, message: refused } };
  const loaded = await loadFunctionFile(file, (m) => ctx.knownModel(m), name, ctx.hookTimeoutFactor);
  if (!loaded.ok) return loaded;
  const fn = loaded.fn;
  const fail = (message: string): LoadResult => ({ ok: false, problem: { file, message } });
  if (ctx.modelFailure(fn.definition.model) !== undefined) return loaded;
  try {
    await ctx.tryExample(fn);
  } catch (err) {
    return fail(`its example does not make a valid item: ${(err as Error).message}`);
  }
  // The first function on a model brings its warm-up probe, so feasibility is judged on a real fit.
  await ctx.ensureFit(fn);
  const f = ctx.feasibility(fn);
  if (f && !f.feasible) return fail(`its SLO cannot be met on this device: ${f.reason}`);
  return loaded;
}
