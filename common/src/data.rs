//! Test data (`[[data]]` in a scenario file): rows of a CSV or JSON Lines file that users
//! draw from, and the ways they draw.
//!
//! The master reads each file once into a [`DataTable`], a compact copy (one text buffer
//! and the end of every cell), and streams it to each worker once per run in
//! [`DataChunk`]s. Which rows a worker may hand out in `unique` mode travels in its
//! Assignment as [`DataGrant`]s: the master hands each row to at most one worker.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most rows a data file may have: every worker keeps a copy of each file a run uses.
pub const MAX_DATA_ROWS: usize = 2_000_000;

/// Largest data file, bytes: every worker keeps a copy, and the master sends one to each.
pub const MAX_DATA_BYTES: u64 = 256 * 1024 * 1024;

/// Largest share of a data file in one [`DataChunk`], bytes of cell text.
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// How the users of a class draw rows of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataMode {
    /// Every row goes to at most one user of the whole fleet; when none is left, a new
    /// user fails to start.
    Unique,
    /// Rows in order, wrapping around.
    Cycle,
    /// A row at random for each user.
    Random,
}

impl DataMode {
    /// The mode's name as scenario files write it.
    pub fn as_str(self) -> &'static str {
        match self {
            DataMode::Unique => "unique",
            DataMode::Cycle => "cycle",
            DataMode::Random => "random",
        }
    }
}

/// A data source a class uses, and how its users draw from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataUse {
    /// The `[[data]]` name.
    pub source: String,
    /// How rows are drawn.
    pub mode: DataMode,
}

/// The rows of one data file, compactly: every cell's text in one buffer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataTable {
    /// The `[[data]]` name.
    pub name: String,
    /// Column names (the CSV header, or the keys of the first JSON line).
    pub fields: Vec<String>,
    /// Cells are JSON texts (JSON Lines) rather than plain strings (CSV).
    pub json: bool,
    text: String,
    /// End offset in `text` of every cell, row after row.
    ends: Vec<u32>,
}

/// A row that does not fit the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// Not as many cells as the table has fields.
    #[error("has {got} fields, the header has {want}")]
    Ragged {
        /// Cells in the row.
        got: usize,
        /// Fields of the table.
        want: usize,
    },
    /// The table would be larger than lv keeps in memory.
    #[error("the data is larger than {} bytes", u32::MAX)]
    TooLarge,
}

impl DataTable {
    /// An empty table with these fields.
    pub fn new(name: &str, fields: Vec<String>, json: bool) -> DataTable {
        DataTable {
            name: name.to_owned(),
            fields,
            json,
            text: String::new(),
            ends: Vec::new(),
        }
    }

    /// Rows in the table.
    pub fn rows(&self) -> usize {
        self.ends.len().checked_div(self.fields.len()).unwrap_or(0)
    }

    /// Bytes of cell text.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Appends a row; it must have one cell per field.
    pub fn push_row<'a>(
        &mut self,
        cells: impl ExactSizeIterator<Item = &'a str>,
    ) -> Result<(), RowError> {
        if cells.len() != self.fields.len() {
            return Err(RowError::Ragged {
                got: cells.len(),
                want: self.fields.len(),
            });
        }
        for cell in cells {
            self.text.push_str(cell);
            let end = u32::try_from(self.text.len()).map_err(|_| RowError::TooLarge)?;
            self.ends.push(end);
        }
        Ok(())
    }

    /// The text of `field` in `row`.
    pub fn cell(&self, row: usize, field: usize) -> Option<&str> {
        if field >= self.fields.len() {
            return None;
        }
        let at = row.checked_mul(self.fields.len())?.checked_add(field)?;
        let end = *self.ends.get(at)? as usize;
        let start = match at {
            0 => 0,
            _ => self.ends[at - 1] as usize,
        };
        self.text.get(start..end)
    }

    /// The cells of `row` as JSON values, with the template name of each
    /// (`accounts.email`): a CSV cell is a string, a JSON Lines cell keeps its type.
    pub fn row_values(&self, row: usize) -> Vec<(String, Value)> {
        self.fields
            .iter()
            .enumerate()
            .filter_map(|(f, field)| {
                let text = self.cell(row, f)?;
                let value = if self.json {
                    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
                } else {
                    Value::String(text.to_owned())
                };
                Some((format!("{}.{field}", self.name), value))
            })
            .collect()
    }

    /// The table cut into chunks of about [`CHUNK_BYTES`] of text each (at least one).
    pub fn chunks(&self) -> Vec<DataChunk> {
        let width = self.fields.len().max(1);
        let rows = self.rows();
        let mut out = Vec::new();
        let mut row = 0;
        loop {
            let first_row = row;
            let start = self.offset(row * width);
            while row < rows && (self.offset(row * width) - start < CHUNK_BYTES || row == first_row)
            {
                row += 1;
            }
            let end = self.offset(row * width);
            out.push(DataChunk {
                source: self.name.clone(),
                fields: self.fields.clone(),
                json: self.json,
                total_rows: rows as u64,
                first_row: first_row as u64,
                text: self.text[start..end].to_owned(),
                ends: self.ends[first_row * width..row * width]
                    .iter()
                    .map(|e| e - start as u32)
                    .collect(),
            });
            if row >= rows {
                return out;
            }
        }
    }

    /// Where cell number `cell` (counting every row's) starts in `text`.
    fn offset(&self, cell: usize) -> usize {
        match cell {
            0 => 0,
            _ => self
                .ends
                .get(cell - 1)
                .map_or(self.text.len(), |&e| e as usize),
        }
    }
}

