// deskgraph's GraphiQL page in headless Chromium (Debian's, driven by playwright-core) with no
// network but the served origin: picks a demo persona, runs a query and waits for the answer.
// Every request to anywhere else is aborted and reported, so the page must work offline.
// Usage: node graphiql.mjs BASE_URL PERSONA QUERY EXPECTED_TEXT
// Prints one JSON object: the response pane's JSON, the Headers editor's text, the
// Authorization header GraphiQL sent, the persona button's state, and what went wrong.
import { chromium } from 'playwright-core';

const [base, persona, query, expected] = process.argv.slice(2);
const origin = new URL(base).origin;
const TIMEOUT = 30_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // No name resolves but the loopback address: a second wall behind the routing below.
  args: ['--no-sandbox', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
});
const report = { blocked: [], failed: [], errors: [], authorization: null, introspection: null };
let page;
try {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    report.blocked.push(url);
    return route.abort('blockedbyclient');
  });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (error) => report.errors.push(`page: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') report.errors.push(`console: ${message.text()}`);
  });
  page.on('requestfailed', (request) => {
    report.failed.push(`${request.url()}: ${request.failure()?.errorText}`);
  });
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url() === `${origin}/graphql`) {
      const body = request.postData() || '';
      if (!body.includes('IntrospectionQuery')) {
        report.authorization = request.headers()['authorization'] ?? null;
      }
    }
  });

  // GraphiQL loads the schema (docs, completion) with the tools' introspection query.
  page.on('response', async (response) => {
    const body = response.request().postData() || '';
    if (response.url() === `${origin}/graphql` && body.includes('IntrospectionQuery')) {
      const answer = await response.json().catch(() => ({}));
      report.introspection = {
        status: response.status(),
        errors: (answer.errors ?? []).map((e) => e.message),
        types: answer.data?.__schema?.types?.length ?? 0,
      };
    }
  });

  await page.goto(`${base}/graphql`, { waitUntil: 'load' });
  // The buttons are enabled once GraphiQL is running; a click waits for that.
  const button = page.getByRole('button', { name: new RegExp(`\\b${persona}\\b`) });
  await button.click();

  // Replace the query as a user pastes one: select all in the editor, then insert the text.
  await page.locator('.graphiql-query-editor .CodeMirror').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(query);
  await page.getByRole('button', { name: /execute query/i }).click();
  await page.waitForFunction(
    (text) => document.querySelector('.graphiql-response')?.textContent.includes(text),
    expected,
  );
  report.query = await editorValue(page, '.graphiql-query-editor');
  report.pressed = await button.getAttribute('aria-pressed');
  report.status = await page.locator('#dg-status').textContent();
  // The Headers tab is open (in development) and shows the persona's token.
  report.headers = await editorValue(
    page,
    '.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden)',
  );
  report.response = JSON.parse(await editorValue(page, '.graphiql-response'));
} catch (error) {
  report.errors.push(`script: ${error.message}`);
  // What the page showed instead, to say why.
  report.responseText = await editorValue(page, '.graphiql-response').catch(() => null);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report) + '\n');

// The whole text of the CodeMirror editor inside `selector` (the DOM holds only what is shown).
async function editorValue(page, selector) {
  return page
    .locator(`${selector} .CodeMirror`)
    .first()
    .evaluate((node) => node.CodeMirror.getValue());
}
