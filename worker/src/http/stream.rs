//! A connection to one origin: plain TCP or TLS over TCP, opened with a timeout; and the
//! origin of a URL.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::Uri;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::error::{RequestError, error_chain};

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

/// How long opening a connection took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Opened {
    /// TCP connect, name resolution included.
    pub connect: Duration,
    /// TLS handshake, for HTTPS.
    pub tls: Option<Duration>,
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
    /// Opens a connection to `origin` (TCP_NODELAY on), with TLS for HTTPS, and says how
    /// long the TCP connect (name resolution included) and the TLS handshake took.
    pub async fn connect(
        origin: &Origin,
        tls: &Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<(Stream, Opened), RequestError> {
        let open = async {
            let started = Instant::now();
            let tcp = TcpStream::connect((&*origin.host, origin.port)).await?;
            tcp.set_nodelay(true)?;
            let connected = Instant::now();
            let connect = connected - started;
            if !origin.tls {
                return Ok((Stream::Plain(tcp), Opened { connect, tls: None }));
            }
            let name = ServerName::try_from(origin.host.to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let stream = TlsConnector::from(Arc::clone(tls))
                .connect(name, tcp)
                .await?;
            let tls = Some(connected.elapsed());
            Ok((Stream::Tls(Box::new(stream)), Opened { connect, tls }))
        };
        match tokio::time::timeout(timeout, open).await {
            Ok(Ok(opened)) => Ok(opened),
            Ok(Err(err)) => Err(io_error(&err)),
            Err(_) => Err(RequestError::Transport(format!(
                "connect timeout after {timeout:?}"
            ))),
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
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The request error for an I/O error: refusals are told apart, TLS failures named by
/// their cause, the rest keep their text.
pub(super) fn io_error(err: &io::Error) -> RequestError {
    if let Some(tls) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return RequestError::Transport(super::tls::describe(tls));
    }
    match err.kind() {
        io::ErrorKind::ConnectionRefused => RequestError::Refused,
        _ => RequestError::Transport(error_chain(err)),
    }
}

/// The origin, `Host` header value and request target of an absolute URL.
pub(super) fn split_url(url: &str) -> Result<(Origin, String, String), RequestError> {
    let invalid = |why: &str| RequestError::Invalid(format!("{url}: {why}"));
    let uri: Uri = url.parse().map_err(|e| invalid(&format!("{e}")))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        Some(other) => return Err(invalid(&format!("scheme {other} is not http or https"))),
        None => return Err(invalid("not an absolute URL")),
    };
    let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
    let host = authority.host();
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let host_header = match authority.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let path = uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    Ok((
        Origin {
            tls,
            host: bare.into(),
            port,
        },
        host_header,
        path,
    ))
}
