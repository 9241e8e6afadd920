// deskgraph's GraphiQL page: boots GraphiQL (graphiql.min.js on the React 18 UMD builds, all
// served by deskgraph itself) against this server's /graphql, and wires the demo persona
// buttons (development only) to the Headers editor.
(function () {
  'use strict';
  var h = React.createElement;
  var root = document.getElementById('graphiql');
  var status = document.getElementById('dg-status');
  var buttons = Array.prototype.slice.call(document.querySelectorAll('button[data-token]'));
  var fetcher = GraphiQL.createFetcher({ url: root.dataset.endpoint });
  var DEFAULT_QUERY = [
    buttons.length
      ? '# Pick a demo persona above: its token goes into Headers.'
      : '# Put {"Authorization": "Bearer <token>"} into Headers.',
    '# Then run this with Ctrl-Enter or ▶.',
    '{',
    '  viewer { kind scopes advisor { name } customerUser { name } }',
    '}',
    '',
  ].join('\n');

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
