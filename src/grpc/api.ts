/**
 * Dex's gRPC API (service `api.Dex`, api/v2/api.proto) over idport's storage, with Dex's answers (server/api.go of
 * v2.45.1): duplicates and missing items are OK replies with `already_exists` / `not_found`; refusals are errors
 * (gRPC code UNKNOWN, as a Go error returned from a handler is) with Dex's texts. Static clients, passwords and
 * connectors from the config are read-only (storage/static.ts), with Dex's "static …: read-only" texts.
 */
import { randomBytes } from 'node:crypto';
import { compareBcrypt } from '../../connectors/local/bcrypt.js';
import { bcryptCost, MAX_BCRYPT_COST, MIN_BCRYPT_COST } from '../../connectors/local/local.js';
import { ApiError, bytes, record, str, strings, write, type ApiContext, type Handler } from './common.js';
import { connectorApi } from './connector-api.js';
import { refreshApi } from './refresh-api.js';

/** Dex's apiVersion: it increases every time a call is added; v2.45 reports 3. */
export const API_VERSION = 3;
/** Dex's recommended cost (recCost), named in its refusal of a cost above the bounds (connectors/local/local.ts). */
const RECOMMENDED_COST = 12;

/** Dex's storage.NewID: 16 random bytes in lower-case base32 without padding (26 characters). */
export const newId = (random: (size: number) => Buffer = randomBytes): string => base32(random(16));

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const base32 = (data: Buffer): string => {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
};

/** Dex's checkCost: the hash must be bcrypt with a cost in [10, 16]. */
const checkCost = (hash: Buffer): void => {
  const cost = bcryptCost(hash.toString('utf8'));
  if (cost === undefined)
    throw new ApiError('parsing bcrypt hash: crypto/bcrypt: hashedSecret too short to be a bcrypted password');
  if (cost < MIN_BCRYPT_COST)
    throw new ApiError(`given hash cost = ${cost} does not meet minimum cost requirement = ${MIN_BCRYPT_COST}`);
  if (cost > MAX_BCRYPT_COST)
    throw new ApiError(
      `given hash cost = ${cost} is above upper bound cost = ${MAX_BCRYPT_COST}, recommended cost = ${RECOMMENDED_COST}`,
    );
};

/** CreateClient: Dex generates an empty id, and an empty secret of a confidential client. */
const createClient = async (
  context: ApiContext,
  request: Record<string, unknown>,
): Promise<Record<string, unknown>> => {
  const { storage } = context;
  const given = record(request.client);
  if (given === undefined) throw new ApiError('no client supplied');
  const random = context.randomBytes ?? randomBytes;
  const isPublic = given.public === true;
  const id = str(given.id) === '' ? newId(random) : str(given.id);
  const secret = str(given.secret) === '' && !isPublic ? newId(random) + newId(random) : str(given.secret);
  const client = {
    id,
    secret,
    redirectURIs: strings(given.redirect_uris),
    trustedPeers: strings(given.trusted_peers),
    public: isPublic,
    name: str(given.name),
    logoURL: str(given.logo_url),
  };
  const reply = await write('create client', () => storage.clients.create(client), { exists: 'already_exists' });
  return 'already_exists' in reply ? reply : { client: { ...given, id, secret } };
};

const clientApi = (context: ApiContext): Record<string, Handler> => {
  const { storage } = context;
  return {
    GetClient: async (request) => {
      const client = await storage.clients.get(str(request.id));
      if (client === undefined) throw new ApiError('not found');
      const { id, secret, name, public: isPublic, logoURL } = client;
      return {
        client: {
          id,
          secret,
          redirect_uris: client.redirectURIs,
          trusted_peers: client.trustedPeers,
          public: isPublic,
          name,
          logo_url: logoURL,
        },
      };
    },
    CreateClient: async (request) => createClient(context, request),
    UpdateClient: async (request) => {
      const id = str(request.id);
      if (id === '') throw new ApiError('update client: no client ID supplied');
      const redirectURIs = strings(request.redirect_uris);
      const trustedPeers = strings(request.trusted_peers);
      const name = str(request.name);
      const logoURL = str(request.logo_url);
      const update = () =>
        storage.clients.update(id, (old) => ({
          ...old,
          ...(redirectURIs.length > 0 ? { redirectURIs } : {}),
          ...(trustedPeers.length > 0 ? { trustedPeers } : {}),
          ...(name !== '' ? { name } : {}),
          ...(logoURL !== '' ? { logoURL } : {}),
        }));
      return write('update client', update, { missing: 'not_found' });
    },
    DeleteClient: async (request) =>
      write('delete client', () => storage.clients.delete(str(request.id)), { missing: 'not_found' }),
    ListClients: async () => ({
      // ClientInfo: everything but the secret.
      clients: (await storage.clients.list()).map((client) => ({
        id: client.id,
        redirect_uris: client.redirectURIs,
        trusted_peers: client.trustedPeers,
        public: client.public,
        name: client.name,
        logo_url: client.logoURL,
      })),
    }),
  };
};

