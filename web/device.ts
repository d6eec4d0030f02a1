/**
 * The device flow's pages (RFC 8628 §3.3): where the user types the code their device shows, and the page that sends
 * them back to the device. Plain forms and text, so they work without JavaScript.
 */
import { html } from './html.js';
import { renderDocument } from './layout.js';
import type { Page } from './layout.js';

/** The code-entry page (`<issuer>/device`). */
export interface DevicePage extends Page {
  /** Where the form POSTs (`<issuer>/device/auth/verify_code`). */
  readonly postUrl: string;
  /** Pre-filled code: from `verification_uri_complete`, or the last attempt. Empty for none. */
  readonly userCode: string;
  /** The last code was wrong, expired or used; shows a message that does not say which. */
  readonly invalid: boolean;
  /** Sent back as the hidden `csrf` field. */
  readonly csrfToken: string;
}

/** Shown after the user approved or denied a device login. */
export interface DeviceResultPage extends Page {
  readonly approved: boolean;
  /** The device's client, by display name (client-supplied text). */
  readonly clientName: string;
}

/** Renders the code-entry form. */
export function renderDevice(page: DevicePage): string {
  const error = 'user-code-error';
  const invalid = page.invalid && html` aria-invalid="true" aria-describedby="${error}"`;
  const body = html`<h1>Log in a device</h1>
<p id="user-code-help">Enter the code shown on your device.</p>
${page.invalid && html`<p id="${error}" class="alert" role="alert">Invalid or expired code. Check the code on your device and try again.</p>`}
<form method="post" action="${page.postUrl}" class="form">
<input type="hidden" name="csrf" value="${page.csrfToken}">
<div class="field">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" type="text" value="${page.userCode}" placeholder="XXXX-XXXX" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="64" required autofocus${invalid}>
</div>
<button type="submit" class="button button-primary">Continue</button>
</form>`;
  return renderDocument({ page, title: 'Log in a device', body });
}

/** Renders the closing page of a device login. */
export function renderDeviceResult(page: DeviceResultPage): string {
  const body = page.approved
    ? html`<h1>Login successful</h1>
<p>You are logged in on your device to ${page.clientName}. Return to your device to continue.</p>
<p class="muted">You can close this window.</p>`
    : html`<h1>Access denied</h1>
<p>You did not allow ${page.clientName} to log in on your device.</p>
<p class="muted">You can close this window.</p>`;
  return renderDocument({ page, title: page.approved ? 'Login successful' : 'Access denied', body });
}
