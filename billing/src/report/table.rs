//! Any table (sites, extensions, call records, audit log, …) to CSV and XLSX, through the
//! same quoting, CSV-injection guard and cell formats as the cost and savings reports.
//! Callers build a [`Table`] of typed cells; numbers stay numbers in the workbook.

use super::ReportError;
use super::xlsx::{finish, formats, header, num, sheet_name};
use rust_decimal::Decimal;
use rust_xlsxwriter::Workbook;
use std::io::Write;

/// One cell: its type decides the CSV text and the XLSX cell type and format.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// An amount in NOK: two decimals with thousands separators in XLSX.
    Money(Decimal),
    /// Any other decimal number (minutes, quantities).
    Number(Decimal),
    Bool(bool),
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<Option<String>> for Cell {
    fn from(s: Option<String>) -> Cell {
        s.map_or(Cell::Empty, Cell::Text)
    }
}

impl From<Option<&str>> for Cell {
    fn from(s: Option<&str>) -> Cell {
        s.map_or(Cell::Empty, |s| Cell::Text(s.to_owned()))
    }
}

impl From<bool> for Cell {
    fn from(b: bool) -> Cell {
        Cell::Bool(b)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Int(n)
    }
}

/// A named table: the name becomes the XLSX sheet name (shortened to what XLSX allows).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(name: impl Into<String>, columns: &[&str]) -> Table {
        Table {
            name: name.into(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; it should have one cell per column (missing cells stay empty).
    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }
}

fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Int(n) => n.to_string(),
        Cell::Money(d) | Cell::Number(d) => d.normalize().to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Empty => String::new(),
    }
}

/// The table as CSV: a header line, then one line per row.
pub fn write_table_csv<W: Write>(table: &Table, mut w: W) -> Result<(), ReportError> {
    super::csv::line(&mut w, &table.columns)?;
    for row in &table.rows {
        let fields: Vec<String> = row.iter().map(csv_text).collect();
        super::csv::line(&mut w, &fields)?;
    }
    w.flush()?;
    Ok(())
}

/// The tables as one workbook, a sheet each, with a bold frozen header row.
pub fn write_tables_xlsx<W: Write>(tables: &[Table], w: W) -> Result<(), ReportError> {
    let f = formats();
    let mut wb = Workbook::new();
    for table in tables {
        let ws = wb.add_worksheet();
        ws.set_name(sheet_name(&table.name))?;
        let columns: Vec<&str> = table.columns.iter().map(String::as_str).collect();
        header(ws, &f, &columns)?;
        for (row, cells) in (1u32..).zip(&table.rows) {
            for (col, cell) in (0u16..).zip(cells) {
                match cell {
                    Cell::Text(s) => ws.write_string(row, col, s)?,
                    Cell::Int(n) => ws.write_number_with_format(row, col, *n as f64, &f.int)?,
                    Cell::Money(d) => ws.write_number_with_format(row, col, num(*d), &f.money)?,
                    Cell::Number(d) => ws.write_number(row, col, num(*d))?,
                    Cell::Bool(b) => ws.write_boolean(row, col, *b)?,
                    Cell::Empty => continue,
                };
            }
        }
        ws.autofit();
    }
    finish(wb, w)
}
