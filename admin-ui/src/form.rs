//! Checking what a form or an API body asks to store, field by field, with messages in
//! the user's language: a page shows each message next to its field (and a summary at the
//! top that links to them, WCAG 3.3.1), the API lists them under `error.fields`.
//!
//! The store checks the same rules again; this layer exists to say *which field* is wrong
//! and say it in bokmål or English.

use maud::{Markup, html};
use serde::Serialize;
use store::NumberRange;

use crate::i18n::{Lang, Msg};

/// One field's problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The form field's name (and the input's id).
    pub field: &'static str,
    pub msg: Msg,
    /// The offending value or a detail, shown after the message.
    pub detail: Option<String>,
}

impl FieldError {
    pub fn new(field: &'static str, msg: Msg) -> FieldError {
        FieldError {
            field,
            msg,
            detail: None,
        }
    }

    pub fn with(field: &'static str, msg: Msg, detail: impl Into<String>) -> FieldError {
        FieldError {
            field,
            msg,
            detail: Some(detail.into()),
        }
    }

    pub fn text(&self, lang: Lang) -> String {
        match &self.detail {
            Some(d) => format!("{}: {d}", self.msg.get(lang)),
            None => self.msg.get(lang).to_string(),
        }
    }
}

/// A field error as the API returns it.
#[derive(Serialize)]
pub struct FieldErrorJson {
    pub field: &'static str,
    pub message: String,
}

pub fn to_json(errors: &[FieldError], lang: Lang) -> Vec<FieldErrorJson> {
    errors
        .iter()
        .map(|e| FieldErrorJson {
            field: e.field,
            message: e.text(lang),
        })
        .collect()
}

/// The list of problems at the top of a form, each linking to its field.
pub fn summary(lang: Lang, errors: &[FieldError]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div class="error" role="alert" id="form-errors" {
                p { (Msg::FixFields.get(lang)) }
                ul { @for e in errors { li { a href={ "#" (e.field) } { (e.text(lang)) } } } }
            }
        }
    }
}

/// The message under one field, if it has one; its id is what the input's
/// `aria-describedby` names (see [`described_by`]).
pub fn message(lang: Lang, errors: &[FieldError], field: &str) -> Markup {
    html! {
        @for e in errors.iter().filter(|e| e.field == field) {
            p class="field-error" id={ (field) "-error" } { (e.text(lang)) }
        }
    }
}

/// `aria-describedby` for a field with an error, `None` otherwise.
pub fn described_by(errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .any(|e| e.field == field)
        .then(|| format!("{field}-error"))
}

/// `aria-describedby` for a field with a help text `help_id`, plus its error if any.
pub fn described_with(help_id: &str, errors: &[FieldError], field: &str) -> String {
    match described_by(errors, field) {
        Some(e) => format!("{help_id} {e}"),
        None => help_id.to_string(),
    }
}

/// Whether `field` has an error (for `aria-invalid`).
pub fn invalid(errors: &[FieldError], field: &str) -> Option<&'static str> {
    errors.iter().any(|e| e.field == field).then_some("true")
}

/// Splits a textarea of ranges, sources, … into entries: by line, comma or space.
pub fn entries(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses `first-last` (or one number, a range of one) entries; each malformed one, and
/// each overlapping a range of another owner (`others`) or an earlier entry, is an error
/// of `field`.
pub fn ranges(
    field: &'static str,
    items: &[String],
    others: &[NumberRange],
    owner_label: impl Fn(&NumberRange) -> String,
    errors: &mut Vec<FieldError>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for item in items {
        let (first, last) = match item.split_once('-') {
            Some((f, l)) => (f.trim().to_string(), l.trim().to_string()),
            None => (item.trim().to_string(), item.trim().to_string()),
        };
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(&first) || !digits(&last) {
            errors.push(FieldError::with(field, Msg::RangeDigits, item.as_str()));
            continue;
        }
        if first.len() != last.len() {
            errors.push(FieldError::with(field, Msg::RangeLengths, item.as_str()));
            continue;
        }
        if first > last {
            errors.push(FieldError::with(field, Msg::RangeOrder, item.as_str()));
            continue;
        }
        let overlaps =
            |f: &str, l: &str| f.len() == first.len() && f <= last.as_str() && l >= first.as_str();
        if let Some(r) = others.iter().find(|r| overlaps(&r.first, &r.last)) {
            errors.push(FieldError::with(
                field,
                Msg::RangeOverlaps,
                format!("{item} / {}-{} ({})", r.first, r.last, owner_label(r)),
            ));
            continue;
        }
        if let Some((f, l)) = out.iter().find(|(f, l)| overlaps(f, l)) {
            errors.push(FieldError::with(
                field,
                Msg::RangeOverlaps,
                format!("{item} / {f}-{l}"),
            ));
            continue;
        }
        out.push((first, last));
    }
    out
}

/// Ranges as the textarea shows them, one per line.
pub fn ranges_text(ranges: &[NumberRange]) -> String {
    ranges
        .iter()
        .map(|r| {
            if r.first == r.last {
                r.first.clone()
            } else {
                format!("{}-{}", r.first, r.last)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A required text field: trimmed, an error when empty.
pub fn required(field: &'static str, value: &str, errors: &mut Vec<FieldError>) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.push(FieldError::new(field, Msg::Required));
    }
    v.to_string()
}

/// An optional text field: trimmed, `None` when empty.
pub fn optional(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked_one_by_one() {
        let mut errors = Vec::new();
        let items = entries("22334400-22334499, 5000\n99-11\n12-345 22334450-22334460");
        let got = ranges("ranges", &items, &[], |_| String::new(), &mut errors);
        assert_eq!(
            got,
            vec![
                ("22334400".to_string(), "22334499".to_string()),
                ("5000".to_string(), "5000".to_string())
            ]
        );
        let msgs: Vec<Msg> = errors.iter().map(|e| e.msg).collect();
        assert_eq!(
            msgs,
            vec![Msg::RangeOrder, Msg::RangeLengths, Msg::RangeOverlaps]
        );
        assert!(errors[2].text(Lang::Nb).starts_with("Overlapper"));
        assert!(errors[2].text(Lang::En).starts_with("Overlaps"));
    }
}
