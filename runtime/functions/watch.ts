import path from 'node:path';
import { watch } from 'chokidar';
import type { Logger } from '../logger.ts';
import { functionNameOf, type LoadResult } from './load.ts';
import type { FunctionRegistry } from './registry.ts';
import { isHandlerFile } from './scan.ts';

/** What the watcher needs of the runtime it reloads: a narrow view, so this file never imports it. */
export interface WatchTarget {
  readonly functions: Pick<FunctionRegistry, 'get' | 'delete' | 'clearProblem'>;
  readonly versions: { holds(file: string): boolean };
  readonly log: Logger;
  /** Loads a handler file and swaps it in only if it passes every check. */
  loadFile(file: string): Promise<LoadResult>;
}

/**
 * Live reload for `edgebatch dev`: a saved handler file is loaded again and, only if it passes every
 * check, swapped in; a broken save keeps the previous version serving and logs why. A deleted file stops
 * serving. Helper modules (`_*.ts`, sub-folders) are not watched: restart to pick up their changes.
 * Resolves once the watcher is ready; the returned function stops it.
 */
export async function watchFunctions(rt: WatchTarget, dir: string): Promise<() => Promise<void>> {
  const watcher = watch(dir, {
    ignoreInitial: true,
    depth: 0,
    // Editors write in several steps; wait until the file has stopped changing.
    awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 10 },
  });
  const reload = (file: string) => {
    if (!isHandlerFile(path.basename(file))) return;
    // A deployed version takes precedence over a file of the same name, in dev as at start.
    const served = rt.functions.get(functionNameOf(file));
    if (served && rt.versions.holds(served.file)) {
      rt.log.warn(
        { function: served.name, version: served.version, file },
        'saved file not loaded: a deployed version of this function takes precedence (`edgebatch delete` it to serve the file)',
      );
      return;
    }
    void rt.loadFile(path.resolve(file)).then((res) => {
      if (res.ok) rt.log.info({ function: res.fn.name, version: res.fn.version }, 'reloaded');
    });
  };
  watcher.on('add', reload).on('change', reload);
  watcher.on('unlink', (file) => {
    if (!isHandlerFile(path.basename(file))) return;
    const name = functionNameOf(file);
    if (rt.functions.get(name)?.file === path.resolve(file)) {
      rt.functions.delete(name);
      rt.log.info({ function: name }, 'handler file deleted: function removed');
    }
    rt.functions.clearProblem(path.resolve(file));
  });
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return () => watcher.close();
}
