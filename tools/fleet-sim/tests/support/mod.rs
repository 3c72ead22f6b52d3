//! Helpers for the in-process tests: a fleet on ephemeral ports, a JSON HTTP client, timeouts.

use std::future::Future;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lv_fleet_sim::{Sim, SimConfig};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The longest any test (or stop) may take.
pub const LIMIT: Duration = Duration::from_secs(10);

/// Runs a test body, failing it if it takes longer than [`LIMIT`].
pub async fn within<T>(body: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, body)
        .await
        .expect("test timed out")
}

/// A test configuration: ephemeral ports on 127.0.0.1, no simulated latency.
pub fn quick() -> SimConfig {
    SimConfig {
        port_offset: None,
        latency_scale: 0.0,
        seed: Some(1),
        ..SimConfig::default()
    }
}

/// A running fleet with a client and its shutdown token.
pub struct Fleet {
    /// The simulator.
    pub sim: Sim,
    /// Cancelling this stops every server.
    pub shutdown: CancellationToken,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// Starts a fleet with `config`.
pub async fn spawn_fleet(config: SimConfig) -> Fleet {
    let shutdown = CancellationToken::new();
    let sim = lv_fleet_sim::start(config, shutdown.clone())
        .await
        .expect("fleet starts");
    Fleet {
        sim,
        shutdown,
        client: Client::builder(TokioExecutor::new()).build_http(),
    }
}

impl Fleet {
    /// The port `agent` was bound on.
    pub fn port(&self, agent: &str) -> u16 {
        let agent = self.sim.fleet().get(agent).expect("agent in the fleet");
        agent.port.expect("bound port")
    }

    /// Sends a request to `agent` and returns the status and the JSON body (`Null` if empty).
    pub async fn call(
        &self,
        method: Method,
        agent: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = format!("http://127.0.0.1:{}{path}", self.port(agent));
        self.send(method, &url, body.map(|b| b.to_string())).await
    }

    /// Sends a request with a raw body to `url`; returns the status and the JSON body.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
    ) -> (StatusCode, Value) {
        self.send_with(method, url, &[], body).await
    }

    /// `GET` of `path` on `agent` with extra `headers`; returns the status and the JSON body.
    pub async fn get_with(
        &self,
        agent: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let url = format!("http://127.0.0.1:{}{path}", self.port(agent));
        self.send_with(Method::GET, &url, headers, None).await
    }

    /// [`Fleet::send`] with extra `headers`.
    pub async fn send_with(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", "application/json");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("valid request");
        let response = self.client.request(request).await.expect("response");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        (status, json)
    }

    /// Cancels the fleet and waits for every server to stop.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(LIMIT, self.sim.wait())
            .await
            .expect("fleet stops in time");
    }
}
