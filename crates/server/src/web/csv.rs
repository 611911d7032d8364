//! CSV exports of lists: every field quoted, spreadsheet formulas
//! neutralised, a file name with the time of the export.

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
    let safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let file = format!("leitstand-{safe}-{}.csv", s.services.now().strftime("%Y%m%d-%H%M%S"));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        out,
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
