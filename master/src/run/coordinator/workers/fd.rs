//! Shares against the workers' open-file limits: a share whose users cannot all hold
//! their connections is refused (one connection per user) or warned about (shared
//! connections).

use lv_common::FD_RESERVE;
use lv_common::plan::{MAX_USER_ORIGINS, Plan};
use tracing::warn;

use super::WorkerTable;

impl WorkerTable {
    /// Refuses shares whose users cannot each keep their own connections (one per origin
    /// of their class, at most [`MAX_USER_ORIGINS`]) within the worker's open-file limit.
    pub(in crate::run::coordinator) fn check_fd_limits_per_user(
        &self,
        plan: &Plan,
    ) -> Result<(), String> {
        for worker in self.entries.values().filter(|w| w.is_member()) {
            let needed: u64 = worker
                .users
                .iter()
                .map(|(class, users)| {
                    let origins = plan
                        .classes
                        .iter()
                        .find(|c| &c.name == class)
                        .map_or(1, |c| c.origins().clamp(1, MAX_USER_ORIGINS));
                    u64::from(*users) * origins as u64
                })
                .sum();
            if worker.fd_limit > 0 && needed + FD_RESERVE > worker.fd_limit {
                return Err(format!(
                    "worker {} on {} may open {} files, but with --connection-per-user its {} users keep {needed} connections (one per user and origin) plus {FD_RESERVE}; raise its hard limit (ulimit -Hn, or LimitNOFILE in systemd / a container's nofile ulimit), add workers, or share connections (drop --connection-per-user)",
                    worker.id,
                    worker.hostname,
                    worker.fd_limit,
                    worker.assigned(),
                ));
            }
        }
        Ok(())
    }

    /// Warns, once per worker, when its share has more users than it may open connections:
    /// its users then wait for a free connection whenever that many requests are in flight.
    pub(in crate::run::coordinator) fn warn_fd_limits(&mut self) {
        for worker in self.entries.values().filter(|w| w.is_member()) {
            let users = u64::from(worker.assigned());
            if worker.fd_limit == 0 || users + FD_RESERVE <= worker.fd_limit {
                continue;
            }
            if !self.warned_fd.insert(worker.id.clone()) {
                continue;
            }
            warn!(
                "worker {} on {} may open {} files, so at most {} connections at once, and has {users} users: when more of them have a request in flight, the rest wait for a free connection and that wait counts in their response times; raise its hard limit (ulimit -Hn, or LimitNOFILE in systemd / a container's nofile ulimit) or add workers",
                worker.id,
                worker.hostname,
                worker.fd_limit,
                worker.fd_limit.saturating_sub(FD_RESERVE),
            );
        }
    }
}
