/**
 * The connectors requests are served with, kept in step with storage while idport runs. The config's connectors (and
 * `local`) are opened once at startup and never change; connectors stored in the database (created through the gRPC
 * API, or carried over from a Dex database) are opened when they appear, reopened when their `resourceVersion`
 * changes and closed when they go, as Dex's getConnector does. Every replica syncs from the shared storage before it
 * uses connectors for a login, so a connector created on one replica serves logins on all of them at once.
 */
import type { Logger } from 'pino';
import type { ConnectorDeps } from '../connectors/connector.js';
import { openConnector } from '../connectors/registry.js';
import type { ConnectorRecord, Storage } from '../storage/storage.js';
import type { Deps } from './deps.js';
import type { ConnectorEntry, ConnectorRegistry } from './oauth/provider.js';

/** A stored connector as opened: its entry and the record version it was opened from. */
interface OpenedConnector {
  readonly entry: ConnectorEntry;
  readonly resourceVersion: string;
}

/** The fields of a stored record that decide whether it must be reopened. */
const versionOf = (record: ConnectorRecord): string =>
  JSON.stringify([record.resourceVersion, record.type, record.name, record.config]);

export class LiveConnectors implements ConnectorRegistry {
  /** Connectors from the config (and `local`), in configuration order; never reopened. */
  private readonly fixed: ReadonlyMap<string, ConnectorEntry>;
  /** Connectors opened from storage, by id. */
  private readonly stored = new Map<string, OpenedConnector>();
  /** Record versions that failed to open, so a broken record is logged once, not at every request. */
  private readonly failed = new Map<string, string>();
  /** The sync in flight, shared by concurrent callers. */
  private pending: Promise<void> | undefined;
  private current: Map<string, ConnectorEntry>;

  constructor(
    fixed: ReadonlyMap<string, ConnectorEntry>,
    private readonly storage: Pick<Storage, 'connectors'>,
    private readonly log: Logger,
    private readonly deps: Deps,
  ) {
    this.fixed = fixed;
    this.current = new Map(fixed);
  }

  get size(): number {
    return this.current.size;
  }
  get(id: string): ConnectorEntry | undefined {
    return this.current.get(id);
  }
  has(id: string): boolean {
    return this.current.has(id);
  }
  keys(): MapIterator<string> {
    return this.current.keys();
  }
  values(): MapIterator<ConnectorEntry> {
    return this.current.values();
  }
  entries(): MapIterator<[string, ConnectorEntry]> {
    return this.current.entries();
  }
  forEach(callback: (value: ConnectorEntry, key: string, map: ReadonlyMap<string, ConnectorEntry>) => void): void {
    this.current.forEach((value, key) => callback(value, key, this));
  }
  [Symbol.iterator](): MapIterator<[string, ConnectorEntry]> {
    return this.current.entries();
  }

  /** Reads the stored connectors and opens, reopens or closes connectors to match; concurrent calls share one read. */
  async sync(): Promise<void> {
    this.pending ??= this.reconcile().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** `sync` for code about to use connector `id`: none is needed for a connector from the config. */
  async syncFor(id: string): Promise<void> {
    if (!this.fixed.has(id)) await this.sync();
  }

  private async reconcile(): Promise<void> {
    const records = (await this.storage.connectors.list()).filter((record) => !this.fixed.has(record.id));
    const seen = new Set<string>();
    for (const record of records) {
      seen.add(record.id);
      const version = versionOf(record);
      if (this.stored.get(record.id)?.resourceVersion === version || this.failed.get(record.id) === version) continue;
      await this.open(record, version);
    }
    for (const [id, opened] of this.stored)
      if (!seen.has(id)) {
        this.stored.delete(id);
        await this.closeQuietly(opened.entry);
        this.log.info({ connector: id }, 'stored connector removed');
      }
    for (const id of this.failed.keys()) if (!seen.has(id)) this.failed.delete(id);
    this.current = new Map([...this.fixed, ...[...this.stored].map(([id, { entry }]) => [id, entry] as const)]);
  }

  private async open(record: ConnectorRecord, version: string): Promise<void> {
    const previous = this.stored.get(record.id);
    try {
      const connector = await openConnector(record.type, record.id, record.config, this.connectorDeps(record.id));
      this.stored.set(record.id, {
        entry: { id: record.id, type: record.type, name: record.name, connector },
        resourceVersion: version,
      });
      this.failed.delete(record.id);
      this.log.info(
        { connector: record.id, type: record.type },
        previous ? 'stored connector reopened' : 'stored connector opened',
      );
    } catch (err: unknown) {
      // A stored connector that does not open is left out (its logins fail as for an unknown connector); the
      // others keep working. The next change of the record is tried again.
      this.stored.delete(record.id);
      this.failed.set(record.id, version);
      this.log.error({ connector: record.id, type: record.type, err }, 'stored connector could not be opened');
    }
    if (previous !== undefined) await this.closeQuietly(previous.entry);
  }

  private async closeQuietly(entry: ConnectorEntry): Promise<void> {
    try {
      await entry.connector.close?.();
    } catch (err: unknown) {
      this.log.warn({ connector: entry.id, err }, 'closing a stored connector failed');
    }
  }

  private connectorDeps(id: string): ConnectorDeps {
    return { log: this.log.child({ connector: id }), fetch: this.deps.fetch, now: () => this.deps.clock.now() };
  }
}
