/** OpenID Provider Metadata (OpenID Connect Discovery 1.0 §3), listing exactly what is enabled. */
import { SUPPORTED_CLAIMS } from './tokens/claims.js';
import { isDeviceFlowEnabled } from './device/authorization.js';
import { SUPPORTED_SCOPES } from './primitives/scopes.js';
import type { ProviderSettings } from './settings.js';

/** Builds the discovery document; `signingAlgorithms` comes from the signer's published keys. */
export const discoveryDocument = (
  settings: ProviderSettings,
  signingAlgorithms: readonly string[],
): Record<string, unknown> => {
  const at = (path: string): string => `${settings.issuer}${path}`;
  const types = new Set(settings.responseTypes.flatMap((t) => t.split(' ')));
  // The password grant needs the connector it logs in with (oauth2.passwordConnector), as in Dex.
  const grantTypes = settings.grantTypes.filter(
    (grant) => grant !== 'password' || settings.passwordConnector !== undefined,
  );
  // Discovery §3: grant types must be consistent with the response types (implicit for front-channel tokens).
  if ((types.has('token') || types.has('id_token')) && !grantTypes.includes('implicit')) grantTypes.push('implicit');
  return {
    issuer: settings.issuer,
    authorization_endpoint: at('/auth'),
    token_endpoint: at('/token'),
    jwks_uri: at('/keys'),
    userinfo_endpoint: at('/userinfo'),
    // RFC 8414 §2 (RFC 7662, RFC 7009): both take the token endpoint's client authentication.
    introspection_endpoint: at('/token/introspect'),
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    revocation_endpoint: at('/token/revoke'),
    // Public clients may revoke their own tokens with client_id alone (RFC 7009 §2.1).
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    // RFC 8628 §4, at Dex's path; only while the device_code grant is enabled.
    ...(isDeviceFlowEnabled(settings) ? { device_authorization_endpoint: at('/device/code') } : {}),
    end_session_endpoint: at('/logout'),
    response_types_supported: [...(settings.advertisedResponseTypes ?? settings.responseTypes)],
    response_modes_supported: ['query', 'fragment', 'form_post'],
    grant_types_supported: grantTypes,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [...signingAlgorithms],
    code_challenge_methods_supported: [...settings.codeChallengeMethods],
    scopes_supported: [...SUPPORTED_SCOPES],
    // `none`: public clients (CLIs, SPAs) send only client_id and prove possession with PKCE instead.
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    claims_supported: [...SUPPORTED_CLAIMS],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    authorization_response_iss_parameter_supported: true,
    // OpenID Connect Back-Channel Logout 1.0 §2.1: logout tokens carry `sid`, and ID tokens do too.
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
  };
};
