//! The target: a loopback `http://` URL, and connections to it.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};

use anyhow::{Context, Result, bail};

/// Where the probe sends its GETs.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    /// Host and port as the Host header carries them.
    pub authority: String,
    /// The path of every request.
    pub path: String,
    /// The address connected to.
    pub addr: SocketAddr,
}

impl Target {
    /// Reads `url` (`http://HOST:PORT/PATH`); only loopback addresses are accepted.
    pub fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("--url {url:?}: only http:// URLs are probed"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr = authority
            .to_socket_addrs()
            .with_context(|| format!("--url {url:?}: {authority:?} is not HOST:PORT"))?
            .next()
            .with_context(|| format!("--url {url:?}: {authority:?} has no address"))?;
        if !addr.ip().is_loopback() {
            bail!(
                "--url {url:?}: {} is not a loopback address; this probe only loads 127.0.0.1 or ::1",
                addr.ip()
            );
        }
        Ok(Self {
            authority: authority.to_string(),
            path: path.to_string(),
            addr,
        })
    }

    /// `n` non-blocking connections with Nagle's delay off.
    pub fn connect(&self, n: usize) -> Result<Vec<TcpStream>> {
        (0..n)
            .map(|i| {
                let stream = TcpStream::connect(self.addr)
                    .with_context(|| format!("connection {} of {n} to {}", i + 1, self.addr))?;
                stream.set_nodelay(true)?;
                stream.set_nonblocking(true)?;
                Ok(stream)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_url_gives_its_authority_path_and_address() -> Result<()> {
        let target = Target::parse("http://127.0.0.1:8080/health")?;
        assert_eq!(target.authority, "127.0.0.1:8080");
        assert_eq!(target.path, "/health");
        assert_eq!(target.addr, "127.0.0.1:8080".parse()?);
        assert_eq!(Target::parse("http://127.0.0.1:9")?.path, "/");
        Ok(())
    }

    #[test]
    fn other_schemes_and_addresses_are_refused_by_name() {
        let err = |url| {
            Target::parse(url)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err("https://127.0.0.1:1/").contains("only http://"));
        assert!(err("http://10.0.0.1:80/").contains("10.0.0.1 is not a loopback address"));
        assert!(err("http://127.0.0.1/").contains("is not HOST:PORT"));
    }
}
