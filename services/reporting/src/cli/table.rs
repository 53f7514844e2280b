//! One tabular form of a report or a history, written as aligned text for a person or
//! as CSV for a spreadsheet: the same header and rows either way.

use std::io::{self, Write};

/// A titled table of text cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Table {
    /// What the table shows; the text form prints it above the table, CSV leaves it out.
    pub(super) title: String,
    pub(super) header: Vec<&'static str>,
    pub(super) rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(title: impl Into<String>, header: Vec<&'static str>) -> Self {
        Table {
            title: title.into(),
            header,
            rows: Vec::new(),
        }
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The title, then the header, a rule and the rows, in columns. Columns of numbers
    /// are aligned right; empty cells show as `-`.
    pub(super) fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self
            .header
            .iter()
            .map(|name| name.chars().count())
            .collect();
        let mut numeric = vec![true; columns];
        for row in &self.rows {
            for (column, cell) in row.iter().enumerate().take(columns) {
                widths[column] = widths[column].max(shown(cell).chars().count());
                numeric[column] &= cell.is_empty() || cell.parse::<f64>().is_ok();
            }
        }
        writeln!(out, "{}", self.title)?;
        let header: Vec<String> = self.header.iter().map(|name| (*name).to_owned()).collect();
        write_line(out, &header, &widths, &numeric)?;
        let rule: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
        write_line(out, &rule, &widths, &numeric)?;
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|cell| shown(cell).to_owned()).collect();
            write_line(out, &cells, &widths, &numeric)?;
        }
        Ok(())
    }

    /// The header and the rows as CSV (RFC 4180).
    pub(super) fn write_csv(&self, out: &mut dyn Write) -> csv::Result<()> {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(&self.header)?;
        for row in &self.rows {
            writer.write_record(row)?;
        }
        writer.flush()?;
        Ok(())
    }
}

fn shown(cell: &str) -> &str {
    if cell.is_empty() { "-" } else { cell }
}

fn write_line(
    out: &mut dyn Write,
    cells: &[String],
    widths: &[usize],
    numeric: &[bool],
) -> io::Result<()> {
    let mut line = String::new();
    for (column, ((cell, width), right)) in cells.iter().zip(widths).zip(numeric).enumerate() {
        if column > 0 {
            line.push_str("  ");
        }
        if *right {
            line.push_str(&format!("{cell:>width$}"));
        } else {
            line.push_str(&format!("{cell:<width$}"));
        }
    }
    writeln!(out, "{}", line.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let mut table = Table::new("Key figures", vec!["kpi", "actual", "target"]);
        table.row(vec!["members".into(), "7".into(), "51".into()]);
        table.row(vec![
            "working_groups, open".into(),
            "12".into(),
            String::new(),
        ]);
        table
    }

    #[test]
    fn text_is_aligned_in_columns() {
        let mut out = Vec::new();
        table().write_text(&mut out).expect("written to memory");
        let text = String::from_utf8(out).expect("UTF-8");
        assert_eq!(
            text,
            "Key figures\n\
             kpi                   actual  target\n\
             --------------------  ------  ------\n\
             members                    7      51\n\
             working_groups, open      12       -\n"
        );
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let mut out = Vec::new();
        table().write_csv(&mut out).expect("written to memory");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "kpi,actual,target\nmembers,7,51\n\"working_groups, open\",12,\n"
        );
    }
}
