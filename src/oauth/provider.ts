/** What the protocol code needs from the running server, passed explicitly instead of read from globals. */
import type { Logger } from 'pino';
import type { Connector } from '../../connectors/connector.js';
import type { Storage } from '../../storage/storage.js';
import type { Deps } from '../deps.js';
import type { Signer } from '../signer/signer.js';
import type { ProviderSettings } from './settings.js';

/** The signer as the protocol code sees it (src/signer implements it; only it touches private keys). */
export type TokenSigner = Pick<
  Signer,
  'algorithm' | 'sign' | 'verify' | 'jwks' | 'jwksDocument' | 'signingAlgorithms' | 'nextRotation'
>;

/** A configured connector instance. */
export interface ConnectorEntry {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly connector: Connector;
}

/**
 * The connectors in use, read synchronously. `sync` brings them in step with the connectors stored in the database
 * (src/live-connectors.ts); code about to use connectors for a login calls it first. `syncFor` does the same for code
 * about to use one connector, and skips the storage read when that connector comes from the config, which never
 * changes. A fixed set (tests) has neither.
 */
export interface ConnectorRegistry extends ReadonlyMap<string, ConnectorEntry> {
  sync?(): Promise<void>;
  syncFor?(id: string): Promise<void>;
}

/** Connector `id` as storage has it now (a stored one may have been created or changed on another replica). */
export const currentConnector = async (provider: Provider, id: string): Promise<ConnectorEntry | undefined> => {
  await provider.connectors.syncFor?.(id);
  return provider.connectors.get(id);
};

export interface Provider {
  readonly settings: ProviderSettings;
  readonly storage: Storage;
  readonly signer: TokenSigner;
  /** Connectors in configuration order (`local` first), then the ones stored in the database. */
  readonly connectors: ConnectorRegistry;
  readonly deps: Deps;
  readonly log: Logger;
}
