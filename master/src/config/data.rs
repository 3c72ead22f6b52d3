//! Test data files (`[[data]]` in a scenario file): reading a CSV file (with a header row)
//! or a JSON Lines file (one object per line) into a [`DataTable`], and saying exactly
//! where a bad one is wrong (file, line and column).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lv_common::data::{CHUNK_BYTES, DataTable, MAX_DATA_BYTES, MAX_DATA_ROWS};
use lv_common::source::line_col;
use serde::Deserialize;
use toml::Spanned;

/// A `[[data]]` table of a scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataDef {
    /// Name templates use (`{{ accounts.email }}`) and classes and tasks name.
    pub name: Spanned<String>,
    /// The file, relative to the scenario file.
    pub file: Spanned<String>,
    /// `csv` or `jsonl`; by default from the file's extension (`.csv`, `.jsonl`, `.ndjson`).
    pub format: Option<DataFormat>,
}

/// The format of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line; the first line's keys are the fields.
    Jsonl,
}

/// Why a data file cannot be used; the text names the file and where in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {detail}")]
pub struct DataError {
    /// `file`, `file:line` or `file:line:column`.
    pub location: String,
    /// What is wrong.
    pub detail: String,
}

impl DataDef {
    /// The data file's path: relative ones are taken from `scenario`'s folder.
    pub fn path(&self, scenario: &Path) -> PathBuf {
        let file = Path::new(self.file.get_ref());
        match scenario.parent() {
            Some(dir) if file.is_relative() => dir.join(file),
            _ => file.to_owned(),
        }
    }

    /// The format, from `format` or the file's extension.
    pub fn format(&self) -> Option<DataFormat> {
        self.format.or_else(|| {
            let ext = Path::new(self.file.get_ref()).extension()?.to_str()?;
            match ext.to_ascii_lowercase().as_str() {
                "csv" => Some(DataFormat::Csv),
                "jsonl" | "ndjson" => Some(DataFormat::Jsonl),
                _ => None,
            }
        })
    }
}

/// Reads the data files `defs` of the scenario file `scenario` (whose text is `text`, for
/// locating errors in it).
pub fn read_data_files(
    defs: &[DataDef],
    scenario: &Path,
    text: &str,
) -> Result<Vec<Arc<DataTable>>, DataError> {
    let locate = |offset: usize| format!("{}:{}", scenario.display(), line_col(text, offset).0);
    defs.iter()
        .map(|def| {
            let name = def.name.get_ref();
            if !is_data_name(name) {
                return Err(DataError {
                    location: locate(def.name.span().start),
                    detail: format!(
                        "data name {name:?} must be letters, digits, `_` or `-`, starting with a letter or `_`"
                    ),
                });
            }
            let format = def.format().ok_or_else(|| DataError {
                location: locate(def.file.span().start),
                detail: format!(
                    "data {name}: cannot tell the format of {:?} from its extension; give format = \"csv\" or \"jsonl\"",
                    def.file.get_ref()
                ),
            })?;
            let table = read_table(name, &def.path(scenario), format).map_err(|e| DataError {
                location: e.location,
                detail: format!("{} (data {name}, {})", e.detail, locate(def.file.span().start)),
            })?;
            Ok(Arc::new(table))
        })
        .collect()
}

