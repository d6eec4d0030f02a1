/**
 * The sentences of idport's error pages. Protocol code decides what went wrong and names it with a code (and the
 * values the sentence quotes); this table is the one place that says it to a person, so wording and, later,
 * translations change here alone. Every sentence names a next step where there is one.
 */

/** Values a sentence may quote (escaped by the page template like any other text). */
export type PageErrorParams = Readonly<Record<string, string>>;

const SENTENCES = {
  repeated_client_parameters: () => 'The request repeated client_id or redirect_uri.',
  missing_client_id: () => 'The request has no client_id.',
  unknown_client: (p: PageErrorParams) => `Unknown client "${p.clientId ?? ''}".`,
  missing_redirect_uri: () => 'The request has no redirect_uri and the client has more than one registered.',
  parameter_too_long: (p: PageErrorParams) =>
    `Invalid request (invalid_request): the ${p.name ?? ''} parameter is longer than ${p.limit ?? ''} characters. Go back to the application and sign in again.`,
  unregistered_redirect_uri: () => 'The redirect_uri is not registered for this client.',
  login_request_expired: () =>
    'This login request is invalid or has expired. Go back to the application and sign in again.',
  login_form_csrf: () =>
    'The form was not submitted from this login page (missing or wrong CSRF token). Go back and try again.',
  unknown_connector: (p: PageErrorParams) => `Unknown connector "${p.connectorId ?? ''}".`,
  wrong_connector: () => 'This login request belongs to another connector.',
  connector_takes_no_password: () => 'This connector does not take a password.',
  connector_uses_no_callback: () => 'This connector does not use callbacks.',
  connector_uses_no_saml: () => 'This login request does not use SAML.',
  saml_response_missing: () =>
    'The identity provider sent no login response. Go back to the application and sign in again.',
  login_before_approval: () => 'Log in before approving this request.',
  request_failed: (p: PageErrorParams) => `The request failed: ${p.error ?? ''}.`,
  logout_hint_invalid: () =>
    'The logout request carries an id_token_hint that is not an ID token this provider issued.',
  logout_client_mismatch: () => 'The client_id does not match the id_token_hint.',
  logout_redirect_without_client: () =>
    'post_logout_redirect_uri needs an id_token_hint or client_id to identify the client.',
  logout_redirect_unregistered: () => 'The post_logout_redirect_uri is not registered for this client.',
  logout_form_csrf: () => 'The logout form was not submitted from this browser. Go back and try again.',
  device_form_csrf: () =>
    'The form was not submitted from this page (missing or wrong CSRF token). Go back and try again.',
  device_code_finished: () => 'This code is invalid, has expired or was used already. Start again on your device.',
  device_login_other_browser: () =>
    'This device login was not started in this browser. Enter the code from your device again.',
  device_login_failed: () => 'The login failed. Start again on your device.',
} satisfies Record<string, (params: PageErrorParams) => string>;

/** What an error page can say, by code. */
export type PageErrorCode = keyof typeof SENTENCES;

/** The sentence an error page shows for `code`. */
export const pageErrorSentence = (code: PageErrorCode, params: PageErrorParams = {}): string => SENTENCES[code](params);
