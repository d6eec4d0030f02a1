// Submits the OAuth 2.0 Form Post response (web/render.ts renderFormPost) as soon as the page is parsed.
// It is a separate file because the CSP forbids inline scripts (script-src 'self').
/* global document, HTMLFormElement */
function submitResponse() {
  const form = document.forms[0];
  // Call the prototype's submit: a response parameter named "submit" would shadow form.submit.
  if (form) HTMLFormElement.prototype.submit.call(form);
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', submitResponse);
} else {
  submitResponse();
}
