//! Every agent's login: `POST /v1/auth/login` hands out a bearer token for a user, and
//! `GET /v1/me` answers only requests that carry a token this fleet issued. Tokens are
//! shared by every agent (a token from one works on all) and bounded like the other state.

use std::collections::{HashMap, VecDeque};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::context::AgentCtx;
use crate::counts::lock;
use crate::handlers::{BadBody, answer, error, parse};
use crate::latency::Work;

/// Tokens kept before the oldest is forgotten.
pub const MAX_TOKENS: usize = 100_000;

/// The tokens issued so far: token -> user name, oldest evicted first.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    users: HashMap<String, String>,
    order: VecDeque<String>,
}

impl Tokens {
    /// Issues a new random token for `user`.
    pub(crate) fn issue(&mut self, user: &str) -> String {
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.users.insert(token.clone(), user.to_owned());
        self.order.push_back(token.clone());
        while self.order.len() > MAX_TOKENS {
            if let Some(old) = self.order.pop_front() {
                self.users.remove(&old);
            }
        }
        token
    }

    /// The user `token` was issued to; `None` for a token this fleet did not issue (or
    /// forgot).
    pub(crate) fn user(&self, token: &str) -> Option<&str> {
        self.users.get(token).map(String::as_str)
    }
}

#[derive(Debug, Deserialize)]
struct LoginRequest {
    username: String,
    #[allow(dead_code, reason = "required in the body; any password is accepted")]
    password: String,
}

/// `POST /v1/auth/login` with `{"username", "password"}`: 200 `{"token", "user"}` (any
/// password is accepted), 400 on a bad body.
pub(crate) async fn login(State(ctx): State<AgentCtx>, body: Bytes) -> Result<Response, BadBody> {
    let request: LoginRequest = parse(&body)?;
    let token = lock(&ctx.shared.tokens).issue(&request.username);
    ctx.shared.latency.work(Work::Health, 1.0).await;
    Ok(answer(
        &ctx,
        StatusCode::OK,
        json!({ "token": token, "user": request.username }),
        &["token", "user"],
    ))
}

/// `GET /v1/me` with `Authorization: Bearer TOKEN`: 200 `{"user"}` for a token this fleet
/// issued, else 401 `{"error"}`.
pub(crate) async fn me(State(ctx): State<AgentCtx>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let user = token.and_then(|t| lock(&ctx.shared.tokens).user(t).map(str::to_owned));
    ctx.shared.latency.work(Work::Health, 1.0).await;
    match user {
        Some(user) => answer(&ctx, StatusCode::OK, json!({ "user": user }), &["user"]),
        None => error(
            StatusCode::UNAUTHORIZED,
            "missing or unknown bearer token (log in with POST /v1/auth/login)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_user_and_the_oldest_are_forgotten() {
        let mut tokens = Tokens::default();
        let first = tokens.issue("ada");
        let second = tokens.issue("bob");
        assert_ne!(first, second);
        assert_eq!(tokens.user(&first), Some("ada"));
        assert_eq!(tokens.user(&second), Some("bob"));
        assert_eq!(tokens.user("forged"), None);
        for _ in 0..MAX_TOKENS {
            tokens.issue("x");
        }
        assert_eq!(tokens.user(&first), None);
        assert_eq!(tokens.users.len(), MAX_TOKENS);
    }
}
