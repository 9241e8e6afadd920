// CORS in a real browser: headless Chromium (Debian's, driven by playwright-core) opens a page on
// an allowed origin and one on an origin that is not, each served here on its own 127.0.0.1
// port, and from each calls deskgraph's /graphql with fetch, credentials and an Authorization
// header (so the browser sends a preflight first).
// Usage: node cors.mjs API_URL TOKEN ALLOWED_PORT REFUSED_PORT
// Prints one JSON object: per origin, what fetch gave the page (the JSON, or its error) and the
// console's errors.
import http from 'node:http';
import { chromium } from 'playwright-core';

const [api, token, allowedPort, refusedPort] = process.argv.slice(2);
const TIMEOUT = 30_000;
const PAGE = '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>SPA</title></head><body>SPA</body></html>';

const servers = [allowedPort, refusedPort].map((port) => {
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(PAGE);
  });
  return new Promise((resolve) => server.listen(Number(port), '127.0.0.1', () => resolve(server)));
});
const listening = await Promise.all(servers);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
});
const report = { errors: [] };
try {
  for (const [name, port] of [['allowed', allowedPort], ['refused', refusedPort]]) {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    const seen = { console: [] };
    page.on('console', (message) => {
      if (message.type() === 'error') seen.console.push(message.text());
    });
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load' });
    seen.result = await page.evaluate(
      async ({ api, token }) => {
        try {
          const response = await fetch(`${api}/graphql`, {
            method: 'POST',
            credentials: 'include',
            headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
            body: JSON.stringify({ query: '{ viewer { kind advisor { name } } }' }),
          });
          return { status: response.status, body: await response.json() };
        } catch (error) {
          return { error: `${error.name}: ${error.message}` };
        }
      },
      { api, token },
    );
    report[name] = seen;
    await context.close();
  }
} catch (error) {
  report.errors.push(`script: ${error.message}`);
} finally {
  await browser.close();
  for (const server of listening) server.close();
}
process.stdout.write(JSON.stringify(report) + '\n');
