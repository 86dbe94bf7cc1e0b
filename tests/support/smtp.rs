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
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let mut line = Vec::new();
    let mode = || shared.lock().unwrap().mode.unwrap_or(Mode::Accept);
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let cmd = String::from_utf8_lossy(&line).trim().to_ascii_uppercase();
        let reply: &[u8] = if cmd.starts_with("EHLO") {
            b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if cmd.starts_with("RCPT") && mode() == Mode::Reject {
            b"550 5.1.1 no such user\r\n"
        } else if cmd.starts_with("HELO")
            || cmd.starts_with("MAIL")
            || cmd.starts_with("RCPT")
            || cmd.starts_with("RSET")
            || cmd.starts_with("NOOP")
        {
            b"250 OK\r\n"
        } else if cmd.starts_with("DATA") {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut body = Vec::new();
            loop {
                line.clear();
                if lines.read_until(b'\n', &mut line).await? == 0 {
                    return Ok(());
                }
                if line == b".\r\n" || line == b".\n" {
                    break;
                }
                let unstuffed = if line.starts_with(b"..") {
                    &line[1..]
                } else {
                    &line[..]
                };
                body.extend_from_slice(unstuffed);
            }
            if mode() == Mode::TempFail {
                b"451 4.3.0 try again later\r\n"
            } else {
                shared.lock().unwrap().messages.push(body);
                b"250 OK queued\r\n"
            }
        } else if cmd.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}
