import { mkdirSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import type { UserConfig } from 'edgebatch';

/**
 * A runtime to deploy to, as config overrides: an empty functions folder and a data folder under a fresh
 * test/tmp/<prefix>-* folder, the tiny MLP as model `tiny`, and the admin API on with `token`.
 */
export function deployTarget(
  prefix: string,
  token: string,
  extra: Partial<UserConfig> = {},
): { dir: string; overrides: Partial<UserConfig> } {
  mkdirSync('test/tmp', { recursive: true });
  const dir = path.resolve(mkdtempSync(path.join('test/tmp', `${prefix}-`)));
  mkdirSync(path.join(dir, 'functions'));
  const overrides: Partial<UserConfig> = {
    functionsDir: path.join(dir, 'functions'),
    dataDir: path.join(dir, 'data'),
    models: { tiny: { file: path.resolve('models/mlp-small.onnx'), maxBatch: 16 } },
    admin: { token },
    ...extra,
  };
  return { dir, overrides };
}
