//! What a run counted, and the CPU time it took.

use std::io;

use serde_json::json;

/// Answers and errors of a run.
#[derive(Debug, Default)]
pub struct Tally {
    /// Whole answers read.
    pub requests: u64,
    /// Answers whose status was not 2xx or 3xx.
    pub not_ok: u64,
    /// Connections lost to an error.
    pub errors: u64,
    /// The first error, as said to the user.
    pub first_error: Option<String>,
}

impl Tally {
    /// Counts one whole answer with `status`.
    pub fn answered(&mut self, status: u16) {
        self.requests += 1;
        if !(200..400).contains(&status) {
            self.not_ok += 1;
        }
    }

    /// Counts a connection lost to `error`.
    pub fn lost(&mut self, error: impl std::fmt::Display) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| error.to_string());
    }

    /// One JSON line: counts, rate, and CPU time a request.
    pub fn report(&self, backend: &str, elapsed: f64, cpu: &CpuTime) -> String {
        let per_request = |s: f64| (self.requests > 0).then(|| s * 1e6 / self.requests as f64);
        json!({
            "backend": backend,
            "requests": self.requests,
            "not_ok": self.not_ok,
            "errors": self.errors,
            "first_error": self.first_error,
            "seconds": elapsed,
            "rps": self.requests as f64 / elapsed,
            "user_us_per_req": per_request(cpu.user),
            "sys_us_per_req": per_request(cpu.system),
            "own_us_per_req": per_request(cpu.user + cpu.system),
            "voluntary_switches": cpu.voluntary_switches,
        })
        .to_string()
    }
}

/// CPU seconds in user space and in the kernel, and times the process slept.
#[derive(Debug, Clone, Copy)]
pub struct CpuTime {
    /// User-space seconds.
    pub user: f64,
    /// Kernel seconds.
    pub system: f64,
    /// Voluntary context switches: waits for the kernel to have something.
    pub voluntary_switches: i64,
}

impl CpuTime {
    /// The time spent between `earlier` and this reading.
    pub fn since(&self, earlier: &CpuTime) -> CpuTime {
        CpuTime {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
            voluntary_switches: self.voluntary_switches - earlier.voluntary_switches,
        }
    }
}

/// This process's CPU time so far (getrusage).
#[allow(unsafe_code)]
pub fn cpu_time() -> io::Result<CpuTime> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given, which points to
    // one; it is read only when the call succeeded.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return Err(io::Error::last_os_error());
        }
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(CpuTime {
        user: secs(usage.ru_utime),
        system: secs(usage.ru_stime),
        voluntary_switches: usage.ru_nvcsw,
    })
}
