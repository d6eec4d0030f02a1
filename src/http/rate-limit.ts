/**
 * Rate limits for routes that check secrets a guesser wants to try many times. Password logins are limited per
 * client IP: each attempt costs a bcrypt comparison (or an LDAP bind, where lockouts punish the real user).
 * Limits are per replica (in memory), which bounds a guesser by replicas × limit without a shared store.
 */
import type { RateLimitOptions } from '@fastify/rate-limit';

/** Password attempts one client IP may make per minute, counted across connectors and users. */
export const PASSWORD_ATTEMPTS_PER_MINUTE = 20;

/** Thrown (by the rate-limit plugin) when a client is over its limit; the page error handler renders it. */
export class RateLimitedError extends Error {
  readonly statusCode = 429;
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super(`Too many attempts. Wait ${retryAfterSeconds} seconds and try again.`);
    this.name = 'RateLimitedError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Route config for password-login POSTs, allowing `perMinute` attempts per client IP. */
export const passwordLoginRateLimit = (perMinute: number = PASSWORD_ATTEMPTS_PER_MINUTE): RateLimitOptions => ({
  max: perMinute,
  timeWindow: 60_000,
  keyGenerator: (request) => request.ip,
  errorResponseBuilder: (_request, context) => new RateLimitedError(Math.max(1, Math.ceil(context.ttl / 1000))),
});
