//! The gRPC side: checks each worker's Hello (protocol version, token) and forwards
//! its messages to the coordinator. No run state lives here.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::Stream;
use lv_common::pb::{self, control_server::Control, worker_message::Kind as WorkerKind};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};
use tracing::{debug, warn};

use crate::run::coordinator::Event;
use subtle::ConstantTimeEq;

/// How long a new stream may take to send its Hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages queued to one worker before it counts as unable to keep up.
const OUTBOUND_QUEUE: usize = 1024;

/// The Control service.
#[derive(Clone)]
pub struct ControlService {
    events: mpsc::Sender<Event>,
    token: Arc<str>,
    next_conn: Arc<AtomicU64>,
    shutdown: CancellationToken,
    /// Worker streams whose inbound side is still open.
    streams: Arc<watch::Sender<usize>>,
}

impl ControlService {
    /// A service forwarding to `events`, accepting workers that present `token`.
    pub fn new(events: mpsc::Sender<Event>, token: &str, shutdown: CancellationToken) -> Self {
        ControlService {
            events,
            token: Arc::from(token),
            next_conn: Arc::new(AtomicU64::new(1)),
            shutdown,
            streams: Arc::new(watch::Sender::new(0)),
        }
    }

    /// The number of worker streams still open, updated as they open and end.
    pub fn open_streams(&self) -> watch::Receiver<usize> {
        self.streams.subscribe()
    }
}

/// Counts one open worker stream for as long as it lives.
struct StreamGuard(Arc<watch::Sender<usize>>);

