//! Lines for stdout and stderr that never fail: a closed or broken stream (a pipe into
//! `head`, a dropped SSH session, a relay that died) is ignored, so printing can never cost
//! a run its reports or its exit code. Use [`outln!`](crate::outln) and
//! [`errln!`](crate::errln) instead of `println!` and `eprintln!`, which panic on `EPIPE`.

use std::fmt;
use std::io::{self, Write};

/// Writes one line to stdout; an error (closed or broken stdout) is ignored.
pub fn out_line(args: fmt::Arguments<'_>) {
    let _ = write_line(&mut io::stdout().lock(), args);
}

/// Writes one line to stderr; an error (closed or broken stderr) is ignored.
pub fn err_line(args: fmt::Arguments<'_>) {
    let _ = write_line(&mut io::stderr().lock(), args);
}

fn write_line(out: &mut impl Write, args: fmt::Arguments<'_>) -> io::Result<()> {
    out.write_fmt(args)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// `println!` that ignores a closed or broken stdout.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::stdio::out_line(::std::format_args!($($arg)*))
    };
}

/// `eprintln!` that ignores a closed or broken stderr.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::stdio::err_line(::std::format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream whose reader has gone: every write fails as a pipe with no reader does.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
    }

    #[test]
    fn a_broken_stream_is_an_error_not_a_panic() {
        let err = write_line(&mut Broken, format_args!("summary {}", 1)).expect_err("broken");
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn a_line_ends_with_one_newline() {
        let mut out = Vec::new();
        write_line(&mut out, format_args!("{} requests", 3)).expect("a Vec takes every write");
        assert_eq!(out, b"3 requests\n");
    }
}
