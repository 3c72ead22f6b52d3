//! The parsing of `/proc`, the CPU arithmetic and the delay probe's bookkeeping.

use super::*;

/// A real line of `/proc/self/stat` (utime 1234, stime 567) with a command name that
/// holds a space and a parenthesis.
const STAT: &str = "4242 (lv worker) S) R 1 4242 4242 0 -1 4194560 1510 0 0 0 1234 567 0 0 20 0 9 0 \
     123456 1024000 2048 18446744073709551615 1 1 0 0 0 0 0 4096 17000 0 0 0 17 1 0 0 0 0 0";

#[test]
fn stat_ticks_are_user_plus_system_time_after_the_command_name() {
    assert_eq!(parse_stat_ticks(STAT), Some(1234 + 567));
    assert_eq!(
        parse_stat_ticks("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 10 20 0"),
        Some(30)
    );
}

#[test]
fn a_truncated_or_garbled_stat_line_gives_nothing() {
    assert_eq!(parse_stat_ticks(""), None);
    assert_eq!(parse_stat_ticks("4242 (lv) S 1 2 3"), None);
    assert_eq!(
        parse_stat_ticks("1 (x) S 0 1 1 0 -1 4194560 1 2 3 4 ten 20 0"),
        None
    );
}

#[test]
fn vm_rss_is_read_in_bytes() {
    let status = "Name:\tlv-worker\nVmPeak:\t  200000 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
    assert_eq!(parse_vm_rss(status), Some(12_345 * 1024));
    assert_eq!(
        parse_vm_rss("Name:\tkthreadd\nThreads:\t1\n"),
        None,
        "no VmRSS"
    );
    assert_eq!(parse_vm_rss("VmRSS:\t12 MB\n"), None, "an unknown unit");
    assert_eq!(parse_vm_rss("VmRSS:\n"), None);
}

#[test]
fn cpu_percent_is_of_every_core_the_process_may_use() {
    let second = Duration::from_secs(1);
    // 100 ticks/s: 50 ticks in 1 s is half a core.
    assert!((cpu_percent(50, 100, second, 1) - 50.0).abs() < 1e-9);
    // Two cores busy the whole second on a 2-core allowance: 100%.
    assert!((cpu_percent(200, 100, second, 2) - 100.0).abs() < 1e-9);
    // One busy core of four.
    assert!((cpu_percent(200, 100, 2 * second, 4) - 25.0).abs() < 1e-9);
    assert_eq!(cpu_percent(10, 100, Duration::ZERO, 1), 0.0, "no interval");
    assert_eq!(cpu_percent(10, 0, second, 1), 0.0, "no tick rate");
    assert!(
        (cpu_percent(100, 100, second, 0) - 100.0).abs() < 1e-9,
        "0 cores is 1"
    );
}

#[test]
fn the_probe_reports_its_worst_lateness_once_and_an_overdue_sleep() {
    let probe = DelayProbe::new();
    let t0 = probe.base;
    let ms = |n: u64| t0 + Duration::from_millis(n);
    assert_eq!(probe.take_max(ms(5)), Duration::ZERO, "nothing seen yet");
    probe.sleeping_until(ms(100));
    probe.woke(ms(103));
    probe.sleeping_until(ms(203));
    probe.woke(ms(240));
    probe.sleeping_until(ms(340));
    probe.woke(ms(341));
    assert_eq!(probe.take_max(ms(350)), Duration::from_millis(37));
    assert_eq!(probe.take_max(ms(360)), Duration::ZERO, "taken");
    // A sleep that should have ended at 460 and has not at 1 s: 540 ms late so far.
    probe.sleeping_until(ms(460));
    assert_eq!(probe.take_max(ms(1_000)), Duration::from_millis(540));
    assert_eq!(probe.take_max(ms(300)), Duration::ZERO, "not due yet");
}

#[test]
fn this_process_measures_itself_where_there_is_proc() {
    let client = HttpClient::new(Duration::from_secs(1), 4).expect("an HTTP client");
    let resources = Resources::new(client);
    let mut spin = 0u64;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(200) {
        spin = std::hint::black_box(spin.wrapping_add(1));
    }
    let sample = resources.sample();
    assert_eq!(sample.connections, 0);
    if std::path::Path::new("/proc/self/stat").exists() {
        let cpu = sample.cpu_percent.expect("CPU measured");
        assert!(cpu > 0.0 && cpu <= 110.0, "{cpu}");
        let rss = sample.memory_bytes.expect("memory measured");
        assert!(rss > 1_000_000, "{rss}");
    } else {
        assert_eq!((sample.cpu_percent, sample.memory_bytes), (None, None));
    }
}

/// On paused time a probe that runs on a free runtime is never late.
#[tokio::test(start_paused = true)]
async fn the_probe_task_runs_until_cancelled() {
    let probe = Arc::new(DelayProbe::new());
    let cancel = CancellationToken::new();
    let task = tokio::spawn(probe_delay(Arc::clone(&probe), cancel.clone()));
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_ne!(probe.deadline_us.load(Ordering::Relaxed), NONE, "asleep");
    cancel.cancel();
    task.await.expect("the probe ends");
}
