/** The device flow's pages: the code-entry form and the closing page. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderDevice, renderDeviceResult, type DevicePage } from '../../web/render.js';
import { HOSTILE, JS_URL, basePage, mainText, tags } from './helpers.js';

const devicePage: DevicePage = {
  ...basePage,
  postUrl: '/dex/device/auth/verify_code',
  userCode: 'BCDF-GHJK',
  invalid: false,
  csrfToken: 'csrf-token-123',
};

describe('renderDevice', () => {
  it('posts the code and the csrf token to the verify URL, with the code pre-filled and labelled', () => {
    const page = renderDevice(devicePage);
    assert.deepEqual(tags(page, 'form'), [{ method: 'post', action: '/dex/device/auth/verify_code', class: 'form' }]);
    const inputs = tags(page, 'input');
    assert.deepEqual(
      inputs.find((i) => i.name === 'csrf'),
      { type: 'hidden', name: 'csrf', value: 'csrf-token-123' },
    );
    const code = inputs.find((i) => i.name === 'user_code');
    assert.equal(code?.value, 'BCDF-GHJK');
    assert.equal(code?.type, 'text');
    assert.ok(code && 'required' in code);
    assert.deepEqual(
      tags(page, 'label').map((l) => l.for),
      ['user_code'],
    );
    assert.equal(tags(page, 'script').length, 0, 'works without JavaScript');
    assert.doesNotMatch(page, /Invalid/);
  });

  it('shows a message that does not say why only when the last code was refused', () => {
    const page = renderDevice({ ...devicePage, invalid: true });
    assert.match(
      page,
      /<p id="user-code-error" class="alert" role="alert">Invalid or expired code\. Check the code on your device and try again\.<\/p>/,
    );
    const code = tags(page, 'input').find((i) => i.name === 'user_code');
    assert.equal(code?.['aria-invalid'], 'true');
    assert.equal(code?.['aria-describedby'], 'user-code-error');
  });

  it('keeps hostile text as text and refuses a javascript: action', () => {
    const page = renderDevice({
      ...devicePage,
      issuerName: HOSTILE,
      postUrl: JS_URL,
      userCode: HOSTILE,
      csrfToken: HOSTILE,
      invalid: true,
    });
    assert.doesNotMatch(page, /<script>alert/);
    assert.doesNotMatch(page, /<img src=x/);
    assert.doesNotMatch(page, /"onmouseover=/);
    assert.doesNotMatch(page, /javascript:/i);
    assert.equal(tags(page, 'form')[0]?.action, 'about:invalid#refused');
    assert.equal(tags(page, 'input').find((i) => i.name === 'user_code')?.value, HOSTILE);
    assert.equal(tags(page, 'input').find((i) => i.name === 'csrf')?.value, HOSTILE);
  });
});

describe('renderDeviceResult', () => {
  it('tells the user to return to the device after an approval', () => {
    const text = mainText(renderDeviceResult({ ...basePage, approved: true, clientName: 'kubectl' }));
    assert.equal(
      text,
      'Login successful You are logged in on your device to kubectl. Return to your device to continue. You can close this window.',
    );
  });

  it('says access was denied after a denial', () => {
    const text = mainText(renderDeviceResult({ ...basePage, approved: false, clientName: 'kubectl' }));
    assert.equal(text, 'Access denied You did not allow kubectl to log in on your device. You can close this window.');
  });

  it('shows a hostile client name as text', () => {
    for (const approved of [true, false]) {
      const page = renderDeviceResult({ ...basePage, approved, clientName: HOSTILE });
      assert.doesNotMatch(page, /<script>alert/);
      assert.doesNotMatch(page, /<img src=x/);
      assert.ok(mainText(page).includes(HOSTILE));
      assert.equal(tags(page, 'form').length, 0);
    }
  });
});