/// A name a template can use before a dot.
fn is_data_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Reads `path` as `format` into a table named `name`.
pub fn read_table(name: &str, path: &Path, format: DataFormat) -> Result<DataTable, DataError> {
    let at = |detail: String| DataError {
        location: path.display().to_string(),
        detail,
    };
    let meta =
        std::fs::metadata(path).map_err(|e| at(format!("cannot read the data file: {e}")))?;
    if meta.len() > MAX_DATA_BYTES {
        return Err(at(format!(
            "the data file has {} bytes; lv takes at most {MAX_DATA_BYTES} (every worker keeps a copy in memory)",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| at(format!("cannot read the data file: {e}")))?;
    let table = match format {
        DataFormat::Csv => read_csv(name, path, &bytes)?,
        DataFormat::Jsonl => read_jsonl(name, path, &bytes)?,
    };
    if table.rows() == 0 {
        return Err(at("the data file has no rows".into()));
    }
    Ok(table)
}

fn located(path: &Path, line: u64, column: Option<usize>, detail: String) -> DataError {
    let location = match column {
        Some(column) => format!("{}:{line}:{column}", path.display()),
        None => format!("{}:{line}", path.display()),
    };
    DataError { location, detail }
}

fn too_many_rows(path: &Path, line: u64) -> DataError {
    located(
        path,
        line,
        None,
        format!(
            "more than {MAX_DATA_ROWS} rows; lv takes at most {MAX_DATA_ROWS} (every worker keeps a copy in memory)"
        ),
    )
}

/// A CSV file: the header names the fields; every row has one cell per field.
fn read_csv(name: &str, path: &Path, bytes: &[u8]) -> Result<DataTable, DataError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(record) => record.map_err(|e| csv_error(path, &e))?,
        None => {
            return Err(located(
                path,
                1,
                None,
                "the file is empty: a CSV data file starts with a header row".into(),
            ));
        }
    };
    let fields = utf8_cells(path, &header)?;
    check_fields(path, &fields)?;
    let mut table = DataTable::new(name, fields, false);
    for record in records {
        let record = record.map_err(|e| csv_error(path, &e))?;
        let line = record.position().map_or(0, csv::Position::line);
        if table.rows() >= MAX_DATA_ROWS {
            return Err(too_many_rows(path, line));
        }
        let cells = utf8_cells(path, &record)?;
        push_row(path, line, &mut table, &cells)?;
    }
    Ok(table)
}

fn csv_error(path: &Path, err: &csv::Error) -> DataError {
    let line = err.position().map_or(0, csv::Position::line);
    located(path, line, None, format!("not valid CSV: {err}"))
}

/// The record's cells as text; a cell that is not UTF-8 is an error naming its column.
fn utf8_cells(path: &Path, record: &csv::ByteRecord) -> Result<Vec<String>, DataError> {
    let line = record.position().map_or(0, csv::Position::line);
    record
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            std::str::from_utf8(cell).map(str::to_owned).map_err(|e| {
                located(
                    path,
                    line,
                    Some(i + 1),
                    format!(
                        "field {} is not UTF-8 text (invalid byte at offset {} of the field); save the file as UTF-8",
                        i + 1,
                        e.valid_up_to()
                    ),
                )
            })
        })
        .collect()
}

/// Adds a row of `cells` read at `line`; a ragged or oversized row is an error there.
fn push_row(
    path: &Path,
    line: u64,
    table: &mut DataTable,
    cells: &[String],
) -> Result<(), DataError> {
    let size: usize = cells.iter().map(String::len).sum();
    if size > CHUNK_BYTES {
        return Err(located(
            path,
            line,
            None,
            format!("the row has {size} bytes; a row may have at most {CHUNK_BYTES}"),
        ));
    }
    table
        .push_row(cells.iter().map(String::as_str))
        .map_err(|e| located(path, line, None, format!("the row {e}")))
}

/// Field names must be present and distinct.
fn check_fields(path: &Path, fields: &[String]) -> Result<(), DataError> {
    for (i, field) in fields.iter().enumerate() {
        if field.trim().is_empty() {
            return Err(located(
                path,
                1,
                Some(i + 1),
                format!("header field {} has no name", i + 1),
            ));
        }
        if fields[..i].contains(field) {
            return Err(located(
                path,
                1,
                Some(i + 1),
                format!("header field {field:?} appears twice"),
            ));
        }
    }
    Ok(())
}

/// A JSON Lines file: one object per line, every line with the first line's keys.
fn read_jsonl(name: &str, path: &Path, bytes: &[u8]) -> Result<DataTable, DataError> {
    let mut table: Option<DataTable> = None;
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = index as u64 + 1;
        let text = std::str::from_utf8(raw).map_err(|e| {
            let column = String::from_utf8_lossy(&raw[..e.valid_up_to()])
                .chars()
                .count()
                + 1;
            located(
                path,
                line,
                Some(column),
                "not UTF-8 text; save the file as UTF-8".into(),
            )
        })?;
        let text = text.trim_end_matches('\r');
        if text.trim().is_empty() {
            continue;
        }
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| {
                located(
                    path,
                    line,
                    Some(e.column()),
                    format!("not a JSON object: {e}"),
                )
            })?;
        let table = table
            .get_or_insert_with(|| DataTable::new(name, object.keys().cloned().collect(), true));
        if table.rows() >= MAX_DATA_ROWS {
            return Err(too_many_rows(path, line));
        }
        let cells = json_cells(path, line, table, object)?;
        push_row(path, line, table, &cells)?;
    }
    Ok(table.unwrap_or_else(|| DataTable::new(name, Vec::new(), true)))
}

/// The object's values in the table's field order, as JSON text.
fn json_cells(
    path: &Path,
    line: u64,
    table: &DataTable,
    mut object: serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<String>, DataError> {
    let mut cells = Vec::with_capacity(table.fields.len());
    for field in &table.fields {
        let value = object.remove(field).ok_or_else(|| {
            located(
                path,
                line,
                None,
                format!("the object has no key {field:?}, which the first line has"),
            )
        })?;
        cells.push(value.to_string());
    }
    if let Some(extra) = object.keys().next() {
        return Err(located(
            path,
            line,
            None,
            format!("the object has key {extra:?}, which the first line does not have"),
        ));
    }
    Ok(cells)
}

#[cfg(test)]
mod tests;
