/**
 * The connector contract. A connector turns a login (a password, an upstream redirect, a SAML POST)
 * into an Identity. Connectors never see HTTP objects or import `src/`; they get parsed values.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';

/** What the client asked for that changes what a connector must fetch. */
export interface Scopes {
  /** `offline_access`: the connector should obtain what it needs to refresh later. */
  readonly offlineAccess: boolean;
  /** `groups`: the connector should look up group memberships. */
  readonly groups: boolean;
}

/** A user as a connector reports them. */
export interface Identity {
  /** Stable, unique within the connector; becomes `sub` (with the connector id). */
  readonly userId: string;
  readonly username: string;
  readonly preferredUsername?: string | undefined;
  readonly email?: string | undefined;
  readonly emailVerified: boolean;
  readonly groups: readonly string[];
  /** Opaque state for refresh (e.g. upstream tokens). Never sent to clients or shown to users. */
  readonly connectorData?: Uint8Array | undefined;
}

export interface PasswordConnector {
  readonly kind: 'password';
  /** Label for the username field, e.g. "Email" or "Username". */
  prompt(): string;
  /** Returns undefined for wrong credentials; throws only when the backend fails. */
  login(scopes: Scopes, username: string, password: string): Promise<Identity | undefined>;
}

/** Request headers by lower-case name (the first value of a repeated header, as Go's Header.Get). */
export type CallbackHeaders = ReadonlyMap<string, string>;

export interface CallbackConnector {
  readonly kind: 'callback';
  /**
   * Names of request headers this connector trusts at its callback (authproxy: what a fronting proxy
   * sets). The server hands them over only on GET `<issuer>/callback/<this connector's id>` for a login
   * started with this connector; everywhere else the connector gets an empty map.
   */
  readonly callbackHeaders?: readonly string[];
  /** Where to send the browser; `connectorState` is kept with the auth request and handed back to the callback. */
  loginUrl(scopes: Scopes, callbackUrl: string, state: string): Promise<{ url: string; connectorState?: Uint8Array }>;
  /** Handles the upstream's redirect back. Throws ConnectorError for a refused or invalid login. */
  handleCallback(
    scopes: Scopes,
    connectorState: Uint8Array | undefined,
    query: URLSearchParams,
    headers?: CallbackHeaders,
  ): Promise<Identity>;
}

export interface SamlConnector {
  readonly kind: 'saml';
  /** The SAML AuthnRequest to POST to the IdP (HTTP-POST binding), with RelayState set to `state`. */
  postData(
    scopes: Scopes,
    state: string,
  ): Promise<{ action: string; samlRequest: string; connectorState?: Uint8Array }>;
  /** Validates the IdP's SAMLResponse. Throws ConnectorError when it is invalid or meant for someone else. */
  handlePost(
    scopes: Scopes,
    connectorState: Uint8Array | undefined,
    samlResponse: string,
    relayState: string,
  ): Promise<Identity>;
}

export interface Refreshable {
  /** Re-checks the user upstream; throws ConnectorError when the user is gone or no longer allowed. */
  refresh(scopes: Scopes, identity: Identity): Promise<Identity>;
}

/** The kinds of upstream token a connector may be asked to verify (RFC 8693 `subject_token_type`, without its URN prefix). */
export type SubjectTokenType = 'id_token' | 'access_token';

/** Token exchange (RFC 8693; Dex's TokenIdentityConnector): a token the upstream issued stands in for a login. */
export interface TokenExchanging {
  /**
   * Verifies `token`, of the given type, as this connector's upstream issued it, and returns its user. Throws
   * ConnectorError when the token does not verify or names no acceptable user (`temporary` when the upstream could
   * not be reached).
   */
  tokenIdentity(tokenType: SubjectTokenType, token: string): Promise<Identity>;
}

export type Connector = (PasswordConnector | CallbackConnector | SamlConnector) &
  Partial<Refreshable> &
  Partial<TokenExchanging> & {
    /** Releases sockets, timers and pools. */
    close?(): Promise<void>;
  };

/**
 * A login the connector refused or could not complete. `userMessage` is safe to show; `message` is for the log.
 * `temporary` marks a failure of the backend (unreachable, timing out, 5xx) rather than a verdict about the user,
 * so a refresh answers "try again later" instead of ending the user's tokens.
 */
export class ConnectorError extends Error {
  readonly userMessage: string;
  readonly temporary: boolean;
  constructor(message: string, userMessage = 'Login failed.', options?: { cause?: unknown; temporary?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectorError';
    this.userMessage = userMessage;
    this.temporary = options?.temporary ?? false;
  }
}

/** What a connector may use from the outside world; injected so tests need no network or sleeps. */
export interface ConnectorDeps {
  readonly log: Logger;
  readonly fetch: typeof fetch;
  readonly now: () => Date;
}

/** A connector type: its config schema (Dex's keys) and a factory. */
export interface ConnectorModule<S extends z.ZodType = z.ZodType> {
  readonly configSchema: S;
  open(id: string, config: z.infer<S>, deps: ConnectorDeps): Promise<Connector>;
}
