/**
 * What the schema builders share: the environment, read where Dex reads it while parsing (`*Env` fields and
 * `$VAR` expansion inside plugin configs).
 */
import { z } from 'zod';
import { expandEnvInMapping, isEnvExpansionEnabled, type Env } from './env.js';

/** The environment as the schema builders use it. */
export interface SchemaContext {
  readonly env: Env;
  /** Dex expands `$VAR` inside storage, connector and signer configs (and nowhere else) before parsing them. */
  readonly expanded: (value: unknown) => unknown;
  /** Why an `*Env` reference cannot be used, or undefined when the variable holds a value. */
  readonly envProblem: (name: string) => string | undefined;
}

/** The context for one environment. */
export function schemaContext(env: Env): SchemaContext {
  const expansionEnabled = isEnvExpansionEnabled(env);
  return {
    env,
    expanded: (value) => (expansionEnabled ? expandEnvInMapping(value, env) : value),
    envProblem: (name) => {
      const value = env[name];
      if (value === undefined) return `environment variable ${name} is not set`;
      if (value === '') return `environment variable ${name} is empty`;
      return undefined;
    },
  };
}

/** `schema` applied after `$VAR` expansion. */
export const withExpansion = <T extends z.ZodType>(context: SchemaContext, schema: T) =>
  z.preprocess(context.expanded, schema);

/** A custom issue at `path` (relative to the value being checked). */
export const custom = (path: PropertyKey[], message: string, input?: unknown) =>
  ({ code: 'custom', path, message, input }) as const;
