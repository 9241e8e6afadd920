// A federation router in front of deskgraph, as a company composing it would run one:
// composes deskgraph's subgraph SDL (from `_service { sdl }`) with a small "warranty"
// subgraph whose claims point at deskgraph's tickets, and serves the supergraph through
// @apollo/gateway on @apollo/server. The client's Authorization header is passed on to the
// subgraphs. Prints {"gateway": URL} once serving; stops when its stdin closes.
// Usage: node gateway.mjs DESKGRAPH_GRAPHQL_URL CLAIMS_JSON
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

const [deskgraphUrl, claimsJson] = process.argv.slice(2);
const claims = JSON.parse(claimsJson);
const listen = { port: 0, host: '127.0.0.1' };

const response = await fetch(deskgraphUrl, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ query: '{ _service { sdl } }' }),
});
const deskgraphSdl = (await response.json()).data._service.sdl;

const warrantyTypeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.11", import: ["@key"])
  type Query { warrantyClaims: [WarrantyClaim!]! }
  type WarrantyClaim { id: ID! status: String! ticket: Ticket }
  type Ticket @key(fields: "id", resolvable: false) { id: ID! }
`);
const warranty = new ApolloServer({
  plugins: [ApolloServerPluginInlineTraceDisabled()],
  schema: buildSubgraphSchema({
    typeDefs: warrantyTypeDefs,
    resolvers: {
      Query: {
        warrantyClaims: () =>
          claims.map((c) => ({ id: c.id, status: c.status, ticket: { id: c.ticketId } })),
      },
    },
  }),
});
const { url: warrantyUrl } = await startStandaloneServer(warranty, { listen });

const composed = composeServices([
  { name: 'deskgraph', typeDefs: parse(deskgraphSdl), url: deskgraphUrl },
  { name: 'warranty', typeDefs: warrantyTypeDefs, url: warrantyUrl },
]);
if (composed.errors) {
  process.stderr.write(composed.errors.map((e) => e.message).join('\n') + '\n');
  process.exit(1);
}

const gateway = new ApolloGateway({
  supergraphSdl: composed.supergraphSdl,
  buildService: ({ url }) =>
    new RemoteGraphQLDataSource({
      url,
      willSendRequest({ request, context }) {
        if (context.authorization) request.http.headers.set('authorization', context.authorization);
      },
    }),
});
const router = new ApolloServer({ gateway });
const { url: gatewayUrl } = await startStandaloneServer(router, {
  listen,
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});
process.stdout.write(JSON.stringify({ gateway: gatewayUrl, warranty: warrantyUrl }) + '\n');

process.stdin.resume();
process.stdin.on('end', async () => {
  await router.stop();
  await warranty.stop();
  process.exit(0);
});
