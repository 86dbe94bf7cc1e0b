//! A real SMTP server for tests: accepts messages over TCP and keeps their bytes. It can be
//! taken down and brought back on the same port, or told to answer 4xx or 5xx, to test what
//! delivery does when the mail server misbehaves.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// 451 after DATA: try again later.
    TempFail,
    /// 550 at RCPT: this recipient will never work.
    Reject,
    /// Takes the whole message and never answers it (a server hung mid-transaction): the
    /// sender waits for its timeout, and the message is not kept.
    Stall,
}

#[derive(Default)]
struct Shared {
    messages: Vec<Vec<u8>>,
    mode: Option<Mode>,
    tasks: Vec<AbortHandle>,
}

/// The sink; dropping it stops it.
pub struct Sink {
    port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl Sink {
    pub async fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().unwrap().port();
        let sink = Sink {
            port,
            shared: Arc::new(Mutex::new(Shared::default())),
        };
        sink.serve(listener);
        sink
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let shared2 = shared.clone();
                let session = tokio::spawn(async move {
                    let _ = session(socket, shared2).await;
                });
                shared.lock().unwrap().tasks.push(session.abort_handle());
            }
        });
        self.shared.lock().unwrap().tasks.push(task.abort_handle());
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message received so far, raw.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.shared.lock().unwrap().messages.clone()
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.lock().unwrap().mode = Some(mode);
    }

    /// Takes the server down: the port refuses connections and open sessions are cut.
    pub fn pause(&self) {
        for t in self.shared.lock().unwrap().tasks.drain(..) {
            t.abort();
        }
    }

    /// Brings it back on the same port.
    pub async fn resume(&self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot rebind the SMTP sink: {e}"),
            }
        };
        self.serve(listener);
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.pause();
    }
}

async fn session(socket: tokio::net::TcpStream, shared: Arc<Mutex<Shared>>) -> std::io::Result<()> {
    // Replies go out at once; each is one write, so Nagle would only delay them.
    socket.set_nodelay(true)?;
    // One stream for both directions, so the socket stays at hand for TCP_QUICKACK.
    let mut conn = BufReader::with_capacity(16 * 1024, socket);
    conn.write_all(b"220 sink.test ESMTP\r\n").await?;
    let mut line = Vec::with_capacity(1024);
    let mode = || shared.lock().unwrap().mode.unwrap_or(Mode::Accept);
    loop {
        line.clear();
        if conn.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let is = |verb: &[u8]| line.len() >= 4 && line[..4].eq_ignore_ascii_case(verb);
        let reply: &[u8] = if is(b"EHLO") {
            b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if is(b"RCPT") && mode() == Mode::Reject {
            b"550 5.1.1 no such user\r\n"
        } else if is(b"HELO") || is(b"MAIL") || is(b"RCPT") || is(b"RSET") || is(b"NOOP") {
            b"250 OK\r\n"
        } else if is(b"DATA") {
            conn.write_all(b"354 go ahead\r\n").await?;
            // A client that writes the message and then the final `.` in two writes without
            // TCP_NODELAY (lettre does) holds the `.` back until the message is acknowledged;
            // a delayed ACK would stall every email by 40 ms, so this one is sent at once.
            quick_ack(conn.get_ref());
            let mut body = Vec::with_capacity(4096);
            loop {
                let start = body.len();
                if conn.read_until(b'\n', &mut body).await? == 0 {
                    return Ok(());
                }
                let got = &body[start..];
                if got == b".\r\n" || got == b".\n" {
                    body.truncate(start);
                    break;
                }
                if got.starts_with(b"..") {
                    body.remove(start);
                }
            }
            if mode() == Mode::Stall {
                std::future::pending::<()>().await;
            }
            if mode() == Mode::TempFail {
                b"451 4.3.0 try again later\r\n"
            } else {
                shared.lock().unwrap().messages.push(body);
                b"250 OK queued\r\n"
            }
        } else if is(b"QUIT") {
            conn.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 not implemented\r\n"
        };
        conn.write_all(reply).await?;
    }
}

/// Turns on TCP_QUICKACK (Linux), which the kernel turns off again by itself.
fn quick_ack(socket: &tokio::net::TcpStream) {
    #[cfg(target_os = "linux")]
    let _ = socket2::SockRef::from(socket).set_tcp_quickack(true);
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}
