/**
 * The one mapping from a connector's failure at /token (the password grant's login, the refresh grant's re-check) to
 * the OAuth error the client sees. The connector's own words go to the log only: they may name upstream details.
 */
import { ConnectorError } from '../../../connectors/connector.js';
import { OAuthError } from '../../errors.js';
import type { Provider } from '../provider.js';

/** What the grant was doing, for the log, and the error a refusal becomes. */
export interface ConnectorStep {
  readonly connectorId: string | undefined;
  /** Logged when the connector is unavailable, e.g. "connector unavailable during refresh". */
  readonly unavailable: string;
  /** Logged when the connector refused the user, e.g. "connector refused to refresh the user". */
  readonly refused: string;
  /** The error a refusal becomes (`invalid_grant`, with the grant's own description). */
  readonly refusal: () => OAuthError;
}

/**
 * What to throw for `err`, thrown by a connector during `step`: `temporarily_unavailable` when the connector says the
 * failure is temporary (the client may retry), the step's refusal for any other ConnectorError, and anything else
 * unchanged (an unexpected failure, answered as server_error by the error mapping).
 */
export const connectorFailure = (provider: Pick<Provider, 'log'>, err: unknown, step: ConnectorStep): unknown => {
  if (!(err instanceof ConnectorError)) return err;
  if (err.temporary) {
    provider.log.warn({ connector: step.connectorId, err: err.message }, step.unavailable);
    return new OAuthError('temporarily_unavailable', 'the login service is unavailable; try again later');
  }
  provider.log.info({ connector: step.connectorId, err: err.message }, step.refused);
  return step.refusal();
};
