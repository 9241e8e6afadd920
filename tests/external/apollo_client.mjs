// An SPA's data layer without React: @apollo/client (core) with an HTTP link for queries and
// mutations and a graphql-ws link for subscriptions, against a served deskgraph.
// Runs the dashboard query, subscribes to the first ticket's updates, changes its priority by
// a mutation, and prints one JSON line per step.
// Usage: node apollo_client.mjs HTTP_URL TOKEN
import { ApolloClient, HttpLink, InMemoryCache, gql, split } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token] = process.argv.slice(2);
const authorization = `Bearer ${token}`;
const wsClient = createClient({
  url: url.replace(/^http/, 'ws'),
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: authorization },
});
const client = new ApolloClient({
  link: split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
    },
    new GraphQLWsLink(wsClient),
    new HttpLink({ uri: url, headers: { authorization } }),
  ),
  cache: new InMemoryCache(),
});
const print = (line) => process.stdout.write(JSON.stringify(line) + '\n');

const DASHBOARD = gql`
  query DASHBOARD {
    tickets(view: MY_TEAMS, filter: { states: [NEW, OPEN] }, first: 5) {
      totalCount
      edges { node { id number title priority version isExternal team { name } } }
    }
  }
`;
const dashboard = await client.query({ query: DASHBOARD });
print({ step: 'query', data: dashboard.data });

const ticket = dashboard.data.tickets.edges[0].node;
const UPDATED = gql`
  subscription TICKET_UPDATED($id: ID!) { ticketUpdated(id: $id) { id priority version } }
`;
// Each event re-reads the ticket, so it shows the ticket as the last change left it.
let resolveEvent;
const events = [];
client.subscribe({ query: UPDATED, variables: { id: ticket.id } }).subscribe({
  next: (result) => {
    events.push(result.data);
    resolveEvent?.();
  },
  error: (error) => print({ step: 'error', message: String(error) }),
});
const arrived = (ms) =>
  new Promise((resolve) => {
    resolveEvent = resolve;
    setTimeout(resolve, ms);
  });

const UPDATE = gql`
  mutation UPDATE_TICKET($input: UpdateTicketInput!) {
    updateTicket(input: $input) { ticket { id priority version } }
  }
`;
// The server cannot say when the subscription listens: change the ticket until an event
// arrives (a change made before it listened is not delivered), at most five times.
let version = ticket.version;
let updated;
for (let attempt = 0; attempt < 5 && events.length === 0; attempt += 1) {
  const priority = [ticket.priority === 'URGENT' ? 'LOW' : 'URGENT', 'NORMAL'][attempt % 2];
  updated = await client.mutate({
    mutation: UPDATE,
    variables: { input: { id: ticket.id, version, priority } },
  });
  version = updated.data.updateTicket.ticket.version;
  await arrived(3000);
}
print({ step: 'mutation', data: updated.data });
print({ step: 'subscription', data: events.at(-1) ?? null });

await wsClient.dispose();
process.exit(0);
