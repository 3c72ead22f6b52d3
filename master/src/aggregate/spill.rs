//! The run's spill file: every history row that leaves full resolution is appended here as
//! one JSON line before it is merged into a coarse row, so the complete history can be read
//! back at the end (for `_stats_history.csv`) while memory stays bounded. The file lives in
//! the system's temporary directory and is unlinked as soon as it is open (on Unix), so it
//! disappears with the process whatever happens.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::rows::HistoryRow;

/// An append-only file of history rows.
#[derive(Debug)]
pub(super) struct Spill {
    file: File,
    /// Still to be removed on drop (where it could not be unlinked while open).
    path: Option<PathBuf>,
    /// Rows appended.
    pub rows: u64,
}

impl Spill {
    /// A new, empty spill file in `dir`.
    pub fn create(dir: &Path) -> io::Result<Spill> {
        let path = dir.join(format!("lv-history-{}.jsonl", uuid::Uuid::new_v4()));
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&path)?;
        let path = std::fs::remove_file(&path).is_err().then_some(path);
        Ok(Spill {
            file,
            path,
            rows: 0,
        })
    }

    /// Appends `row`; a failed write is cut off again, so the file never holds half a line.
    pub fn append(&mut self, row: &HistoryRow) -> io::Result<()> {
        let mut line = serde_json::to_vec(row)?;
        line.push(b'\n');
        let len = self.file.metadata()?.len();
        if let Err(err) = self.file.write_all(&line) {
            let _ = self.file.set_len(len);
            return Err(err);
        }
        self.rows += 1;
        Ok(())
    }

    /// Every row appended, oldest first.
    pub fn read(&self) -> io::Result<impl Iterator<Item = io::Result<HistoryRow>> + use<>> {
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(BufReader::new(file).lines().map(|line| {
            let line = line?;
            serde_json::from_str(&line).map_err(io::Error::from)
        }))
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(unix_ms: i64) -> HistoryRow {
        HistoryRow {
            unix_ms,
            users: 1,
            rps: 0.5,
            fps: 0.0,
            p50_ms: 1.0,
            p95_ms: 2.0,
            p99_ms: 3.0,
            total_requests: unix_ms as u64,
            total_failures: 0,
            total_avg_ms: 1.5,
            total_median_ms: 1.0,
            total_min_ms: 0.5,
            total_max_ms: 3.0,
            total_avg_content_bytes: 10.0,
            total_percentiles_ms: vec![1.0, 3.0],
            current_percentiles_ms: Vec::new(),
            endpoints: Vec::new(),
            kinds: [(
                lv_common::kind::SloKind::Chat,
                crate::aggregate::KindHistory {
                    rps: 0.5,
                    p50_ms: Some(90.0),
                    p95_ms: None,
                    p99_ms: Some(120.5),
                    total_requests: unix_ms as u64,
                },
            )]
            .into(),
        }
    }

    fn read_all(spill: &Spill) -> Vec<HistoryRow> {
        spill
            .read()
            .expect("readable")
            .collect::<io::Result<_>>()
            .expect("rows")
    }

    #[test]
    fn rows_read_back_in_order_and_appends_after_a_read_go_to_the_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spill = Spill::create(dir.path()).expect("created");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            0,
            "unlinked while open"
        );
        for t in 1..=3 {
            spill.append(&row(t)).expect("appended");
        }
        // A read that stops early leaves the shared cursor mid-file.
        let first = spill.read().expect("readable").next();
        assert_eq!(first.map(|r| r.map(|r| r.unix_ms).ok()), Some(Some(1)));
        spill.append(&row(4)).expect("appended");
        let rows = read_all(&spill);
        assert_eq!(
            rows.iter().map(|r| r.unix_ms).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(rows[1], row(2));
        assert_eq!(spill.rows, 4);
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(Spill::create(&dir.path().join("missing")).is_err());
    }
}
