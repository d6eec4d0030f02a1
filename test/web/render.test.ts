import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  renderApproval,
  renderError,
  renderFormPost,
  renderLoggedOut,
  renderLogin,
  renderLogout,
  renderOob,
  renderPassword,
} from '../../web/render.js';
import { renderLanding, renderNotFound } from '../../web/landing.js';
import type { PasswordPage } from '../../web/render.js';
import { HOSTILE, JS_URL, basePage, mainText, tags } from './helpers.js';

const passwordPage: PasswordPage = {
  ...basePage,
  postUrl: '/dex/auth/local/login?back=&state=abc',
  username: 'jane@example.com',
  usernamePrompt: 'Email address',
  invalid: false,
  csrfToken: 'csrf-token-123',
};

/** Every page, rendered with hostile values wherever user- or client-supplied text can appear. */
const hostilePages: Record<string, string> = {
  login: renderLogin({ ...basePage, issuerName: HOSTILE, connectors: [{ name: HOSTILE, type: HOSTILE, url: JS_URL }] }),
  password: renderPassword({
    ...passwordPage,
    issuerName: HOSTILE,
    postUrl: JS_URL,
    username: HOSTILE,
    usernamePrompt: HOSTILE,
    invalid: true,
    csrfToken: HOSTILE,
    rememberMe: { shown: true, checked: true },
    backUrl: JS_URL,
  }),
  approval: renderApproval({
    ...basePage,
    logoUrl: JS_URL,
    clientName: HOSTILE,
    clientLogoUrl: JS_URL,
    scopes: ['openid', HOSTILE, `audience:server:client_id:${HOSTILE}`],
    postUrl: JS_URL,
    authReqId: HOSTILE,
    csrfToken: HOSTILE,
    signedInAs: HOSTILE,
    userCode: HOSTILE,
  }),
  oob: renderOob({ ...basePage, code: HOSTILE }),
  error: renderError({
    ...basePage,
    title: HOSTILE,
    message: HOSTILE,
    next: HOSTILE,
    requestId: HOSTILE,
    back: { url: JS_URL, text: HOSTILE },
  }),
  landing: renderLanding({ ...basePage, issuerName: HOSTILE, issuer: HOSTILE }),
  notFound: renderNotFound({ ...basePage, issuerName: HOSTILE, issuer: HOSTILE, requestId: HOSTILE }),
  formPost: renderFormPost({ ...basePage, redirectUri: JS_URL, params: { [HOSTILE]: HOSTILE, state: HOSTILE } }),
  logout: renderLogout({
    ...basePage,
    issuerName: HOSTILE,
    postUrl: JS_URL,
    csrfToken: HOSTILE,
    cancelUrl: JS_URL,
    signedInAs: HOSTILE,
  }),
  loggedOut: renderLoggedOut({ ...basePage, issuerName: HOSTILE, returnUrl: JS_URL, clientName: HOSTILE }),
};

/** Every page with ordinary values. */
const plainPages: Record<string, string> = {
  login: renderLogin({ ...basePage, connectors: [{ name: 'GitHub', type: 'github', url: '/dex/auth/github?req=1' }] }),
  password: renderPassword({
    ...passwordPage,
    rememberMe: { shown: true, checked: false },
    backUrl: '/dex/auth?req=1',
  }),
  approval: renderApproval({
    ...basePage,
    clientName: 'Example App',
    scopes: ['openid'],
    postUrl: '/dex/approval',
    authReqId: 'r',
    csrfToken: 'c',
  }),
  oob: renderOob({ ...basePage, code: 'abc' }),
  error: renderError({ ...basePage, title: 'This application is not registered', message: 'Unknown client "x".' }),
  landing: renderLanding({ ...basePage, issuer: 'http://127.0.0.1:5556/dex' }),
  notFound: renderNotFound({ ...basePage, issuer: 'http://127.0.0.1:5556/dex', requestId: 'req-1' }),
  formPost: renderFormPost({ ...basePage, redirectUri: 'https://app.example/cb', params: { code: 'abc' } }),
  logout: renderLogout({ ...basePage, postUrl: '/dex/logout', csrfToken: 'c' }),
  loggedOut: renderLoggedOut(basePage),
};

