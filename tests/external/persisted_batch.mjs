// Apollo Client (core) against a served deskgraph with the persisted-queries link (sha256 from
// Node's crypto, hashed queries sent by GET) and, in a second client, BatchHttpLink. Every
// request the links send is recorded through their `fetch`; prints one JSON line per step.
// Usage: node persisted_batch.mjs HTTP_URL TOKEN
import { createHash } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

const [url, token] = process.argv.slice(2);
const headers = { authorization: `Bearer ${token}` };
const print = (line) => process.stdout.write(JSON.stringify(line) + '\n');

let sent = [];
// What a request carried: its method, and whether it had the query text and the hash.
const recording = async (input, init = {}) => {
  const method = (init.method ?? 'GET').toUpperCase();
  const target = new URL(String(input));
  let payload = {};
  if (method === 'GET') {
    for (const key of ['query', 'extensions']) {
      if (target.searchParams.has(key)) payload[key] = target.searchParams.get(key);
    }
  } else {
    payload = JSON.parse(init.body);
  }
  const operations = Array.isArray(payload) ? payload : [payload];
  const response = await fetch(input, init);
  sent.push({
    method,
    status: response.status,
    operations: operations.length,
    withQuery: operations.map((operation) => Boolean(operation.query)),
    withHash: operations.map((operation) => {
      const { extensions } = operation;
      const parsed = typeof extensions === 'string' ? JSON.parse(extensions) : extensions;
      return Boolean(parsed?.persistedQuery);
    }),
  });
  return response;
};

const VIEWER = gql`
  query VIEWER {
    viewer { kind }
  }
`;
const TICKETS = gql`
  query TICKETS {
    tickets(first: 2) { edges { node { id number } } }
  }
`;

const persisted = new ApolloClient({
  link: new PersistedQueryLink({
    sha256: (text) => createHash('sha256').update(text).digest('hex'),
    useGETForHashedQueries: true,
  }).concat(new HttpLink({ uri: url, headers, fetch: recording })),
  cache: new InMemoryCache(),
});
for (const step of ['first', 'second']) {
  sent = [];
  const result = await persisted.query({ query: VIEWER, fetchPolicy: 'network-only' });
  print({ step, data: result.data, sent });
}

const batching = new ApolloClient({
  link: new BatchHttpLink({ uri: url, headers, fetch: recording, batchMax: 10, batchInterval: 20 }),
  cache: new InMemoryCache(),
});
sent = [];
const [viewer, tickets] = await Promise.all([
  batching.query({ query: VIEWER }),
  batching.query({ query: TICKETS }),
]);
print({ step: 'batch', data: [viewer.data, tickets.data], sent });
process.exit(0);
