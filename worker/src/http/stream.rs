//! A connection to one origin: plain TCP or TLS over TCP, opened with a timeout.

use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::RequestError;

/// Where requests go: scheme, host and port (the pool keeps connections per origin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Origin {
    /// HTTPS (TLS) or plain HTTP.
    pub tls: bool,
    /// Host name or address as written in the URL (IPv6 without brackets).
    pub host: Box<str>,
    /// Port, explicit or the scheme's default.
    pub port: u16,
}

/// An open byte stream to an origin.
pub(super) enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Plain(_) => "Stream::Plain",
            Stream::Tls(_) => "Stream::Tls",
        })
    }
}

impl Stream {
    /// Opens a connection to `origin` (TCP_NODELAY on), with TLS for HTTPS.
    pub async fn connect(
        origin: &Origin,
        tls: &Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Stream, RequestError> {
        let open = async {
            let tcp = TcpStream::connect((&*origin.host, origin.port)).await?;
            tcp.set_nodelay(true)?;
            if !origin.tls {
                return Ok(Stream::Plain(tcp));
            }
            let name = ServerName::try_from(origin.host.to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let tls = TlsConnector::from(Arc::clone(tls))
                .connect(name, tcp)
                .await?;
            Ok(Stream::Tls(Box::new(tls)))
        };
        match tokio::time::timeout(timeout, open).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(err)) => Err(io_error(&err)),
            Err(_) => Err(RequestError::Transport(format!(
                "connect timeout after {timeout:?}"
            ))),
        }
    }

    /// Writes all of `bytes` (and flushes TLS).
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.write_all(bytes).await,
            Stream::Tls(tls) => {
                tls.write_all(bytes).await?;
                tls.flush().await
            }
        }
    }

    /// False when the peer has closed the idle connection (or sent bytes nobody asked for),
    /// as far as the socket already knows: no system call unless the socket is readable.
    pub fn still_open(&self) -> bool {
        let tcp = match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref().0,
        };
        let mut cx = Context::from_waker(Waker::noop());
        match tcp.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            // Readable while idle: an end of stream, an error or stray bytes; only a
            // spurious readiness (nothing to read) leaves it usable.
            Poll::Ready(Ok(())) => matches!(
                tcp.try_read(&mut [0u8; 1]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock
            ),
        }
    }

    /// Reads what is available into `buf`; 0 means the peer closed the connection.
    pub async fn read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read_buf(buf).await,
            Stream::Tls(tls) => tls.read_buf(buf).await,
        }
    }
}

/// The request error for an I/O error: refusals are told apart, the rest keep their text.
pub(super) fn io_error(err: &io::Error) -> RequestError {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => RequestError::Refused,
        _ => RequestError::Transport(super::error_chain(err)),
    }
}
