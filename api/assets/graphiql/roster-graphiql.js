// Starts GraphiQL on /graphql (queries and mutations over HTTP, subscriptions over
// /graphql/ws). A session token goes in the Headers tab as {"Authorization": "Bearer ..."}.
(function () {
  var url = new URL('/graphql', window.location.href).href;
  var wsUrl = url.replace(/^http/, 'ws') + '/ws';
  var fetcher = GraphiQL.createFetcher({
    url: url,
    wsClient: graphqlWs.createClient({ url: wsUrl, lazy: true }),
  });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, { fetcher: fetcher, shouldPersistHeaders: false })
  );
})();
