//! A real `lv-worker` that cannot carry out an assignment says why, once, and stays
//! attached: it answers with a Rejection instead of dropping the stream and reconnecting
//! in a loop. The master here is a minimal gRPC server that sends one bad Assignment.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lv_common::pb::control_server::{Control, ControlServer};
use lv_common::pb::master_message::Kind as MasterKind;
use lv_common::pb::worker_message::Kind as WorkerKind;
use lv_common::pb::{self};
use lv_tests::harness::spawn_worker_process;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

/// What the fake master saw.
#[derive(Default)]
struct Seen {
    attaches: usize,
    rejections: Vec<pb::Rejection>,
}

/// Welcomes every worker, then sends it `assignment`.
struct FakeMaster {
    assignment: pb::Assignment,
    seen: Arc<Mutex<Seen>>,
}

type Outbound = Pin<Box<dyn Stream<Item = Result<pb::MasterMessage, Status>> + Send>>;

#[tonic::async_trait]
impl Control for FakeMaster {
    type AttachStream = Outbound;

    async fn attach(
        &self,
        request: Request<Streaming<pb::WorkerMessage>>,
    ) -> Result<Response<Outbound>, Status> {
        let mut inbound = request.into_inner();
        let first = inbound.message().await?;
        assert!(
            matches!(first.and_then(|m| m.kind), Some(WorkerKind::Hello(_))),
            "Hello first"
        );
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .attaches += 1;
        let (tx, rx) = mpsc::channel(16);
        let send = |kind| pb::MasterMessage { kind: Some(kind) };
        let welcome = pb::Welcome {
            master_version: lv_common::VERSION.to_owned(),
            protocol_version: lv_common::PROTOCOL_VERSION,
            heartbeat_interval_ms: 1_000,
            heartbeat_timeout_ms: 60_000,
            acked_seq: 0,
            run_id: String::new(),
        };
        let _ = tx.send(Ok(send(MasterKind::Welcome(welcome)))).await;
        let _ = tx
            .send(Ok(send(MasterKind::Assignment(self.assignment.clone()))))
            .await;
        let seen = Arc::clone(&self.seen);
        tokio::spawn(async move {
            // Keep the stream open (and answer heartbeats) while the worker talks.
            while let Ok(Some(message)) = inbound.message().await {
                match message.kind {
                    Some(WorkerKind::Rejection(rejection)) => seen
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .rejections
                        .push(rejection),
                    Some(WorkerKind::Heartbeat(_)) => {
                        let beat = pb::Heartbeat::default();
                        if tx
                            .send(Ok(send(MasterKind::Heartbeat(beat))))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    _ => {}
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_refuses_a_bad_assignment_once_and_stays_attached() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let plan = lv_common::plan::Plan {
        classes: Vec::new(),
        connection_per_user: false,
        iterations: None,
    };
    let master = FakeMaster {
        assignment: pb::Assignment {
            run_id: "run-1".into(),
            generation: 3,
            plan_json: plan.to_json(),
            users: Default::default(),
            spawn_rate: f64::INFINITY,
            max_run_time_ms: 60_000,
            report_interval_ms: 1_000,
            open: None,
            stages: None,
            data: Vec::new(),
        },
        seen: Arc::clone(&seen),
    };
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ControlServer::new(master))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let mut worker = spawn_worker_process(&addr.to_string(), &[], "worker");
    let refused = lv_tests::harness::wait_until(Duration::from_secs(20), || {
        !seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rejections
            .is_empty()
    })
    .await;
    assert!(refused, "the worker answered with a Rejection");
    // Three more seconds: a worker in a reconnect loop would attach many times.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
    assert_eq!(seen.attaches, 1, "one connection, no reconnect loop");
    assert_eq!(seen.rejections.len(), 1, "said once");
    let rejection = &seen.rejections[0];
    assert_eq!(
        (rejection.run_id.as_str(), rejection.generation),
        ("run-1", 3)
    );
    assert!(
        rejection.reason.contains("spawn_rate"),
        "{}",
        rejection.reason
    );
    assert!(worker.running(), "the worker stays up");
    worker.kill9().await;
    server.abort();
}
