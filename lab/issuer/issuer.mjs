// The lab's token issuer: a real OAuth2/OIDC provider (npm oidc-provider) issuing WLCG-profile JWT
// access tokens with the client_credentials grant. Everything it serves comes from one JSON config
// written by lab/issuer.py; the clients themselves are declared in lab/clients.py.
import fs from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const clientsById = new Map(cfg.clients.map((c) => [c.client_id, c]));
const allScopes = [...new Set(cfg.clients.flatMap((c) => c.scope.split(' ')))];

const provider = new Provider(cfg.issuer, {
  clients: cfg.clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: c.scope,
  })),
  jwks: { keys: cfg.signing_jwks.map((f) => JSON.parse(fs.readFileSync(f, 'utf8'))) },
  scopes: allScopes,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Without a resource the token would be opaque: the default resource is the lab audience.
      defaultResource: () => cfg.audience,
      useGrantedResource: () => true,
      // A token may carry only the scopes its client was declared with; any audience may be asked for,
      // so that wrong-audience tokens can be made for the authorization checks.
      getResourceServerInfo: (ctx, resourceIndicator, client) => ({
        scope: clientsById.get(client.clientId).scope,
        audience: resourceIndicator,
        accessTokenTTL: clientsById.get(client.clientId).ttl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: clientsById.get(client.clientId).alg } },
      }),
    },
  },
  formats: {
    customizers: {
      // INDIGO IAM's `audience` request parameter: several audiences, space-separated, make `aud` a list
      // (the profile allows one). oidc-provider itself takes one resource per client_credentials grant.
      jwt: (ctx, token, jwt) => {
        const asked = ctx?.oidc?.body?.audience;
        if (typeof asked === 'string' && asked.trim()) jwt.payload.aud = asked.trim().split(/\s+/);
      },
    },
  },
  extraTokenClaims: (ctx, token) => {
    const client = clientsById.get(token.clientId);
    const claims = { 'wlcg.ver': '1.0' };
    if (client && client.groups && client.groups.length) claims['wlcg.groups'] = client.groups;
    return claims;
  },
});

// One line per token issued (never the token): lets tests count issuer requests from the issuer's side.
provider.on('grant.success', (ctx) => {
  console.log(`token issued client=${ctx.oidc.client.clientId}`);
});

const server = https.createServer(
  { cert: fs.readFileSync(cfg.cert), key: fs.readFileSync(cfg.key) },
  provider.callback(),
);
server.listen(cfg.port, '127.0.0.1', () => {
  fs.writeFileSync(cfg.ready_file, String(process.pid));
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
