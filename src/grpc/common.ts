/** What the API's calls share: the context they run in, the error they answer with, and request field readers. */
import { AlreadyExistsError, NotFoundError, ReadOnlyError, type Storage } from '../../storage/storage.js';

/** A refusal, answered as a gRPC error with exactly this text. */
export class ApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What the API reads besides storage. */
export interface ApiContext {
  readonly storage: Storage;
  /** idport's version, reported by GetVersion. */
  readonly version: string;
  /** The discovery document served at /.well-known/openid-configuration. */
  readonly discovery: () => Record<string, unknown>;
  /** `DEX_API_CONNECTORS_CRUD`: whether the connector calls are on. */
  readonly connectorsCrud: boolean;
  /** Brings the running connector set in step with storage after a connector call (src/live-connectors.ts). */
  readonly connectorsChanged: () => Promise<void>;
  readonly randomBytes?: (size: number) => Buffer;
}

/** A unary call: the decoded request (proto field names, defaults filled in) to the reply. */
export type Handler = (request: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** Fields of a decoded request: proto-loader fills in defaults, so a wrong type only comes from a broken client. */
export const str = (value: unknown): string => (typeof value === 'string' ? value : '');
export const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
export const bytes = (value: unknown): Buffer => (Buffer.isBuffer(value) ? value : Buffer.alloc(0));
export const record = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;

/**
 * Runs a storage write, mapping Dex's sentinel outcomes to the reply flag (a taken key, an absent one: `update`
 * throwing NotFoundError or `delete` answering false) and other failures to `what: error`.
 */
export const write = async (
  what: string,
  run: () => Promise<unknown>,
  flags: { exists?: string; missing?: string },
): Promise<Record<string, unknown>> => {
  try {
    const result = await run();
    return result === false && flags.missing !== undefined ? { [flags.missing]: true } : {};
  } catch (err: unknown) {
    if (err instanceof AlreadyExistsError && flags.exists !== undefined) return { [flags.exists]: true };
    if (err instanceof NotFoundError && flags.missing !== undefined) return { [flags.missing]: true };
    throw new ApiError(
      `${what}: ${err instanceof ReadOnlyError ? readOnlyText(what) : err instanceof Error ? err.message : String(err)}`,
    );
  }
};

/** Dex's texts for a write to a static entry ("static clients: read-only cannot create client"). */
const readOnlyText = (what: string): string => {
  const [verb = '', noun = ''] = what.split(' ');
  return `static ${noun}s: read-only cannot ${verb} ${noun}`;
};
