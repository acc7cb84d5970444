//! Which inputs of a data file are sourced and which are assumptions.
//!
//! The sample file marks every number with a trailing comment: `src:ID`, "nearest
//! documented", or "assumption: why". serde drops comments, so this reads the file a second
//! time with `toml_edit`, which keeps them, and records the comment of every key. The
//! savings report uses it to say which of its inputs are assumptions.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use toml_edit::{DocumentMut, Item, Table, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OriginKind {
    /// The comment cites a source and nothing is assumed.
    Sourced,
    /// A sourced figure from another year or market, used as a stand-in.
    NearestDocumented,
    /// The comment says (at least partly) "assumption".
    Assumption,
    /// The comment refers to another value ("same as legacy", "as local").
    SameAsOther,
    /// No comment.
    Unmarked,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub kind: OriginKind,
    pub comment: String,
}

/// Key path (as in error messages, e.g. `fixed_costs.new.sip_trunk_channels`,
/// `sites[3].legacy_bri`) → where its value comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub keys: BTreeMap<String, Origin>,
}

fn classify(comment: &str) -> OriginKind {
    let c = comment.to_ascii_lowercase();
    if c.is_empty() {
        OriginKind::Unmarked
    } else if c.contains("assumption") {
        OriginKind::Assumption
    } else if c.contains("nearest documented") {
        OriginKind::NearestDocumented
    } else if c.contains("src:") {
        OriginKind::Sourced
    } else if c.starts_with("same") || c.starts_with("as ") {
        OriginKind::SameAsOther
    } else {
        OriginKind::Unmarked
    }
}

fn trailing_comment(v: &Value) -> String {
    let suffix = v.decor().suffix().and_then(|s| s.as_str()).unwrap_or("");
    suffix.trim().trim_start_matches('#').trim().to_owned()
}

impl Provenance {
    /// Reads the comments of a TOML text; a text that does not parse gives no entries
    /// (the serde pass reports the error).
    pub fn from_toml(text: &str) -> Provenance {
        let mut p = Provenance::default();
        if let Ok(doc) = text.parse::<DocumentMut>() {
            p.walk_table("", doc.as_table());
        }
        p
    }

    fn walk_table(&mut self, prefix: &str, t: &Table) {
        for (k, item) in t.iter() {
            let path = if prefix.is_empty() {
                k.to_owned()
            } else {
                format!("{prefix}.{k}")
            };
            match item {
                Item::Value(v) => {
                    if let Value::InlineTable(it) = v {
                        for (ik, iv) in it.iter() {
                            self.insert(format!("{path}.{ik}"), trailing_comment(iv));
                        }
                    }
                    self.insert(path, trailing_comment(v));
                }
                Item::Table(sub) => self.walk_table(&path, sub),
                Item::ArrayOfTables(a) => {
                    for (i, sub) in a.iter().enumerate() {
                        self.walk_table(&format!("{path}[{i}]"), sub);
                    }
                }
                Item::None => {}
            }
        }
    }

    fn insert(&mut self, path: String, comment: String) {
        let kind = classify(&comment);
        self.keys.insert(path, Origin { kind, comment });
    }

    pub fn get(&self, path: &str) -> Option<&Origin> {
        self.keys.get(path)
    }

    pub fn is_assumption(&self, path: &str) -> bool {
        self.get(path)
            .is_some_and(|o| o.kind == OriginKind::Assumption)
    }

    /// Keys under a table prefix marked as assumptions.
    pub fn assumptions_under<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Origin)> + 'a {
        self.keys
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .filter(|(_, o)| o.kind == OriginKind::Assumption)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_trailing_comments() {
        let p = Provenance::from_toml(
            "[a]\nx = \"1\" # src:FOO\ny = 2 # assumption: guessed\nz = 3\nw = \"4\" # nearest documented: src:BAR\nv = 5 # same as legacy\n[[s]]\nk = 1 # assumption\n",
        );
        assert_eq!(p.get("a.x").map(|o| o.kind), Some(OriginKind::Sourced));
        assert_eq!(
            p.get("a.y").map(|o| o.comment.as_str()),
            Some("assumption: guessed")
        );
        assert!(p.is_assumption("a.y"));
        assert_eq!(p.get("a.z").map(|o| o.kind), Some(OriginKind::Unmarked));
        assert_eq!(
            p.get("a.w").map(|o| o.kind),
            Some(OriginKind::NearestDocumented)
        );
        assert_eq!(p.get("a.v").map(|o| o.kind), Some(OriginKind::SameAsOther));
        assert!(p.is_assumption("s[0].k"));
        assert_eq!(p.assumptions_under("a.").count(), 1);
    }
}
