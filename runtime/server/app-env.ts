import type { NodeBindings } from './node-request.ts';
import type { ArrivalBindings } from './request-frame.ts';

/**
 * What the app's context carries as bindings (`c.env`): Node's request objects (from @hono/node-server, none
 * in `app.request()`), and the arrival time and request id the request frame stamps. Its own file, so the
 * route modules app.ts composes need not import app.ts.
 */
export type AppEnv = { Bindings: Partial<NodeBindings> & ArrivalBindings };