impl StreamGuard {
    fn new(streams: &Arc<watch::Sender<usize>>) -> StreamGuard {
        streams.send_modify(|n| *n += 1);
        StreamGuard(Arc::clone(streams))
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Checks a Hello; the error says why the worker is refused.
pub fn check_hello(hello: &pb::Hello, token: &str) -> Result<(), Status> {
    if hello.protocol_version != lv_common::PROTOCOL_VERSION {
        return Err(Status::failed_precondition(format!(
            "protocol version mismatch: the worker speaks version {}, this master speaks version {} (lv {})",
            hello.protocol_version,
            lv_common::PROTOCOL_VERSION,
            lv_common::VERSION
        )));
    }
    if !bool::from(hello.token.as_bytes().ct_eq(token.as_bytes())) {
        return Err(Status::permission_denied(if hello.token.is_empty() {
            "this master requires a token (--token or LV_TOKEN)"
        } else {
            "wrong token"
        }));
    }
    if hello.worker_id.is_empty() {
        return Err(Status::invalid_argument("Hello without a worker_id"));
    }
    Ok(())
}

type MasterStream = Pin<Box<dyn Stream<Item = Result<pb::MasterMessage, Status>> + Send>>;

#[tonic::async_trait]
impl Control for ControlService {
    type AttachStream = MasterStream;

    async fn attach(
        &self,
        request: Request<Streaming<pb::WorkerMessage>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(HELLO_TIMEOUT, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no Hello within 10 s"))??;
        let Some(pb::WorkerMessage {
            kind: Some(WorkerKind::Hello(hello)),
        }) = first
        else {
            return Err(Status::invalid_argument("the first message must be Hello"));
        };
        if let Err(status) = check_hello(&hello, &self.token) {
            warn!(worker_id = %hello.worker_id, hostname = %hello.hostname, "refused a worker: {}", status.message());
            return Err(status);
        }
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let worker_id = hello.worker_id.clone();
        self.events
            .send(Event::Attached { hello, conn, tx })
            .await
            .map_err(|_| Status::unavailable("the master is shutting down"))?;
        let guard = StreamGuard::new(&self.streams);
        tokio::spawn(forward(
            inbound,
            worker_id,
            conn,
            self.events.clone(),
            self.shutdown.child_token(),
            guard,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Forwards one worker's messages to the coordinator until its stream ends. Once the
/// coordinator is gone (the run is over) it keeps reading and discarding them: dropping the
/// stream would reset it, and a reset can discard the Shutdown still on its way out.
async fn forward(
    mut inbound: Streaming<pb::WorkerMessage>,
    worker_id: String,
    conn: u64,
    events: mpsc::Sender<Event>,
    shutdown: CancellationToken,
    _open: StreamGuard,
) {
    let mut coordinator_gone = false;
    let reason = loop {
        let message = tokio::select! {
            () = shutdown.cancelled() => return,
            message = inbound.message() => message,
        };
        match message {
            Ok(Some(message)) if !coordinator_gone => {
                let event = Event::Message {
                    worker_id: worker_id.clone(),
                    conn,
                    message: Box::new(message),
                };
                coordinator_gone = events.send(event).await.is_err();
            }
            Ok(Some(_)) => {}
            Ok(None) => break "stream closed".to_owned(),
            Err(status) => break status.message().to_owned(),
        }
    };
    debug!(worker_id, conn, %reason, "worker stream ended");
    let _ = events
        .send(Event::Detached {
            worker_id,
            conn,
            reason,
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(token: &str, version: u32) -> pb::Hello {
        pb::Hello {
            worker_id: "w".into(),
            protocol_version: version,
            token: token.into(),
            ..Default::default()
        }
    }

    #[test]
    fn hello_checks_say_why() {
        assert!(check_hello(&hello("s3cret", lv_common::PROTOCOL_VERSION), "s3cret").is_ok());
        let wrong =
            check_hello(&hello("nope", lv_common::PROTOCOL_VERSION), "s3cret").expect_err("token");
        assert_eq!(wrong.code(), tonic::Code::PermissionDenied);
        assert_eq!(wrong.message(), "wrong token");
        let old = check_hello(&hello("", 99), "").expect_err("version");
        assert!(
            old.message().contains("99")
                && old
                    .message()
                    .contains(&lv_common::PROTOCOL_VERSION.to_string())
        );
    }

    /// A worker stream stays open, and counted, until the worker hangs up, even once the
    /// coordinator is gone and the worker is still sending: the master waits on that count
    /// before it closes, so a Shutdown on its way out is never reset away.
    #[tokio::test]
    async fn a_stream_stays_counted_until_the_worker_hangs_up() {
        use lv_common::pb::control_client::ControlClient;
        use lv_common::pb::control_server::ControlServer;
        use lv_common::pb::master_message::Kind as MasterKind;

        let (events_tx, mut events_rx) = mpsc::channel(16);
        let token = CancellationToken::new();
        let service = ControlService::new(events_tx, "t", token.clone());
        let mut open = service.open_streams();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("address");
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(ControlServer::new(service))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    token.clone().cancelled_owned(),
                ),
        );
        let mut client = ControlClient::connect(format!("http://{addr}"))
            .await
            .expect("connects");
        let (tx, rx) = mpsc::channel(8);
        let send = |kind| pb::WorkerMessage { kind: Some(kind) };
        tx.send(send(WorkerKind::Hello(hello(
            "t",
            lv_common::PROTOCOL_VERSION,
        ))))
        .await
        .expect("queued");
        let mut inbound = client
            .attach(ReceiverStream::new(rx))
            .await
            .expect("attached")
            .into_inner();
        let Some(Event::Attached { tx: outbound, .. }) = events_rx.recv().await else {
            panic!("no Attached event");
        };
        assert_eq!(*open.wait_for(|&n| n == 1).await.expect("counted"), 1);

        // The run is over: the coordinator is gone, a late heartbeat still arrives.
        drop(events_rx);
        for _ in 0..3 {
            tx.send(send(WorkerKind::Heartbeat(pb::Heartbeat::default())))
                .await
                .expect("queued");
        }
        let shutdown = pb::MasterMessage {
            kind: Some(MasterKind::Shutdown(pb::Shutdown::default())),
        };
        outbound.send(Ok(shutdown)).await.expect("queued");
        drop(outbound);
        let got = inbound
            .message()
            .await
            .expect("a message")
            .expect("not ended");
        assert!(matches!(got.kind, Some(MasterKind::Shutdown(_))));
        let early = tokio::time::timeout(Duration::from_millis(300), open.wait_for(|&n| n == 0));
        assert!(
            early.await.is_err(),
            "the stream ended before the worker hung up"
        );

        // The worker hangs up: the count drops to zero.
        drop(tx);
        let hung_up = tokio::time::timeout(Duration::from_secs(5), open.wait_for(|&n| n == 0));
        assert!(
            hung_up.await.is_ok(),
            "still counted after the worker hung up"
        );
        token.cancel();
        let _ = server.await;
    }
}
