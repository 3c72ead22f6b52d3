//! The open-file limit: both binaries raise it to the hard limit at start, so thousands of
//! users (on a worker) and connections (on a master) fit.

use tracing::{info, warn};

/// Soft and hard open-file limits after trying to raise the soft one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit now in force.
    pub soft: u64,
    /// The hard limit (the ceiling for the soft one).
    pub hard: u64,
}

/// Raises the soft open-file limit to the hard limit and logs both.
#[allow(unsafe_code)]
pub fn raise_fd_limit() -> Option<FdLimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; RLIMIT_NOFILE is a valid resource.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        warn!("cannot read the open-file limit");
        return None;
    }
    let before = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own; raising soft up to hard is allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        } else {
            warn!(
                soft = before,
                hard = limit.rlim_max,
                "cannot raise the open-file limit"
            );
        }
    }
    info!(
        before,
        soft = limit.rlim_cur,
        hard = limit.rlim_max,
        "open-file limit"
    );
    Some(FdLimit {
        soft: limit.rlim_cur,
        hard: limit.rlim_max,
    })
}
