// deskgraph's GraphiQL page in headless Chromium (Debian's, driven by playwright-core), offline as
// in graphiql.mjs: the page loads with no console error (the favicon is served), the default
// query fits the editor at 1280 px, a subscription started in GraphiQL receives an event over
// the WebSocket at /graphql, and the persona bar folds, stays folded after a reload, and starts
// folded on a phone-sized screen.
// Usage: node graphiql_live.mjs BASE_URL PERSONA TICKET_ID
// Prints one JSON object.
import { chromium } from 'playwright-core';

const [base, persona, ticketId] = process.argv.slice(2);
const origin = new URL(base).origin;
const TIMEOUT = 30_000;
const TRIES = 5; // the subscription may not listen yet when the first message is written
const BODY = 'Hello from GraphiQL';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
});
const report = { blocked: [], failed: [], errors: [], loadErrors: null, sockets: [] };
let page;
try {
  const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 800 } });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    report.blocked.push(url);
    return route.abort('blockedbyclient');
  });
  page = await watched(context);
  page.on('websocket', (socket) => report.sockets.push(socket.url()));

  await page.goto(`${base}/graphql`, { waitUntil: 'load' });
  const button = page.getByRole('button', { name: new RegExp(`\\b${persona}\\b`) });
  await button.click(); // waits until GraphiQL runs (the buttons are enabled then)
  await page.waitForLoadState('networkidle');
  report.loadErrors = [...report.errors];
  report.favicon = await page.evaluate(async () => {
    const link = document.querySelector('link[rel="icon"]');
    return link ? (await fetch(link.href)).status : null;
  });
  // The default query's longest line fits the editor: nothing to scroll sideways.
  report.defaultQueryFits = await page
    .locator('.graphiql-query-editor .CodeMirror-scroll')
    .evaluate((node) => node.scrollWidth <= node.clientWidth);

  // A subscription, as a user types it, then messages written until one arrives.
  await page.locator('.graphiql-query-editor .CodeMirror').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(
    `subscription { ticketMessageAdded(ticketId: "${ticketId}") { channel body } }`,
  );
  // GraphiQL parses the editor's text a moment after a change (debounced); it sends an operation
  // over WebSocket once it knows it is a subscription.
  await page.waitForFunction(() =>
    document
      .querySelector('.graphiql-query-editor .CodeMirror')
      ?.CodeMirror.operations?.some((operation) => operation.operation === 'subscription'),
  );
  const token = await button.getAttribute('data-token');
  await page.getByRole('button', { name: /execute query/i }).click();
  report.writes = 0;
  for (let attempt = 0; attempt < TRIES && !report.response; attempt += 1) {
    report.writes += 1;
    await page.evaluate(
      async ({ token, ticketId, body }) => {
        const query = `mutation ($input: AddTicketMessageInput!) {
          addTicketMessage(input: $input) { message { id } } }`;
        const input = { ticketId, channel: 'CHAT', body };
        await fetch('/graphql', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: JSON.stringify({ query, variables: { input } }),
        });
      },
      { token, ticketId, body: `${BODY} ${attempt}` },
    );
    try {
      await page.waitForFunction(
        (text) => document.querySelector('.graphiql-response')?.textContent.includes(text),
        BODY,
        { timeout: TIMEOUT / TRIES },
      );
      report.response = JSON.parse(await editorValue(page, '.graphiql-response'));
    } catch (error) {
      if (attempt === TRIES - 1) throw error;
    }
  }

  // The persona bar folds, and stays folded after a reload.
  const bar = page.locator('#dg-personas');
  report.barOpenAtFirst = await bar.evaluate((node) => node.open);
  await page.locator('#dg-personas summary').click();
  report.barOpenAfterClick = await bar.evaluate((node) => node.open);
  await page.reload({ waitUntil: 'load' });
  await page.waitForFunction(() => !document.getElementById('dg-personas').open);
  report.barOpenAfterReload = await page.locator('#dg-personas').evaluate((node) => node.open);

  // A phone, never here before: the bar starts folded, with its summary one line high.
  const phone = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 390, height: 844 } });
  await phone.route('**/*', (route) =>
    new URL(route.request().url()).origin === origin ? route.continue() : route.abort('blockedbyclient'),
  );
  const small = await watched(phone);
  await small.goto(`${base}/graphql`, { waitUntil: 'load' });
  await small.waitForFunction(() => !document.getElementById('dg-personas').open);
  report.phoneBarOpen = await small.locator('#dg-personas').evaluate((node) => node.open);
  report.phoneBarHeight = await small.locator('#dg-personas').evaluate((node) => node.offsetHeight);
} catch (error) {
  report.errors.push(`script: ${error.message}`);
  report.responseText = page ? await editorValue(page, '.graphiql-response').catch(() => null) : null;
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report) + '\n');

async function watched(context) {
  const tab = await context.newPage();
  tab.setDefaultTimeout(TIMEOUT);
  tab.on('pageerror', (error) => report.errors.push(`page: ${error.message}`));
  tab.on('console', (message) => {
    if (message.type() === 'error') report.errors.push(`console: ${message.text()}`);
  });
  tab.on('requestfailed', (request) => {
    report.failed.push(`${request.url()}: ${request.failure()?.errorText}`);
  });
  return tab;
}

async function editorValue(page, selector) {
  return page
    .locator(`${selector} .CodeMirror`)
    .first()
    .evaluate((node) => node.CodeMirror.getValue());
}
