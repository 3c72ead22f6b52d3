//! In-process tests of the simulated fleet: real HTTP on 127.0.0.1, ephemeral ports.

mod support;

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use lv_common::fleet::FleetMap;
use lv_fleet_sim::SimConfig;
use lv_fleet_sim::config::parse_fail_endpoint;
use serde_json::{Value, json};
use support::{Fleet, quick, spawn_fleet, within};

/// Every agent of the built-in fleet answers its health check with its own name.
#[tokio::test]
async fn every_agent_answers_health_with_its_name() {
    within(async {
        let fleet = spawn_fleet(quick()).await;
        let names: Vec<String> = fleet
            .sim
            .fleet()
            .agents
            .iter()
            .map(|a| a.name.clone())
            .collect();
        assert_eq!(names.len(), 20);
        for name in &names {
            let (status, body) = fleet.call(Method::GET, name, "/health", None).await;
            assert_eq!(status, StatusCode::OK, "{name}");
            assert_eq!(body, json!({ "status": "healthy", "agent": name }));
        }
        fleet.stop().await;
    })
    .await;
}

/// ATLAS opens conversations, counts follow-up turns, and refuses unknown ids and bad bodies.
#[tokio::test]
async fn chat_opens_follows_up_and_rejects_unknown_ids() {
    within(async {
        let fleet = spawn_fleet(quick()).await;
        let first =
            json!({ "agent": "ARIA", "message": "hello", "conversation_id": null, "mode": "chat" });
        let (status, body) = fleet
            .call(Method::POST, "ATLAS", "/v1/chat", Some(first))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["turn"], 1);
        assert!(body["reply"].is_string());
        let id = body["conversation_id"]
            .as_str()
            .expect("conversation id")
            .to_string();

        let next = json!({ "message": "more", "conversation_id": id, "mode": "research" });
        let (status, body) = fleet
            .call(Method::POST, "ATLAS", "/v1/chat", Some(next))
            .await;
        assert_eq!((status, body["turn"].clone()), (StatusCode::OK, json!(2)));
        assert_eq!(body["conversation_id"], json!(id));

        let unknown = json!({ "message": "hi", "conversation_id": "nope" });
        let (status, body) = fleet
            .call(Method::POST, "ATLAS", "/v1/chat", Some(unknown))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({ "error": "unknown conversation" }));

        let url = format!("http://127.0.0.1:{}/v1/chat", fleet.port("ATLAS"));
        let (status, _) = fleet
            .send(Method::POST, &url, Some("{not json".into()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = fleet
            .call(
                Method::POST,
                "ATLAS",
                "/v1/chat",
                Some(json!({ "agent": "ARIA" })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["error"].as_str().expect("error").contains("message"),
            "{body}"
        );
        let bad_mode = json!({ "message": "x", "mode": "sing" });
        let (status, _) = fleet
            .call(Method::POST, "ATLAS", "/v1/chat", Some(bad_mode))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        fleet.stop().await;
    })
    .await;
}

/// The event bus stores, lists (newest first, filtered, limited) and acknowledges events.
#[tokio::test]
async fn events_publish_query_and_ack() {
    within(async {
        let fleet = spawn_fleet(quick()).await;
        let bus = "EVENT-BUS";
        let one = json!({ "type": "user.created", "source": "test", "payload": { "n": 1 } });
        let (status, body) = fleet.call(Method::POST, bus, "/v1/events", Some(one)).await;
        assert_eq!(status, StatusCode::CREATED);
        let first = body["event_id"].as_str().expect("event id").to_string();

        let batch =
            json!({ "events": [{ "type": "a" }, { "type": "user.created" }, { "type": "a" }] });
        let (status, body) = fleet
            .call(Method::POST, bus, "/v1/events/batch", Some(batch))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let ids = body["event_ids"].as_array().expect("ids").clone();
        assert_eq!(ids.len(), 3);

        let (status, body) = fleet
            .call(Method::POST, bus, &format!("/v1/events/{first}/ack"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({ "event_id": first, "acked": true }));

        let (status, body) = fleet.call(Method::GET, bus, "/v1/events", None).await;
        assert_eq!(status, StatusCode::OK);
        let all = body["events"].as_array().expect("events");
        assert_eq!(all.len(), 4);
        assert_eq!(all[0]["event_id"], ids[2]);
        assert_eq!(
            all[3],
            json!({ "event_id": first, "type": "user.created", "acked": true })
        );

        let (_, body) = fleet
            .call(
                Method::GET,
                bus,
                "/v1/events?type=user.created&limit=1",
                None,
            )
            .await;
        let filtered = body["events"].as_array().expect("events");
        assert_eq!(filtered.len(), 1);
        assert_eq!(filtered[0]["event_id"], ids[1]);
        assert_eq!(filtered[0]["acked"], false);

        let (status, _) = fleet
            .call(Method::GET, bus, "/v1/events?limit=many", None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = fleet
            .call(Method::POST, bus, "/v1/events/nope/ack", None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({ "error": "unknown event" }));
        let (status, _) = fleet
            .call(
                Method::POST,
                bus,
                "/v1/events",
                Some(json!({ "source": "x" })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        fleet.stop().await;
    })
    .await;
}

/// Creative agents do tasks and batches; CLIO lists every creative agent's results.
#[tokio::test]
async fn creative_tasks_and_clio_assets() {
    within(async {
        let fleet = spawn_fleet(quick()).await;
        let task = json!({ "type": "poem", "brief": "the sea at night" });
        let (status, body) = fleet
            .call(Method::POST, "MUSE", "/v1/tasks", Some(task))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (body["agent"].clone(), body["status"].clone()),
            (json!("MUSE"), json!("done"))
        );
        assert!(body["result"].is_string() && body["task_id"].is_string());

        let batch =
            json!({ "tasks": [{ "type": "ode", "brief": "a" }, { "type": "ode", "brief": "b" }] });
        let (status, body) = fleet
            .call(Method::POST, "ERATO", "/v1/tasks/batch", Some(batch))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["results"].as_array().expect("results").len(), 2);

        let (status, body) = fleet.call(Method::GET, "CLIO", "/v1/assets", None).await;
        assert_eq!(status, StatusCode::OK);
        let assets = body["assets"].as_array().expect("assets");
        let agents: Vec<&str> = assets
            .iter()
            .map(|a| a["agent"].as_str().expect("agent"))
            .collect();
        assert_eq!(agents, ["ERATO", "ERATO", "MUSE"]);

        let (status, _) = fleet.call(Method::GET, "MUSE", "/v1/assets", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = fleet
            .call(Method::POST, "ATLAS", "/v1/tasks", Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = fleet
            .call(
                Method::POST,
                "CLIO",
                "/v1/tasks",
                Some(json!({ "type": "x" })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        fleet.stop().await;
    })
    .await;
}

/// Counts match the requests sent (404s included, admin requests excluded); reset zeroes them.
#[tokio::test]
async fn counts_match_requests_and_reset_zeroes_them() {
    within(async {
        let fleet = spawn_fleet(SimConfig {
            admin_port: Some(0),
            ..quick()
        })
        .await;
        fleet.call(Method::GET, "ATLAS", "/health", None).await;
        fleet
            .call(Method::GET, "ATLAS", "/health?verbose=1", None)
            .await;
        fleet
            .call(
                Method::POST,
                "ATLAS",
                "/v1/chat",
                Some(json!({ "message": "x" })),
            )
            .await;
        fleet.call(Method::GET, "ATLAS", "/v1/chat", None).await;
        let (status, _) = fleet
            .call(Method::GET, "HADES", "/no/such/path", None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        fleet
            .call(Method::POST, "EVENT-BUS", "/v1/events/abc/ack", None)
            .await;
        fleet
            .call(Method::GET, "EVENT-BUS", "/v1/events?type=a", None)
            .await;

        let expected = json!({
            "total": 7,
            "agents": {
                "ATLAS": { "GET /health": 2, "POST /v1/chat": 1, "GET /v1/chat": 1 },
                "HADES": { "GET /no/such/path": 1 },
                "EVENT-BUS": { "POST /v1/events/{id}/ack": 1, "GET /v1/events": 1 }
            }
        });
        let counts = serde_json::to_value(fleet.sim.counts()).expect("counts as JSON");
        assert_eq!(counts, expected);
        let admin = fleet.sim.admin_addr().expect("admin server");
        let (status, body) = fleet
            .send(Method::GET, &format!("http://{admin}/counts"), None)
            .await;
        assert_eq!((status, body), (StatusCode::OK, expected));
        assert_eq!(
            fleet.sim.counts().total,
            7,
            "admin requests are not counted"
        );

        let (status, body) = fleet
            .send(Method::POST, &format!("http://{admin}/reset"), None)
            .await;
        assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
        assert_eq!(fleet.sim.counts(), lv_fleet_sim::Counts::default());
        fleet.call(Method::GET, "CLIO", "/health", None).await;
        fleet.sim.reset();
        assert_eq!(fleet.sim.counts().total, 0);
        fleet.stop().await;
    })
    .await;
}

/// A down agent's port refuses connections while the others serve.
#[tokio::test]
async fn down_agent_refuses_connections() {
    within(async {
        let config = SimConfig {
            down: vec!["atlas".into()],
            ..quick()
        };
        let fleet = spawn_fleet(config).await;
        let port = fleet.port("ATLAS");
        assert_ne!(port, 0);
        let err = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect_err("nothing listens for a down agent");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        let (status, _) = fleet.call(Method::GET, "HADES", "/health", None).await;
        assert_eq!(status, StatusCode::OK);
        fleet.stop().await;
    })
    .await;
}

/// With an error rate of 1 every request, whatever the endpoint, gets the injected 500.
#[tokio::test]
async fn error_rate_one_fails_every_request() {
    within(async {
        let fleet = spawn_fleet(SimConfig {
            error_rate: 1.0,
            ..quick()
        })
        .await;
        for (agent, method, path) in [
            ("ATLAS", Method::GET, "/health"),
            ("ATLAS", Method::POST, "/v1/chat"),
            ("EVENT-BUS", Method::GET, "/v1/events"),
            ("CLIO", Method::GET, "/v1/assets"),
            ("HADES", Method::GET, "/nope"),
        ] {
            let (status, body) = fleet.call(method, agent, path, None).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{agent} {path}");
            assert_eq!(body, json!({ "error": "injected failure" }));
        }
        assert_eq!(fleet.sim.counts().total, 5);
        fleet.stop().await;
    })
    .await;
}

/// A failing endpoint answers 500 to every request, by its route's pattern or its exact
/// path; the agent's other endpoints, and the same path on other agents, still answer.
#[tokio::test]
async fn a_failing_endpoint_fails_every_request_and_nothing_else() {
    within(async {
        let fail = ["atlas post /v1/chat", "EVENT-BUS POST /v1/events/{id}/ack"];
        let fleet = spawn_fleet(SimConfig {
            fail_endpoints: fail
                .iter()
                .map(|s| parse_fail_endpoint(s).expect("valid"))
                .collect(),
            ..quick()
        })
        .await;
        let chat = json!({ "agent": "ARIA", "message": "hi", "mode": "chat" });
        for _ in 0..3 {
            let (status, body) = fleet
                .call(Method::POST, "ATLAS", "/v1/chat", Some(chat.clone()))
                .await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(body, json!({ "error": "injected failure" }));
        }
        let (status, _) = fleet
            .call(Method::POST, "EVENT-BUS", "/v1/events/e-1/ack", None)
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        for (agent, method, path) in [
            ("ATLAS", Method::GET, "/health"),
            ("EVENT-BUS", Method::GET, "/v1/events"),
            ("HADES", Method::GET, "/health"),
        ] {
            let (status, _) = fleet.call(method, agent, path, None).await;
            assert_eq!(status, StatusCode::OK, "{agent} {path}");
        }
        assert_eq!(fleet.sim.counts().total, 7);
        fleet.stop().await;
    })
    .await;
}

/// A slow agent adds its fixed delay even at latency scale 0; the others stay fast.
#[tokio::test]
async fn slow_agent_adds_its_delay() {
    within(async {
        let config = SimConfig {
            slow: vec![("ATHENA".into(), 150)],
            ..quick()
        };
        let fleet = spawn_fleet(config).await;
        let started = Instant::now();
        let (status, _) = fleet.call(Method::GET, "ATHENA", "/health", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
        fleet.stop().await;
    })
    .await;
}

/// Stopping does not wait for simulated work: an in-flight creative task is answered at once.
#[tokio::test]
async fn stop_cuts_simulated_work_short() {
    within(async {
        let config = SimConfig {
            latency_scale: 1.0,
            ..quick()
        };
        let fleet = std::sync::Arc::new(spawn_fleet(config).await);
        let caller = fleet.clone();
        let task = tokio::spawn(async move {
            let body = json!({ "type": "poem", "brief": "slow" });
            caller
                .call(Method::POST, "THALIA", "/v1/tasks", Some(body))
                .await
        });
        // Wait until the request has arrived (it is counted before its simulated work).
        while fleet.sim.counts().total == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let started = Instant::now();
        fleet.shutdown.cancel();
        let (status, _) = task.await.expect("caller task");
        assert_eq!(status, StatusCode::OK);
        let fleet: Fleet = std::sync::Arc::into_inner(fleet).expect("sole owner");
        fleet.stop().await;
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
    })
    .await;
}

/// The written fleet map parses back and holds the ports actually bound.
#[tokio::test]
async fn written_fleet_parses_back_with_bound_ports() {
    within(async {
        let fleet = spawn_fleet(quick()).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("fleet.toml");
        lv_fleet_sim::write_fleet_file(&path, fleet.sim.fleet()).expect("written");
        let map = FleetMap::load(&path).expect("parses back");
        assert_eq!(&map, fleet.sim.fleet());
        let builtin = FleetMap::builtin();
        for (bound, nominal) in map.agents.iter().zip(&builtin.agents) {
            assert_eq!((&bound.name, &bound.tags), (&nominal.name, &nominal.tags));
            let port = bound.port.expect("port");
            assert_ne!(port, 0);
            let (status, body) = fleet.call(Method::GET, &bound.name, "/health", None).await;
            assert_eq!(
                (status, body["agent"].clone()),
                (StatusCode::OK, json!(bound.name))
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        fleet.stop().await;
    })
    .await;
}

/// With `contract_only`, answers carry exactly the documented fields (`{}` where DESIGN.md
/// documents no body), and statuses stay as documented.
#[tokio::test]
async fn contract_only_answers_carry_only_the_documented_fields() {
    within(async {
        let fleet = spawn_fleet(SimConfig {
            contract_only: true,
            ..quick()
        })
        .await;
        let (status, body) = fleet.call(Method::GET, "MUSE", "/health", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({ "status": "healthy", "agent": "MUSE" }));

        let chat = json!({ "message": "hi", "conversation_id": null });
        let (status, body) = fleet
            .call(Method::POST, "ATLAS", "/v1/chat", Some(chat))
            .await;
        assert_eq!(status, StatusCode::OK);
        let fields: Vec<&str> = body
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields, ["conversation_id", "reply"]);

        let event = json!({ "type": "t" });
        let (status, body) = fleet
            .call(Method::POST, "EVENT-BUS", "/v1/events", Some(event))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = body["event_id"].as_str().expect("event id").to_owned();
        assert_eq!(body.as_object().map(|o| o.len()), Some(1));
        let (status, body) = fleet
            .call(
                Method::POST,
                "EVENT-BUS",
                &format!("/v1/events/{id}/ack"),
                None,
            )
            .await;
        assert_eq!((status, body), (StatusCode::OK, json!({})));

        let task = json!({ "type": "mood_board", "brief": "b" });
        let (status, body) = fleet
            .call(Method::POST, "CLIO", "/v1/tasks", Some(task))
            .await;
        assert_eq!((status, body), (StatusCode::OK, json!({})));
        let (status, body) = fleet.call(Method::GET, "CLIO", "/v1/assets", None).await;
        assert_eq!((status, body), (StatusCode::OK, json!({})));
        let (status, _) = fleet
            .call(Method::POST, "EVENT-BUS", "/v1/events/nope/ack", None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "errors keep their status");
        fleet.stop().await;
    })
    .await;
}

/// Every agent logs users in with a token any agent accepts on `GET /v1/me`; a bad body is a
/// 400, a missing or forged token a 401, and `contract_only` keeps the documented fields.
#[tokio::test]
async fn login_hands_out_tokens_that_every_agent_accepts() {
    within(async {
        let fleet = spawn_fleet(SimConfig {
            contract_only: true,
            ..quick()
        })
        .await;
        let login = json!({ "username": "ada", "password": "pw" });
        let (status, body) = fleet
            .call(Method::POST, "MUSE", "/v1/auth/login", Some(login))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["user"], "ada");
        let token = body["token"].as_str().expect("token").to_owned();
        assert_eq!(body.as_object().map(|o| o.len()), Some(2));
        let bearer = format!("Bearer {token}");
        for agent in ["ATLAS", "MUSE"] {
            let (status, body) = fleet
                .get_with(agent, "/v1/me", &[("authorization", &bearer)])
                .await;
            assert_eq!((status, body), (StatusCode::OK, json!({ "user": "ada" })));
        }
        let (status, body) = fleet.get_with("ATLAS", "/v1/me", &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body["error"].is_string());
        let (status, _) = fleet
            .get_with("ATLAS", "/v1/me", &[("authorization", "Bearer forged")])
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = fleet
            .call(
                Method::POST,
                "ATLAS",
                "/v1/auth/login",
                Some(json!({ "username": "x" })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let counts = fleet.sim.counts();
        assert_eq!(counts.agents["MUSE"]["POST /v1/auth/login"], 1);
        assert_eq!(counts.agents["ATLAS"]["GET /v1/me"], 3);
        fleet.stop().await;
    })
    .await;
}

/// An agent with a capacity serves that many requests at once and queues the rest, first
/// come first served: six concurrent 100 ms requests to an agent of capacity 2 finish in
/// three waves, while the same six to an agent without one finish together.
#[tokio::test]
async fn capacity_queues_requests_beyond_it() {
    within(async {
        let config = SimConfig {
            slow: vec![("ATLAS".into(), 100), ("HADES".into(), 100)],
            capacity: vec![("ATLAS".into(), 2)],
            ..quick()
        };
        let fleet = std::sync::Arc::new(spawn_fleet(config).await);
        let waves = |agent: &'static str| {
            let fleet = fleet.clone();
            async move {
                let calls: Vec<_> = (0..6)
                    .map(|_| {
                        let fleet = fleet.clone();
                        tokio::spawn(async move {
                            let started = Instant::now();
                            let (status, _) = fleet.call(Method::GET, agent, "/health", None).await;
                            assert_eq!(status, StatusCode::OK);
                            started.elapsed()
                        })
                    })
                    .collect();
                let mut times = Vec::new();
                for call in calls {
                    times.push(call.await.expect("caller task"));
                }
                times.sort();
                times
            }
        };
        let queued = waves("ATLAS").await;
        let in_first_wave = queued.iter().filter(|t| **t < Duration::from_millis(190));
        assert!(in_first_wave.count() <= 2, "{queued:?}");
        assert!(queued[5] >= Duration::from_millis(300), "{queued:?}");
        assert!(queued[3] >= Duration::from_millis(200), "{queued:?}");
        let free = waves("HADES").await;
        assert!(free[0] >= Duration::from_millis(100), "{free:?}");
        let fleet: Fleet = std::sync::Arc::into_inner(fleet).expect("sole owner");
        fleet.stop().await;
    })
    .await;
}