const passwordApi = (context: ApiContext): Record<string, Handler> => {
  const { storage } = context;
  return {
    CreatePassword: async (request) => {
      const given = record(request.password);
      if (given === undefined) throw new ApiError('no password supplied');
      if (str(given.user_id) === '') throw new ApiError('no user ID supplied');
      const hash = bytes(given.hash);
      if (hash.length === 0) throw new ApiError('no hash of password supplied');
      checkCost(hash);
      const password = {
        // Dex's SQL storage keeps emails in lower case.
        email: str(given.email).toLowerCase(),
        hash: hash.toString('utf8'),
        username: str(given.username),
        userId: str(given.user_id),
      };
      return write('create password', () => storage.passwords.create(password), { exists: 'already_exists' });
    },
    UpdatePassword: async (request) => {
      const email = str(request.email);
      if (email === '') throw new ApiError('no email supplied');
      const newHash = bytes(request.new_hash);
      const newUsername = str(request.new_username);
      if (newHash.length === 0 && newUsername === '') throw new ApiError('nothing to update');
      if (newHash.length > 0) checkCost(newHash);
      const update = () =>
        storage.passwords.update(email, (old) => ({
          ...old,
          ...(newHash.length > 0 ? { hash: newHash.toString('utf8') } : {}),
          ...(newUsername !== '' ? { username: newUsername } : {}),
        }));
      return write('update password', update, { missing: 'not_found' });
    },
    DeletePassword: async (request) => {
      const email = str(request.email);
      if (email === '') throw new ApiError('no email supplied');
      return write('delete password', () => storage.passwords.delete(email), { missing: 'not_found' });
    },
    ListPasswords: async () => ({
      // Without the hashes.
      passwords: (await storage.passwords.list()).map((p) => ({
        email: p.email,
        username: p.username,
        user_id: p.userId,
      })),
    }),
    VerifyPassword: async (request) => {
      const email = str(request.email);
      const password = str(request.password);
      if (email === '') throw new ApiError('no email supplied');
      if (password === '') throw new ApiError('no password to verify supplied');
      const stored = await storage.passwords.get(email);
      if (stored === undefined) return { not_found: true };
      return { verified: await compareBcrypt(password, stored.hash).catch(() => false) };
    },
  };
};

/** Discovery fields DiscoveryResp carries (the rest of the document has no field there). */
const DISCOVERY_FIELDS = [
  'issuer',
  'authorization_endpoint',
  'token_endpoint',
  'jwks_uri',
  'userinfo_endpoint',
  'device_authorization_endpoint',
  'introspection_endpoint',
  'grant_types_supported',
  'response_types_supported',
  'subject_types_supported',
  'id_token_signing_alg_values_supported',
  'code_challenge_methods_supported',
  'scopes_supported',
  'token_endpoint_auth_methods_supported',
  'claims_supported',
];

/** Every call of the service, by its name in the proto. */
export const dexApi = (context: ApiContext): Record<string, Handler> => ({
  ...clientApi(context),
  ...passwordApi(context),
  ...refreshApi(context),
  ...connectorApi(context),
  GetVersion: async () => ({ server: context.version, api: API_VERSION }),
  GetDiscovery: async () => {
    const document = context.discovery();
    return Object.fromEntries(DISCOVERY_FIELDS.filter((key) => key in document).map((key) => [key, document[key]]));
  },
});
