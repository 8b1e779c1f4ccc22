import type { MiddlewareHandler } from 'hono';
import { basicAuth } from 'hono/basic-auth';
import { timingSafeEqual } from 'hono/utils/buffer';
import { errorBody } from '../../shared/edge-protocol.ts';

/** Addresses only this machine can reach: no login is asked there. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/**
 * Who may see the dashboard. On a loopback address, anyone who can reach it (this machine). On any other
 * address, whoever knows the admin token, over HTTP Basic auth (any user name, the token as password),
 * which a browser asks for itself and then sends with the page's own requests, the event stream included;
 * a bearer header would need a login page of our own. Without a token there, the dashboard is off.
 */
export function dashboardAccess(host: string, adminToken: string | undefined): MiddlewareHandler {
  if (isLoopback(host)) return (_c, next) => next();
  if (!adminToken) {
    const message = `the dashboard is off: the runtime listens on ${host}, not on loopback, and has no admin token (set admin.token in hono.config.ts or EDGEBATCH_ADMIN_TOKEN)`;
    return async (c) => c.json(errorBody('dashboard_off', message), 403);
  }
  return basicAuth({ realm: 'edgebatch dashboard', verifyUser: (_user, password) => timingSafeEqual(password, adminToken) });
}
