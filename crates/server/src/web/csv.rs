//! File exports of lists: CSV (every field quoted, spreadsheet formulas
//! neutralised) and JSON (an array of objects keyed by the columns), each
//! with a file name carrying the time of the export.

use crate::app::AppState;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// One field, quoted; a leading `=`, `+`, `-` or `@` is escaped so a
/// spreadsheet does not run it as a formula.
pub fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A download named `leitstand-<name>-<time>.csv`.
pub fn response(s: &AppState, name: &str, header: &[String], rows: impl Iterator<Item = Vec<String>>) -> Response {
    let mut out = header.join(",");
    out.push('\n');
    for row in rows {
        out.push_str(&row.iter().map(|f| field(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    download(s, name, "csv", "text/csv; charset=utf-8", out)
}

/// Rows as a JSON array of objects keyed by `columns` (the order of each row).
pub fn json_text(columns: &[&str], rows: &[Vec<String>]) -> String {
    let list: Vec<serde_json::Map<String, serde_json::Value>> = rows
        .iter()
        .map(|r| columns.iter().zip(r).map(|(k, v)| ((*k).to_owned(), v.clone().into())).collect())
        .collect();
    serde_json::to_string_pretty(&list).unwrap_or_default()
}

/// A download named `leitstand-<name>-<time>.json` of [`json_text`].
pub fn json_response(s: &AppState, name: &str, columns: &[&str], rows: &[Vec<String>]) -> Response {
    download(s, name, "json", "application/json", json_text(columns, rows))
}

fn download(s: &AppState, name: &str, ext: &str, content_type: &str, body: String) -> Response {
    let safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let file = format!("leitstand-{safe}-{}.{ext}", s.services.now().strftime("%Y%m%d-%H%M%S"));
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_neutralised_and_quotes_doubled() {
        assert_eq!(super::field("=cmd|' /C calc'!A0"), "\"'=cmd|' /C calc'!A0\"");
        assert_eq!(super::field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
