/**
 * fastify's schema compilers for apps whose routes declare no JSON schemas (idport parses forms and queries itself).
 * fastify otherwise loads Ajv and fast-json-stringify for every app it creates, about 330 modules and half a
 * second of CPU at each start, and never uses them. A route that declares a schema fails at registration with
 * this error instead of being compiled.
 */
import type { FastifyServerOptions } from 'fastify';

const noSchemas = (): never => {
  throw new Error('idport routes declare no JSON schemas; fastify has no schema compiler (src/http/no-schemas.ts)');
};

/** The `schemaController` option of every idport fastify app. */
export const WITHOUT_SCHEMA_COMPILERS: FastifyServerOptions['schemaController'] = {
  compilersFactory: { buildValidator: noSchemas, buildSerializer: noSchemas },
};
