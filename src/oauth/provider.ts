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
 * (src/live-connectors.ts); code about to use connectors for a login calls it first. A fixed set (tests) has none.
 */
export interface ConnectorRegistry extends ReadonlyMap<string, ConnectorEntry> {
  sync?(): Promise<void>;
}

export interface Provider {
  readonly settings: ProviderSettings;
  readonly storage: Storage;
  readonly signer: TokenSigner;
  /** Connectors in configuration order (`local` first), then the ones stored in the database. */
  readonly connectors: ConnectorRegistry;
  readonly deps: Deps;
  readonly log: Logger;
}