describe('every page', () => {
  for (const [name, page] of Object.entries({ ...plainPages, ...prefixed('hostile ', hostilePages) })) {
    describe(name, () => {
      it('is an English HTML5 document with a viewport, the stylesheets and the logo', () => {
        assert.match(page, /^<!doctype html>\n<html lang="en"/);
        assert.match(page, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
        const stylesheets = tags(page, 'link')
          .filter((l) => l.rel === 'stylesheet')
          .map((l) => l.href);
        assert.deepEqual(stylesheets, ['/dex/static/main.css', '/dex/theme/styles.css']);
        assert.equal(tags(page, 'img').filter((i) => i.class === 'brand-logo').length, 1);
      });

      it('has no inline script, inline style, event handler or javascript: URL', () => {
        for (const script of tags(page, 'script')) assert.ok(script.src, 'every <script> has a src');
        assert.doesNotMatch(page, /<script(?![^>]*\ssrc=)[^>]*>/i);
        assert.doesNotMatch(page, /<style\b/i);
        const attributeNames = tags(page, '[a-z][a-z0-9]*').flatMap((attributes) => Object.keys(attributes));
        assert.deepEqual(
          attributeNames.filter((a) => a === 'style' || a.startsWith('on')),
          [],
        );
        assert.doesNotMatch(page, /javascript:/i);
      });

      it('labels every visible input', () => {
        for (const input of tags(page, 'input').filter((i) => i.type !== 'hidden')) {
          assert.ok(input.id, `input ${input.name} has an id`);
          assert.ok(
            tags(page, 'label').some((l) => l.for === input.id),
            `input ${input.id} has a label`,
          );
        }
      });

      it('sends a csrf token with every POST form back to idport', () => {
        // form_post posts to the client, which checks its own `state`; pages without a form have nothing to protect.
        if (name.endsWith('formPost') || tags(page, 'form').length === 0) return;
        assert.ok(tags(page, 'input').some((i) => i.type === 'hidden' && i.name === 'csrf'));
      });
    });
  }
});

describe('escaping of user- and client-supplied text', () => {
  for (const [name, page] of Object.entries(hostilePages)) {
    it(`${name}: hostile text stays text`, () => {
      assert.doesNotMatch(page, /<script>alert/);
      assert.doesNotMatch(page, /<img src=x/);
      assert.doesNotMatch(page, /"onmouseover=/);
      assert.doesNotMatch(page, /'x='/);
    });
  }

  it('login: shows the connector name as text and refuses a javascript: link', () => {
    const links = tags(hostilePages.login ?? '', 'a');
    assert.equal(links.length, 1);
    assert.equal(links[0]?.href, 'about:invalid#refused');
    assert.ok(mainText(hostilePages.login ?? '').includes(`Log in with ${HOSTILE}`));
  });

  it('password: keeps a hostile username (login_hint) exactly in the value attribute', () => {
    const login = tags(hostilePages.password ?? '', 'input').find((i) => i.name === 'login');
    assert.equal(login?.value, HOSTILE);
    assert.equal(tags(hostilePages.password ?? '', 'form')[0]?.action, 'about:invalid#refused');
    assert.ok(mainText(hostilePages.password ?? '').includes(HOSTILE), 'the prompt label is shown as text');
  });

  it('approval: shows a hostile client name and scope as text and drops a javascript: logo', () => {
    const page = hostilePages.approval ?? '';
    const text = mainText(page);
    assert.ok(text.includes(`${HOSTILE} would like to:`));
    assert.ok(text.includes(HOSTILE));
    assert.ok(text.includes(`Issue tokens for ${HOSTILE}`));
    assert.equal(tags(page, 'img').filter((i) => i.class === 'client-logo').length, 0);
    assert.equal(tags(page, 'img').find((i) => i.class === 'brand-logo')?.src, 'about:invalid#refused');
  });

  it('error: shows a hostile title, message, next step, back link text and request id as text', () => {
    const page = hostilePages.error ?? '';
    assert.equal(
      mainText(page),
      `${HOSTILE} ${HOSTILE} ${HOSTILE} ${HOSTILE} If you contact support, give them this request ID: ${HOSTILE}`,
    );
    assert.equal(tags(page, 'a')[0]?.href, 'about:invalid#refused');
  });

  it('form_post: keeps hostile names and values exact and refuses a javascript: redirect URI', () => {
    const page = hostilePages.formPost ?? '';
    assert.equal(tags(page, 'form')[0]?.action, 'about:invalid#refused');
    const fields = tags(page, 'input').map((i) => [i.name, i.value]);
    assert.deepEqual(fields, [
      [HOSTILE, HOSTILE],
      ['state', HOSTILE],
    ]);
  });

  it('logged out: shows a hostile client name as text and refuses a javascript: return URL', () => {
    const page = hostilePages.loggedOut ?? '';
    assert.ok(mainText(page).includes(`Return to ${HOSTILE}`));
    assert.equal(tags(page, 'a')[0]?.href, 'about:invalid#refused');
  });
});

describe('renderLogin', () => {
  it('links to each connector with a GET link', () => {
    const page = renderLogin({
      ...basePage,
      connectors: [
        { name: 'GitHub', type: 'github', url: '/dex/auth/github?req=1&x=2' },
        { name: 'LDAP', type: 'ldap', url: '/dex/auth/ldap?req=1' },
      ],
    });
    assert.deepEqual(
      tags(page, 'a').map((a) => a.href),
      ['/dex/auth/github?req=1&x=2', '/dex/auth/ldap?req=1'],
    );
    assert.equal(tags(page, 'form').length, 0);
    assert.match(mainText(page), /Log in with GitHub Log in with LDAP/);
  });
});

describe('renderPassword', () => {
  it('posts login, password and the csrf token, with the username pre-filled', () => {
    const page = renderPassword(passwordPage);
    assert.deepEqual(tags(page, 'form'), [
      { method: 'post', action: '/dex/auth/local/login?back=&state=abc', class: 'form' },
    ]);
    const inputs = tags(page, 'input');
    assert.deepEqual(
      inputs.find((i) => i.name === 'csrf'),
      { type: 'hidden', name: 'csrf', value: 'csrf-token-123' },
    );
    const login = inputs.find((i) => i.name === 'login');
    assert.equal(login?.value, 'jane@example.com');
    assert.equal(login?.autocomplete, 'username');
    assert.equal(inputs.find((i) => i.name === 'password')?.type, 'password');
    assert.ok(
      'autofocus' in (inputs.find((i) => i.name === 'password') ?? {}),
      'focus goes to the password when the username is known',
    );
    assert.deepEqual(
      tags(page, 'label').map((l) => l.for),
      ['login', 'password'],
    );
    assert.match(page, /<label for="login">Email address<\/label>/);
  });

  it('shows a generic message only when the last attempt was invalid', () => {
    assert.doesNotMatch(renderPassword(passwordPage), /Invalid/);
    const page = renderPassword({ ...passwordPage, invalid: true });
    assert.match(page, /<p id="login-error" class="alert" role="alert">Invalid username or password.<\/p>/);
    assert.equal(tags(page, 'input').find((i) => i.name === 'login')?.['aria-invalid'], 'true');
  });

  it('shows the remember-me checkbox only when asked, checked as given', () => {
    assert.doesNotMatch(renderPassword(passwordPage), /remember_me/);
    assert.doesNotMatch(
      renderPassword({ ...passwordPage, rememberMe: { shown: false, checked: true } }),
      /remember_me/,
    );
    const unchecked = tags(
      renderPassword({ ...passwordPage, rememberMe: { shown: true, checked: false } }),
      'input',
    ).find((i) => i.name === 'remember_me');
    assert.deepEqual(unchecked, { id: 'remember_me', name: 'remember_me', type: 'checkbox' });
    const checked = tags(renderPassword({ ...passwordPage, rememberMe: { shown: true, checked: true } }), 'input').find(
      (i) => i.name === 'remember_me',
    );
    assert.ok(checked && 'checked' in checked);
  });

  it('links back to the chooser only when there is one', () => {
    assert.equal(tags(renderPassword(passwordPage), 'a').length, 0);
    assert.deepEqual(tags(renderPassword({ ...passwordPage, backUrl: '/dex/auth?req=1' }), 'a'), [
      { href: '/dex/auth?req=1' },
    ]);
  });

  it('focuses the username when it is empty, and labels an empty prompt "Username"', () => {
    const page = renderPassword({ ...passwordPage, username: '', usernamePrompt: '' });
    assert.ok('autofocus' in (tags(page, 'input').find((i) => i.name === 'login') ?? {}));
    assert.match(page, /<label for="login">Username<\/label>/);
  });
});

describe('renderApproval', () => {
  const page = renderApproval({
    ...basePage,
    clientName: 'Example App',
    clientLogoUrl: 'https://app.example/logo.png',
    scopes: [
      'openid',
      'email',
      'profile',
      'groups',
      'offline_access',
      'federated:id',
      'audience:server:client_id:kube',
      'audience:server:client_id:other',
      'email',
      'custom:thing',
    ],
    clientNames: { kube: 'Kubernetes' },
    postUrl: '/dex/approval',
    authReqId: 'req-1',
    csrfToken: 'csrf-1',
  });

  it('lists each requested scope once, with a description or its raw name', () => {
    const items = [...page.matchAll(/<li>(.*?)<\/li>/g)].map((m) => m[1]);
    assert.deepEqual(items, [
      'Verify your identity',
      'View your email address',
      'View basic profile information',
      'View your groups',
      'Have offline access',
      'View your account ID at the identity provider you log in with',
      'Issue tokens for Kubernetes',
      'Issue tokens for other',
      '<code>custom:thing</code>',
    ]);
  });

  it('has one POST form with req, csrf and approve/rejected buttons', () => {
    assert.deepEqual(tags(page, 'form'), [
      { id: 'approval-form', method: 'post', action: '/dex/approval', class: 'form' },
    ]);
    assert.deepEqual(tags(page, 'input'), [
      { type: 'hidden', name: 'req', value: 'req-1' },
      { type: 'hidden', name: 'csrf', value: 'csrf-1' },
    ]);
    assert.deepEqual(
      tags(page, 'button').map((b) => [b.type, b.name, b.value]),
      [
        ['submit', 'approval', 'approve'],
        ['submit', 'approval', 'rejected'],
      ],
    );
  });

  it('shows the client name and logo', () => {
    assert.match(mainText(page), /Example App would like to:/);
    assert.equal(tags(page, 'img').find((i) => i.class === 'client-logo')?.src, 'https://app.example/logo.png');
  });

  it('does not read prototype properties as scope descriptions', () => {
    const odd = renderApproval({
      ...basePage,
      clientName: 'x',
      scopes: ['constructor', '__proto__', 'audience:server:client_id:toString'],
      postUrl: '/a',
      authReqId: 'r',
      csrfToken: 'c',
    });
    assert.deepEqual(
      [...odd.matchAll(/<li>(.*?)<\/li>/g)].map((m) => m[1]),
      ['<code>constructor</code>', '<code>__proto__</code>', 'Issue tokens for toString'],
    );
  });
});

describe('renderOob', () => {
  it('shows the code with copy instructions', () => {
    const page = renderOob({ ...basePage, code: 'code-123' });
    assert.match(page, /<code>code-123<\/code>/);
    assert.match(mainText(page), /Copy this code, switch to your application and paste it there/);
  });
});

describe('renderFormPost', () => {
  const page = renderFormPost({
    ...basePage,
    redirectUri: 'https://app.example/cb?x=1',
    params: { code: 'c1', state: 's&1', iss: 'https://id.example/dex', skipped: undefined },
  });

  it('posts hidden inputs for each parameter to the redirect URI', () => {
    assert.deepEqual(tags(page, 'form'), [{ method: 'post', action: 'https://app.example/cb?x=1', class: 'form' }]);
    assert.deepEqual(tags(page, 'input'), [
      { type: 'hidden', name: 'code', value: 'c1' },
      { type: 'hidden', name: 'state', value: 's&1' },
      { type: 'hidden', name: 'iss', value: 'https://id.example/dex' },
    ]);
  });

  it('is submitted by the external form-post.js, with a button inside <noscript> as a fallback', () => {
    assert.deepEqual(tags(page, 'script'), [{ src: '/dex/static/form-post.js', defer: '' }]);
    assert.match(page, /<noscript>[\s\S]*<button type="submit"[^>]*>Continue<\/button>[\s\S]*<\/noscript>\n<\/form>/);
  });
});

describe('renderLogout and renderLoggedOut', () => {
  it('asks to confirm logging out with a POST form carrying the csrf token', () => {
    const page = renderLogout({
      ...basePage,
      postUrl: '/dex/logout?s=1',
      csrfToken: 'csrf-9',
      cancelUrl: 'https://app.example/',
    });
    assert.match(mainText(page), /^Log out of Acme ID\?/);
    assert.deepEqual(tags(page, 'form'), [{ method: 'post', action: '/dex/logout?s=1', class: 'form' }]);
    assert.deepEqual(tags(page, 'input'), [{ type: 'hidden', name: 'csrf', value: 'csrf-9' }]);
    assert.equal(tags(page, 'a')[0]?.href, 'https://app.example/');
  });

  it('says the user is logged out, with a link back when there is one', () => {
    assert.equal(tags(renderLoggedOut(basePage), 'a').length, 0);
    const page = renderLoggedOut({ ...basePage, returnUrl: 'https://app.example/', clientName: 'Example App' });
    assert.match(mainText(page), /You are no longer logged in to Acme ID\. Return to Example App$/);
  });
});

describe('page shell', () => {
  it('builds asset URLs without a double slash when the issuer is at the root', () => {
    const page = renderError({ ...basePage, basePath: '/', title: 't', message: 'm' });
    assert.deepEqual(
      tags(page, 'link').map((l) => l.href),
      ['/static/favicon.svg', '/static/main.css', '/theme/styles.css'],
    );
    assert.equal(tags(page, 'img')[0]?.src, '/theme/logo.svg');
  });

  it('uses a configured logo and marks the theme', () => {
    const page = renderError({
      ...basePage,
      theme: 'dark',
      logoUrl: 'https://cdn.example/logo.png',
      title: 't',
      message: 'm',
    });
    assert.equal(tags(page, 'img')[0]?.src, 'https://cdn.example/logo.png');
    assert.match(page, /<html lang="en" data-theme="dark">/);
    assert.match(page, /<meta name="color-scheme" content="dark">/);
  });
});

function prefixed(prefix: string, pages: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(pages).map(([k, v]) => [prefix + k, v]));
}