/// Part of a data table on its way to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct DataChunk {
    /// The `[[data]]` name.
    pub source: String,
    /// Column names.
    pub fields: Vec<String>,
    /// Cells are JSON texts.
    pub json: bool,
    /// Rows of the whole table.
    pub total_rows: u64,
    /// Index of the chunk's first row.
    pub first_row: u64,
    /// The chunk's cells, row after row, one after the other.
    pub text: String,
    /// Where each cell ends in `text`, in order.
    pub ends: Vec<u32>,
}

/// Builds a table from its chunks, which arrive in order.
#[derive(Debug, Default)]
pub struct TableBuilder {
    table: Option<DataTable>,
    total: usize,
}

impl TableBuilder {
    /// Adds `chunk`; returns the table once its last row arrived. A chunk that starts the
    /// table again (row 0) drops what came before.
    pub fn add(&mut self, chunk: DataChunk) -> Result<Option<DataTable>, String> {
        let width = chunk.fields.len();
        if width == 0 || !chunk.ends.len().is_multiple_of(width) {
            return Err(format!(
                "data {}: a chunk's cells are not whole rows",
                chunk.source
            ));
        }
        if chunk.first_row == 0 {
            self.table = Some(DataTable::new(&chunk.source, chunk.fields, chunk.json));
            self.total = usize::try_from(chunk.total_rows).unwrap_or(usize::MAX);
            if self.total > MAX_DATA_ROWS {
                return Err(format!("data {}: too many rows", chunk.source));
            }
        }
        let Some(table) = self.table.as_mut() else {
            return Err(format!(
                "data {}: a chunk came before the first",
                chunk.source
            ));
        };
        if chunk.first_row != table.rows() as u64 {
            return Err(format!(
                "data {}: chunk at row {} after {} rows",
                chunk.source,
                chunk.first_row,
                table.rows()
            ));
        }
        let mut start = 0;
        for row in chunk.ends.chunks(width) {
            let mut cells = Vec::with_capacity(width);
            for &end in row {
                let cell = usize::try_from(end)
                    .ok()
                    .filter(|&end| end >= start)
                    .and_then(|end| chunk.text.get(start..end).map(|c| (c, end)))
                    .ok_or_else(|| {
                        format!(
                            "data {}: a chunk's cell ends are not in order",
                            chunk.source
                        )
                    })?;
                cells.push(cell.0);
                start = cell.1;
            }
            table
                .push_row(cells.into_iter())
                .map_err(|e| format!("data {}: {e}", chunk.source))?;
        }
        if table.rows() >= self.total {
            return Ok(self.table.take());
        }
        Ok(None)
    }
}

/// What a worker may draw of one data source in a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataGrant {
    /// The `[[data]]` name.
    pub source: String,
    /// `unique`: the rows this worker may hand out, every range granted so far in the run.
    pub rows: Vec<Range<u64>>,
    /// `cycle`: the row this worker's first user takes.
    pub cycle_start: u64,
}

#[cfg(test)]
mod tests;
