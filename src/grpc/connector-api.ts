/**
 * The connector calls (Dex's Create/Update/Delete/ListConnector(s)), behind Dex's `DEX_API_CONNECTORS_CRUD` feature
 * flag. Stored connectors take effect at once: after each change the running connector set is synced, and every
 * other replica syncs before its next login (src/live-connectors.ts). The config's connectors (and `local`) are
 * listed too, and are read-only.
 */
import { ApiError, bytes, record, str, write, type ApiContext, type Handler } from './common.js';

/** The JSON text of a connector config, or undefined when it is not JSON (Go's json.Valid). */
const parseJson = (data: Buffer): { value: unknown } | undefined => {
  try {
    return { value: JSON.parse(data.toString('utf8')) as unknown };
  } catch {
    return undefined;
  }
};

const configBytes = (config: unknown): Buffer =>
  config === undefined || config === null ? Buffer.alloc(0) : Buffer.from(JSON.stringify(config), 'utf8');

/** UpdateConnector: each given field replaces the stored one, and `resourceVersion` counts up (Dex's updater). */
const updateConnector = async (
  context: ApiContext,
  request: Record<string, unknown>,
): Promise<Record<string, unknown>> => {
  const id = str(request.id);
  // Dex's text, although the field is the connector's id.
  if (id === '') throw new ApiError('no email supplied');
  const [newType, newName, newConfig] = [str(request.new_type), str(request.new_name), bytes(request.new_config)];
  if (newConfig.length === 0 && newName === '' && newType === '') throw new ApiError('nothing to update');
  // Dex master's check: v2.45.1 also refused an update without a new config here, so a rename never worked.
  const parsed = newConfig.length === 0 ? undefined : parseJson(newConfig);
  if (newConfig.length > 0 && parsed === undefined) throw new ApiError('invalid config supplied');
  const update = () =>
    context.storage.connectors.update(id, (old) => {
      // Go's strconv.Atoi of the version ("" counts as "0"); a version that is not a number is kept.
      const revision = /^[+-]?\d+$/.test(old.resourceVersion)
        ? Number(old.resourceVersion)
        : old.resourceVersion === ''
          ? 0
          : NaN;
      return {
        ...old,
        ...(newType !== '' ? { type: newType } : {}),
        ...(newName !== '' ? { name: newName } : {}),
        ...(parsed !== undefined ? { config: parsed.value } : {}),
        resourceVersion: Number.isNaN(revision) ? old.resourceVersion : String(revision + 1),
      };
    });
  return write('update connector', update, { missing: 'not_found' });
};

export const connectorApi = (context: ApiContext): Record<string, Handler> => {
  const { storage } = context;
  const gate = (): void => {
    if (!context.connectorsCrud) throw new ApiError('api_connectors_crud feature flag is not enabled');
  };
  const changed = async (reply: Record<string, unknown>): Promise<Record<string, unknown>> => {
    await context.connectorsChanged();
    return reply;
  };
  return {
    CreateConnector: async (request) => {
      gate();
      const given = record(request.connector) ?? {};
      const [id, type, name, config] = [str(given.id), str(given.type), str(given.name), bytes(given.config)];
      if (id === '') throw new ApiError('no id supplied');
      if (type === '') throw new ApiError('no type supplied');
      if (name === '') throw new ApiError('no name supplied');
      if (config.length === 0) throw new ApiError('no config supplied');
      const parsed = parseJson(config);
      if (parsed === undefined) throw new ApiError('invalid config supplied');
      const connector = { id, type, name, resourceVersion: '1', config: parsed.value };
      return changed(
        await write('create connector', () => storage.connectors.create(connector), { exists: 'already_exists' }),
      );
    },
    UpdateConnector: async (request) => {
      gate();
      return changed(await updateConnector(context, request));
    },
    DeleteConnector: async (request) => {
      gate();
      const id = str(request.id);
      if (id === '') throw new ApiError('no id supplied');
      return changed(await write('delete connector', () => storage.connectors.delete(id), { missing: 'not_found' }));
    },
    ListConnectors: async () => {
      gate();
      return {
        connectors: (await storage.connectors.list()).map((c) => ({
          id: c.id,
          type: c.type,
          name: c.name,
          config: configBytes(c.config),
        })),
      };
    },
  };
};
