//! The fleet's in-memory state: ATLAS's conversations, the event bus, the creative assets,
//! the bearer tokens every agent's login hands out.
//!
//! State is real (a follow-up needs a conversation that exists, an ack needs an event that was
//! published) and bounded: each store keeps a fixed number of the newest entries and evicts the
//! oldest, so a long benchmark cannot grow the simulator's memory without limit.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;
use uuid::Uuid;

/// Conversations kept before the oldest is forgotten.
pub const MAX_CONVERSATIONS: usize = 100_000;
/// Events kept before the oldest is evicted.
pub const MAX_EVENTS: usize = 100_000;
/// Assets kept (CLIO serves at most this many, newest first).
pub const MAX_ASSETS: usize = 100;

fn new_id() -> String {
    Uuid::new_v4().to_string()
}

/// ATLAS's conversations: id -> turns so far.
#[derive(Debug, Default)]
pub(crate) struct Conversations {
    turns: HashMap<String, u64>,
    order: VecDeque<String>,
}

impl Conversations {
    /// Opens a conversation; returns its id and turn number (1).
    pub(crate) fn open(&mut self) -> (String, u64) {
        let id = new_id();
        self.turns.insert(id.clone(), 1);
        self.order.push_back(id.clone());
        while self.order.len() > MAX_CONVERSATIONS {
            if let Some(old) = self.order.pop_front() {
                self.turns.remove(&old);
            }
        }
        (id, 1)
    }

    /// Adds a turn to a known conversation; `None` when the id is unknown (or evicted).
    pub(crate) fn follow_up(&mut self, id: &str) -> Option<u64> {
        let turn = self.turns.get_mut(id)?;
        *turn += 1;
        Some(*turn)
    }
}

/// One event as the query endpoint shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EventView {
    pub(crate) event_id: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) acked: bool,
}

/// The event bus: events in publication order, each with a sequence number for O(1) acks.
#[derive(Debug, Default)]
pub(crate) struct Events {
    events: VecDeque<(u64, EventView)>,
    seq_of: HashMap<String, u64>,
    next_seq: u64,
}

impl Events {
    /// Stores a new event of type `kind`; returns its id.
    pub(crate) fn publish(&mut self, kind: String) -> String {
        let event_id = new_id();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.seq_of.insert(event_id.clone(), seq);
        let view = EventView {
            event_id: event_id.clone(),
            kind,
            acked: false,
        };
        self.events.push_back((seq, view));
        while self.events.len() > MAX_EVENTS {
            if let Some((_, old)) = self.events.pop_front() {
                self.seq_of.remove(&old.event_id);
            }
        }
        event_id
    }

    /// Marks an event acknowledged; false when the id is unknown (or evicted).
    pub(crate) fn ack(&mut self, event_id: &str) -> bool {
        let (Some(&seq), Some((first, _))) = (self.seq_of.get(event_id), self.events.front())
        else {
            return false;
        };
        let index = usize::try_from(seq - first).unwrap_or(usize::MAX);
        match self.events.get_mut(index) {
            Some((_, event)) => {
                event.acked = true;
                true
            }
            None => false,
        }
    }

    /// Up to `limit` events, newest first, of type `kind` when given.
    pub(crate) fn query(&self, kind: Option<&str>, limit: usize) -> Vec<EventView> {
        self.events
            .iter()
            .rev()
            .map(|(_, event)| event)
            .filter(|event| kind.is_none_or(|kind| event.kind == kind))
            .take(limit)
            .cloned()
            .collect()
    }
}

/// The result of one creative task, as `POST /v1/tasks` returns it and CLIO lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TaskResult {
    pub(crate) task_id: String,
    pub(crate) agent: String,
    pub(crate) status: &'static str,
    pub(crate) result: String,
}

impl TaskResult {
    /// Does the "work" of a task of type `kind` on `brief` for `agent`.
    pub(crate) fn done(agent: &str, kind: &str, brief: &str) -> TaskResult {
        let excerpt: String = brief.chars().take(60).collect();
        TaskResult {
            task_id: new_id(),
            agent: agent.to_string(),
            status: "done",
            result: format!("{agent} finished a {kind} task: {excerpt}"),
        }
    }
}

/// The newest task results of every creative agent (CLIO's assets).
#[derive(Debug, Default)]
pub(crate) struct Assets {
    newest_first: VecDeque<TaskResult>,
}

impl Assets {
    /// Keeps `result`, forgetting the oldest beyond [`MAX_ASSETS`].
    pub(crate) fn add(&mut self, result: TaskResult) {
        self.newest_first.push_front(result);
        self.newest_first.truncate(MAX_ASSETS);
    }

    /// The kept results, newest first.
    pub(crate) fn list(&self) -> Vec<TaskResult> {
        self.newest_first.iter().cloned().collect()
    }
}

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
        let token = Uuid::new_v4().simple().to_string();
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

    #[test]
    fn conversations_count_turns_and_evict_the_oldest() {
        let mut conversations = Conversations::default();
        let (first, turn) = conversations.open();
        assert_eq!(turn, 1);
        assert_eq!(conversations.follow_up(&first), Some(2));
        assert_eq!(conversations.follow_up("nope"), None);
        for _ in 0..MAX_CONVERSATIONS {
            conversations.open();
        }
        assert_eq!(conversations.follow_up(&first), None);
        assert_eq!(conversations.turns.len(), MAX_CONVERSATIONS);
    }

    #[test]
    fn events_ack_query_and_evict() {
        let mut events = Events::default();
        let a = events.publish("a".into());
        let b = events.publish("b".into());
        let c = events.publish("a".into());
        assert!(events.ack(&b));
        assert!(!events.ack("nope"));
        let all = events.query(None, 10);
        let ids: Vec<&str> = all.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, [c.as_str(), b.as_str(), a.as_str()]);
        assert!(all[1].acked && !all[0].acked);
        assert_eq!(events.query(Some("a"), 1)[0].event_id, c);
        assert!(events.query(Some("zzz"), 10).is_empty());
        for _ in 0..MAX_EVENTS {
            events.publish("x".into());
        }
        assert!(!events.ack(&a));
        assert_eq!(events.events.len(), MAX_EVENTS);
        assert_eq!(events.seq_of.len(), MAX_EVENTS);
        let last = events.publish("y".into());
        assert!(events.ack(&last));
    }

    #[test]
    fn assets_keep_the_newest() {
        let mut assets = Assets::default();
        for i in 0..MAX_ASSETS + 3 {
            assets.add(TaskResult::done("MUSE", "poem", &format!("brief {i}")));
        }
        let list = assets.list();
        assert_eq!(list.len(), MAX_ASSETS);
        assert!(
            list[0]
                .result
                .ends_with(&format!("brief {}", MAX_ASSETS + 2))
        );
    }
}
