import type { ArrivalVariables } from './arrival.ts';
import type { NodeBindings } from './node-request.ts';

/**
 * What the app's context carries: Node's request objects (from @hono/node-server), the arrival time and the
 * request id. Its own file, so the route modules app.ts composes need not import app.ts.
 */
export type AppEnv = { Bindings: Partial<NodeBindings>; Variables: ArrivalVariables };
