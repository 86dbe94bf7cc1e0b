//! A GraphQL client over a real websocket (`graphql-transport-ws` on `/graphql/ws`).

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

/// An open subscription socket.
pub struct Socket(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl Socket {
    /// Connects to the app at `app_url` and sends `connection_init`, with `token` as its
    /// bearer when given; returns the socket and the server's answer (`None` when it closed).
    pub async fn connect(app_url: &str, token: Option<&str>) -> (Socket, Option<Value>) {
        let payload = match token {
            Some(t) => json!({ "Authorization": format!("Bearer {t}") }),
            None => json!({}),
        };
        Self::connect_with(app_url, payload).await
    }

    /// Like [`connect`](Self::connect), with `payload` as the `connection_init` payload.
    pub async fn connect_with(app_url: &str, payload: Value) -> (Socket, Option<Value>) {
        let url = format!("{}/graphql/ws", app_url.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the websocket connects");
        let mut socket = Socket(ws);
        socket
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        let ack = socket.next_json().await;
        (socket, ack)
    }

    /// Starts subscription `id` with `query` and `variables`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    pub async fn send(&mut self, message: Value) {
        self.0
            .send(Message::text(message.to_string()))
            .await
            .expect("the socket takes a message");
    }

    /// Sends `text` as one text message, whatever it holds.
    pub async fn send_raw(&mut self, text: String) {
        // The server may close the socket on reading it; that is the caller's to check.
        let _ = self.0.send(Message::text(text)).await;
    }

    /// The next JSON message, skipping pings; `None` when the server closed the socket.
    pub async fn next_json(&mut self) -> Option<Value> {
        while let Some(frame) = self.0.next().await {
            if let Ok(Message::Text(t)) = frame {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] != "ping" && v["type"] != "pong" {
                    return Some(v);
                }
            }
        }
        None
    }
}
