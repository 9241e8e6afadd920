// deskgraph's GraphiQL page: boots GraphiQL (graphiql.min.js on the React 18 UMD builds, all
// served by deskgraph itself) against this server's /graphql, and wires the demo persona
// buttons (development only) to the Headers editor.
(function () {
  'use strict';
  var h = React.createElement;
  var root = document.getElementById('graphiql');
  var status = document.getElementById('dg-status');
  var buttons = Array.prototype.slice.call(document.querySelectorAll('button[data-token]'));
  var endpoint = root.dataset.endpoint;
  // Subscriptions go over WebSocket at the same URL (graphql-transport-ws: the graphql-ws client
  // bundled in graphiql.min.js); the Headers editor's JSON is sent as connection_init's payload.
  var fetcher = GraphiQL.createFetcher({
    url: endpoint,
    subscriptionUrl: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + endpoint,
  });
  // Short lines: the editor is about 600 px wide at 1280 px.
  var DEFAULT_QUERY = [
    buttons.length
      ? '# Pick a demo persona above: its token'
      : '# Put {"Authorization": "Bearer <token>"}',
    buttons.length ? '# goes into Headers. Then run this with' : '# into Headers. Then run this with',
    '# Ctrl-Enter or ▶. Subscriptions run too.',
    '{',
    '  viewer {',
    '    kind',
    '    scopes',
    '    advisor { name }',
    '    customerUser { name }',
    '  }',
    '}',
    '',
  ].join('\n');

  // The persona bar folds; the choice is remembered, and a narrow screen starts folded.
  var bar = document.getElementById('dg-personas');
  var FOLD_KEY = 'deskgraph:personas-open';
  if (bar) {
    var remembered = null;
    try {
      remembered = localStorage.getItem(FOLD_KEY);
    } catch (error) {
      // storage off (private mode): the default applies
    }
    if (remembered !== null) bar.open = remembered === 'true';
    else if (window.matchMedia('(max-width: 700px)').matches) bar.open = false;
    bar.querySelector('summary').addEventListener('click', function () {
      try {
        localStorage.setItem(FOLD_KEY, String(!bar.open)); // the click is about to toggle it
      } catch (error) {
        // storage off: folding still works for this page
      }
    });
  }

  function headersOf(button) {
    return JSON.stringify({ Authorization: 'Bearer ' + button.dataset.token }, null, 2);
  }

  function App() {
    // The Headers editor's text, kept in step with the editor (onEditHeaders), so that a button
    // always changes the `headers` prop, and GraphiQL then writes it into the editor.
    var state = React.useState(undefined);
    var headers = state[0];
    var setHeaders = state[1];

    React.useEffect(function () {
      function choose(event) {
        setHeaders(headersOf(event.currentTarget));
      }
      buttons.forEach(function (button) {
        button.addEventListener('click', choose);
        button.disabled = false;
      });
      return function () {
        buttons.forEach(function (button) {
          button.removeEventListener('click', choose);
        });
      };
    }, []);

    React.useEffect(
      function () {
        var chosen = null;
        buttons.forEach(function (button) {
          var pressed = headers === headersOf(button);
          button.setAttribute('aria-pressed', String(pressed));
          if (pressed) chosen = button;
        });
        if (status) {
          status.textContent = chosen ? 'Headers: the token of ' + chosen.dataset.label + '.' : '';
        }
      },
      [headers]
    );

    return h(GraphiQL, {
      fetcher: fetcher,
      headers: headers,
      onEditHeaders: setHeaders,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: buttons.length ? 'headers' : false,
      defaultQuery: DEFAULT_QUERY,
    });
  }

  ReactDOM.createRoot(root).render(h(App));
})();
