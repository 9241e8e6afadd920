// The graphql-http audit suite against a running server: prints one JSON line per check.
// Usage: node audit.mjs URL [TOKEN]
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);
const fetchWithToken = token
  ? (input, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token}`);
      return fetch(input, { ...init, headers });
    }
  : fetch;
const results = await auditServer({ url, fetchFn: fetchWithToken });
for (const result of results) {
  const line = { id: result.id, name: result.name, status: result.status, reason: result.reason };
  process.stdout.write(JSON.stringify(line) + '\n');
}
