/**
 * The sentences of idport's error pages. Protocol code decides what went wrong and names it with a code (and the
 * values the sentence quotes); this table is the one place that says it to a person, so wording and, later,
 * translations change here alone. Every sentence names a next step where there is one.
 */

/** Values a sentence may quote (escaped by the page template like any other text). */
export type PageErrorParams = Readonly<Record<string, string>>;

/** What each error page says: a plain-language title, the sentence, and the next step when the sentence has none. */
const PAGES = {
  repeated_client_parameters: {
    title: 'This login link is not valid',
    sentence: () => 'The request repeated client_id or redirect_uri.',
    next: "Go back to the application and try again. If it keeps happening, tell the application's administrator.",
  },
  missing_client_id: {
    title: 'This login link is incomplete',
    sentence: () => 'The request has no client_id.',
    next: "Go back to the application and try again. If it keeps happening, tell the application's administrator.",
  },
  unknown_client: {
    title: 'This application is not registered',
    sentence: (p: PageErrorParams) => `Unknown client "${p.clientId ?? ''}".`,
    next: "Tell the application's administrator: the application must be registered with this sign-in service first.",
  },
  missing_redirect_uri: {
    title: 'This login link is incomplete',
    sentence: () => 'The request has no redirect_uri and the client has more than one registered.',
    next: "Tell the application's administrator: the application must say where to return after the login.",
  },
  parameter_too_long: {
    title: 'This login link is not valid',
    sentence: (p: PageErrorParams) =>
      `Invalid request (invalid_request): the ${p.name ?? ''} parameter is longer than ${p.limit ?? ''} characters.`,
    next: 'Go back to the application and sign in again.',
  },
  unregistered_redirect_uri: {
    title: "This application's return address is not registered",
    sentence: () => 'The redirect_uri is not registered for this client.',
    next: "Tell the application's administrator: the address the application asked to return to must be registered for it.",
  },
  login_request_expired: {
    title: 'This login has expired',
    sentence: () => 'This login request is invalid or has expired. Go back to the application and sign in again.',
  },
  login_form_csrf: {
    title: 'The form could not be accepted',
    sentence: () =>
      'The form was not submitted from this login page (missing or wrong CSRF token). Go back and try again.',
  },
  unknown_connector: {
    title: 'This login method does not exist',
    sentence: (p: PageErrorParams) => `Unknown connector "${p.connectorId ?? ''}".`,
    next: 'Go back to the application and sign in again.',
  },
  wrong_connector: {
    title: 'This login method does not match',
    sentence: () => 'This login request belongs to another connector.',
    next: 'Go back to the application and sign in again.',
  },
  connector_takes_no_password: {
    title: 'This login method cannot be used here',
    sentence: () => 'This connector does not take a password.',
    next: 'Go back to the application and sign in again.',
  },
  connector_uses_no_callback: {
    title: 'This login method cannot be used here',
    sentence: () => 'This connector does not use callbacks.',
    next: 'Go back to the application and sign in again.',
  },
  connector_uses_no_saml: {
    title: 'This login method cannot be used here',
    sentence: () => 'This login request does not use SAML.',
    next: 'Go back to the application and sign in again.',
  },
  saml_response_missing: {
    title: 'No answer from the identity provider',
    sentence: () => 'The identity provider sent no login response. Go back to the application and sign in again.',
  },
  login_before_approval: {
    title: 'Log in first',
    sentence: () => 'Log in before approving this request.',
    next: 'Go back to the application and sign in again.',
  },
  request_failed: {
    title: 'The login could not be completed',
    sentence: (p: PageErrorParams) => `The request failed: ${p.error ?? ''}.`,
    next: 'Go back to the application and sign in again.',
  },
  logout_hint_invalid: {
    title: 'This logout link is not valid',
    sentence: () => 'The logout request carries an id_token_hint that is not an ID token this provider issued.',
    next: 'You may still be logged in. Close the browser to end the session, or log out from the application again.',
  },
  logout_client_mismatch: {
    title: 'This logout link is not valid',
    sentence: () => 'The client_id does not match the id_token_hint.',
    next: 'You may still be logged in. Close the browser to end the session, or log out from the application again.',
  },
  logout_redirect_without_client: {
    title: 'This logout link is not valid',
    sentence: () => 'post_logout_redirect_uri needs an id_token_hint or client_id to identify the client.',
    next: 'You may still be logged in. Close the browser to end the session, or log out from the application again.',
  },
  logout_redirect_unregistered: {
    title: 'This logout link is not valid',
    sentence: () => 'The post_logout_redirect_uri is not registered for this client.',
    next: "You may still be logged in. Tell the application's administrator: the address to return to after logout must be registered.",
  },
  logout_form_csrf: {
    title: 'The logout form could not be accepted',
    sentence: () => 'The logout form was not submitted from this browser. Go back and try again.',
  },
  device_form_csrf: {
    title: 'The form could not be accepted',
    sentence: () => 'The form was not submitted from this page (missing or wrong CSRF token). Go back and try again.',
  },
  device_code_finished: {
    title: 'This code can no longer be used',
    sentence: () => 'This code is invalid, has expired or was used already. Start again on your device.',
  },
  device_login_other_browser: {
    title: 'Start again in this browser',
    sentence: () => 'This device login was not started in this browser. Enter the code from your device again.',
  },
  device_login_failed: {
    title: 'The device login failed',
    sentence: () => 'The login failed. Start again on your device.',
  },
} satisfies Record<string, { title: string; sentence: (params: PageErrorParams) => string; next?: string }>;

/** What an error page can say, by code. */
export type PageErrorCode = keyof typeof PAGES;

/** The sentence an error page shows for `code`. */
export const pageErrorSentence = (code: PageErrorCode, params: PageErrorParams = {}): string =>
  PAGES[code].sentence(params);

/** The title, sentence and next step of the error page for `code`. */
export const pageErrorText = (
  code: PageErrorCode,
  params: PageErrorParams = {},
): { readonly title: string; readonly message: string; readonly next?: string } => {
  const entry: { title: string; sentence: (p: PageErrorParams) => string; next?: string } = PAGES[code];
  return {
    title: entry.title,
    message: entry.sentence(params),
    ...(entry.next !== undefined ? { next: entry.next } : {}),
  };
};
