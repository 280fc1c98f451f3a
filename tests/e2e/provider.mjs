// A real OpenID Connect provider (panva/oidc-provider) for idbridge's
// end-to-end tests. Its development login form accepts any password.
//   PORT=... REDIRECT_URI=... ACCOUNTS='{"a@x":{"groups":["g"]}}' node provider.mjs
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'idbridge',
    client_secret: 'e2e-secret',
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  // Put the requested claims in the ID token itself, as Entra and Okta do for groups.
  conformIdTokenClaims: false,
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: id, email_verified: true, name: id, groups: accounts[id]?.groups ?? [] }),
  }),
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['idbridge-e2e-cookie-key'] },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
