/**
 * Dex's documented example configs of the OAuth 2.0 connectors with a hosted default (dexidp/website
 * content/docs/connectors/{microsoft,google,gitlab,gitea,bitbucketcloud}.md at 409440f, every `yaml` block as
 * published), for dex-examples.test.ts.
 */
/** One documented example, with the environment its `$VAR`s need. */
export interface DexExample {
  readonly type: string;
  /** The test's name, when a page has more than one example. */
  readonly label?: string;
  readonly yaml: string;
  readonly env: Readonly<Record<string, string>>;
  /** A file the example names that serve reads at startup; the test puts a CA certificate there. */
  readonly caFile?: string;
}

export const HOSTED_EXAMPLES: readonly DexExample[] = [
  {
    type: 'microsoft',
    label: 'microsoft (example 1 of 5)',
    env: { MICROSOFT_APPLICATION_ID: 'ms-app-id', MICROSOFT_CLIENT_SECRET: 'ms-secret' },
    yaml: `connectors:
  - type: microsoft
    # Required field for connector id.
    id: microsoft
    # Required field for connector name.
    name: Microsoft
    config:
      # Credentials can be string literals or pulled from the environment.
      clientID: $MICROSOFT_APPLICATION_ID
      clientSecret: $MICROSOFT_CLIENT_SECRET
      redirectURI: http://127.0.0.1:5556/dex/callback
`,
  },
  {
    type: 'microsoft',
    label: 'microsoft (example 2 of 5)',
    env: { MICROSOFT_APPLICATION_ID: 'ms-app-id', MICROSOFT_CLIENT_SECRET: 'ms-secret' },
    yaml: `connectors:
  - type: microsoft
    # Required field for connector id.
    id: microsoft
    # Required field for connector name.
    name: Microsoft
    config:
      # Credentials can be string literals or pulled from the environment.
      clientID: $MICROSOFT_APPLICATION_ID
      clientSecret: $MICROSOFT_CLIENT_SECRET
      redirectURI: http://127.0.0.1:5556/dex/callback
      tenant: organizations
`,
  },
  {
    type: 'microsoft',
    label: 'microsoft (example 3 of 5)',
    env: { MICROSOFT_APPLICATION_ID: 'ms-app-id', MICROSOFT_CLIENT_SECRET: 'ms-secret' },
    yaml: `connectors:
  - type: microsoft
    # Required field for connector id.
    id: microsoft
    # Required field for connector name.
    name: Microsoft
    config:
      # Credentials can be string literals or pulled from the environment.
      clientID: $MICROSOFT_APPLICATION_ID
      clientSecret: $MICROSOFT_CLIENT_SECRET
      redirectURI: http://127.0.0.1:5556/dex/callback
      tenant: example.onmicrosoft.com
      domainHint: example.com
      scopes:
        - openid
        - email
`,
  },
  {
    type: 'microsoft',
    label: 'microsoft (example 4 of 5)',
    env: { MICROSOFT_APPLICATION_ID: 'ms-app-id', MICROSOFT_CLIENT_SECRET: 'ms-secret' },
    yaml: `connectors:
  - type: microsoft
    # Required field for connector id.
    id: microsoft
    # Required field for connector name.
    name: Microsoft
    config:
      # Credentials can be string literals or pulled from the environment.
      clientID: $MICROSOFT_APPLICATION_ID
      clientSecret: $MICROSOFT_CLIENT_SECRET
      redirectURI: http://127.0.0.1:5556/dex/callback
      tenant: myorg.onmicrosoft.com
      groups:
        - developers
        - devops
`,
  },
  {
    type: 'microsoft',
    label: 'microsoft (example 5 of 5)',
    env: { MICROSOFT_APPLICATION_ID: 'ms-app-id', MICROSOFT_CLIENT_SECRET: 'ms-secret' },
    yaml: `connectors:
  - type: microsoft
    # Required field for connector id.
    id: microsoft
    # Required field for connector name.
    name: Microsoft
    config:
      # Credentials can be string literals or pulled from the environment.
      clientID: $MICROSOFT_APPLICATION_ID
      clientSecret: $MICROSOFT_CLIENT_SECRET
      redirectURI: http://127.0.0.1:5556/dex/callback
      tenant: myorg.onmicrosoft.com
      groups:
        - developers
        - devops
      # All relevant E-Mail Addresses delivered by AD will transformed to
      # lowercase if config is TRUE
      emailToLowercase: true
`,
  },
  {
    type: 'google',
    label: 'google',
    env: { GOOGLE_CLIENT_ID: 'google-id', GOOGLE_CLIENT_SECRET: 'google-secret' },
    yaml: `connectors:
- type: google
  id: google
  name: Google
  config:

    # Connector config values starting with a "$" will read from the environment.
    clientID: $GOOGLE_CLIENT_ID
    clientSecret: $GOOGLE_CLIENT_SECRET

    # Dex's issuer URL + "/callback"
    redirectURI: http://127.0.0.1:5556/dex/callback

    # Set the value of \`prompt\` query parameter in the authorization request
    # The default value is "consent" when not set.
    # promptType: consent

    # Google supports whitelisting allowed domains when using G Suite
    # (Google Apps). The following field can be set to a list of domains
    # that can log in:
    #
    # hostedDomains:
    #  - example.com

    # The Google connector supports whitelisting allowed groups when using G Suite
    # (Google Apps). The following field can be set to a list of groups
    # that can log in:
    #
    # groups:
    #  - admins@example.com

    # Google does not support the OpenID Connect groups claim and only supports
    # fetching a user's group membership with a service account.
    # This service account requires an authentication JSON file and the email
    # of a G Suite admin to impersonate:
    #
    #serviceAccountFilePath: googleAuth.json
    #domainToAdminEmail:
    #  *: super-user@example.com
    #  my-domain.com: super-user@my-domain.com
`,
  },
  {
    type: 'gitlab',
    label: 'gitlab',
    env: { GITLAB_APPLICATION_ID: 'gitlab-id', GITLAB_CLIENT_SECRET: 'gitlab-secret' },
    yaml: `connectors:
  - type: gitlab
    # Required field for connector id.
    id: gitlab
    # Required field for connector name.
    name: GitLab
    config:
      # optional, default = https://gitlab.com
      baseURL: https://gitlab.com
      # Credentials can be string literals or pulled from the environment.
      clientID: $GITLAB_APPLICATION_ID
      clientSecret: $GITLAB_CLIENT_SECRET
      redirectURI: http://127.0.0.1:5556/dex/callback
      # Optional groups whitelist, communicated through the "groups" scope.
      # If \`groups\` is omitted, all of the user's GitLab groups are returned when the groups scope is present.
      # If \`groups\` is provided, this acts as a whitelist - only the user's GitLab groups that are in the configured \`groups\` below will go into the groups claim.  Conversely, if the user is not in any of the configured \`groups\`, the user will not be authenticated.
      groups:
      - my-group
      # flag which will switch from using the internal GitLab id to the users handle (@mention) as the user id.
      # It is possible for a user to change their own user name but it is very rare for them to do so
      useLoginAsID: false
      # Flag to include user group permissions in the user groups.
      # For example, if the user has maintainer access to a GitLab group named "project/group1", 
      # the user's groups will reflect two entries: "project/group1" and "project/group1:maintainer".
      getGroupsPermission: false
`,
  },
  {
    type: 'gitea',
    label: 'gitea',
    env: { GITEA_CLIENT_ID: 'gitea-id', GITEA_CLIENT_SECRET: 'gitea-secret' },
    yaml: `connectors:
- type: gitea
  # Required field for connector id.
  id: gitea
  # Required field for connector name.
  name: Gitea
  config:
    # Credentials can be string literals or pulled from the environment.
    clientID: $GITEA_CLIENT_ID
    clientSecret: $GITEA_CLIENT_SECRET
    redirectURI: http://127.0.0.1:5556/dex/callback
    # optional, default = https://gitea.com
    baseURL: https://gitea.com
`,
  },
  {
    type: 'bitbucket-cloud',
    label: 'bitbucket-cloud',
    env: { BITBUCKET_CLIENT_ID: 'bitbucket-id', BITBUCKET_CLIENT_SECRET: 'bitbucket-secret' },
    yaml: `connectors:
- type: bitbucket-cloud
  # Required field for connector id.
  id: bitbucket-cloud
  # Required field for connector name.
  name: Bitbucket Cloud
  config:
    # Credentials can be string literals or pulled from the environment.
    clientID: $BITBUCKET_CLIENT_ID
    clientSecret: $BITBUCKET_CLIENT_SECRET
    redirectURI: http://127.0.0.1:5556/dex/callback
    # Optional teams whitelist, communicated through the "groups" scope.
    # If \`teams\` is omitted, all of the user's Bitbucket teams are returned when the groups scope is present.
    # If \`teams\` is provided, this acts as a whitelist - only the user's Bitbucket teams that are in the configured \`teams\` below will go into the groups claim.  Conversely, if the user is not in any of the configured \`teams\`, the user will not be authenticated.
    teams:
    - my-team
    # Optional parameter to include team groups.
    # If enabled, the groups claim of dex id_token will looks like this:
    # ["my_team", "my_team/administrators", "my_team/members"]
    includeTeamGroups: true
`,
  },
  {
    // Not a documented block: the google example's Directory API lines uncommented, without a key file, as on
    // GKE with workload identity. Dex then uses the metadata server; idport too, and reaches it only at login.
    type: 'google',
    label: 'google (domainToAdminEmail without serviceAccountFilePath)',
    env: { GOOGLE_CLIENT_ID: 'google-id', GOOGLE_CLIENT_SECRET: 'google-secret' },
    yaml: `connectors:
- type: google
  id: google
  name: Google
  config:
    clientID: $GOOGLE_CLIENT_ID
    clientSecret: $GOOGLE_CLIENT_SECRET
    redirectURI: http://127.0.0.1:5556/dex/callback
    groups:
     - admins@example.com
    domainToAdminEmail:
      "*": super-user@example.com
      my-domain.com: super-user@my-domain.com
`,
  },
];
