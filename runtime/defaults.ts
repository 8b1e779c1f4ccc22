/**
 * The defaults that code outside config.ts also needs: the planner (cli/plan.ts), the simulator and the
 * CLI client read them here, so that they cannot drift from what the runtime applies. No imports: the
 * simulator's pure scheduler code may read it.
 */
export const defaults = {
  host: '127.0.0.1',
  port: 8787,
  scheduler: {
    marginMs: 2,
    meanObjectiveFraction: 0.5,
    overloadFactor: 2,
    hostLagFraction: 0.1,
    fitWindow: 200,
  },
  /**
   * The HTTP server's timeouts and connection cap (an inference call's request is small and sent at once;
   * Node's own defaults, a 300 s request timeout and no cap, let slow or stalled clients hold memory).
   */
  http: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, maxConnections: 4096 },
  /** The lane's power model, watts. */
  energy: { busyWatts: 65, idleWatts: 10 },
} as const;
