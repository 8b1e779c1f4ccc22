/**
 * edgebatch's public API. Handler files import `defineFunction`; hono.config.ts imports `defineConfig`;
 * programs that embed the runtime use `loadConfig` and `serve`, and `Runtime.invoke` on what `serve` returns
 * (or on a `Runtime` of their own, without HTTP); a typed client of a running runtime takes `AppType`
 * (`hc<AppType>(url)`, as the CLI does). What composes the runtime (its Hono app, the front door, the
 * pipelines) stays inside: `serve` wires it.
 */
export { defineFunction } from './functions/define.ts';
export type { FunctionDefinition, HookInput, ItemInput, ItemOutput, RawBody, RawOption } from './functions/define.ts';
export { defineConfig, lanesOn, resolveConfig, WEBGPU_LANES } from './config.ts';
export type { DeviceKind, ModelConfig, PolicyName, ResolvedConfig, UserConfig } from './config.ts';
export type { Duration } from './duration.ts';
export { parseDuration } from './duration.ts';
export type { ItemTensor, TensorData } from './models/tensor.ts';
export { loadConfig, serve } from './serve.ts';
export type { Serving } from './serve.ts';
export { Runtime } from './runtime.ts';
export type { InvokeOptions, InvokeResult } from './runtime.ts';
export type { AppType } from './server/app.ts';
export {
  BadInputError,
  CancelledError,
  EdgebatchError,
  HookTimeoutError,
  ModelUnavailableError,
  NotFoundError,
  OverloadedError,
  PayloadTooLargeError,
  RunFailedError,
  UnsupportedMediaTypeError,
} from './errors.ts';
