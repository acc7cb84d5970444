//! The configuration file of `sentral serve` (TOML). Every key is optional; what is
//! missing keeps the built-in default, and command-line flags win over the file.
//!
//! ```toml
//! [pbx]
//! realm = "sentral"
//! extension_digits = 4
//! emergency_numbers = ["110", "112", "113", "1412"]
//! sip_threads = 1                  # threads for SIP, apart from the admin UI (1–64)
//! [registrar]
//! max_contacts = 5
//! min_expires = 60
//! max_expires = 3600
//! store_expiry_slack_secs = 60
//! [lockout]
//! enabled = true
//! max_failures = 10
//! window_secs = 60
//! ban_secs = 600
//! [calls]
//! ring_timeout_secs = 60
//! max_call_duration_secs = 14400
//! ack_timeout_secs = 32            # how long our 200 waits for the caller's ACK (1–300)
//! [[dial_plan.did_mappings]]       # DID range → extensions, tried in order
//! first = "63869000"
//! last = "63869399"
//! extension_first = "1000"         # 63869000 → 1000, 63869001 → 1001, …
//! [[dial_plan.did_mappings]]
//! first = "63869400"
//! last = "63869400"
//! extension = "2001"               # the whole range reaches one extension
//! [dial_plan.classes]              # what a destination class needs from the caller:
//! directory = "blocked"            # internal, national, mobile, international,
//! freephone = "internal"           # premium or blocked
//! ```
//!
//! A dial plan the PBX should not run with (overlapping DID ranges, an unknown class,
//! an emergency list without 112, an extension length outside 2–8, …) stops `serve`
//! with an error naming the key.

use anyhow::Context;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub pbx: PbxSection,
    #[serde(default)]
    pub registrar: RegistrarSection,
    #[serde(default)]
    pub lockout: LockoutSection,
    #[serde(default)]
    pub calls: CallsSection,
    #[serde(default)]
    pub dial_plan: DialPlanSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PbxSection {
    pub realm: Option<String>,
    pub extension_digits: Option<usize>,
    pub emergency_numbers: Option<Vec<String>>,
    pub sip_threads: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrarSection {
    pub max_contacts: Option<usize>,
    pub min_expires: Option<u32>,
    pub max_expires: Option<u32>,
    /// How far a binding's stored expiry may lag before a refresh is written (seconds).
    pub store_expiry_slack_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutSection {
    pub enabled: Option<bool>,
    pub max_failures: Option<u32>,
    pub window_secs: Option<u64>,
    pub ban_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsSection {
    pub ring_timeout_secs: Option<u64>,
    pub max_call_duration_secs: Option<u64>,
    /// How long our 2xx to an INVITE is retransmitted waiting for the ACK before the call
    /// is ended (RFC 3261 §13.3.1.4's 64*T1 is 32 s).
    pub ack_timeout_secs: Option<u64>,
}

/// The range `calls.ack_timeout_secs` accepts: at least one retransmission interval, and
/// short enough that a phone that never ACKs does not hold a call (and a trunk channel)
/// for long.
const ACK_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 1..=300;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialPlanSection {
    #[serde(default)]
    pub did_mappings: Vec<DidMappingSection>,
    /// Destination class name → requirement name (kept as text so an unknown name is
    /// reported with its key rather than as a TOML type error).
    #[serde(default)]
    pub classes: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DidMappingSection {
    pub first: String,
    pub last: String,
    /// Offset mapping: `first` reaches this extension, `first + 1` the next, …
    pub extension_first: Option<String>,
    /// The whole range reaches this one extension.
    pub extension: Option<String>,
}

impl DialPlanSection {
    fn apply(&self, c: &mut pbx::PbxConfig) -> anyhow::Result<()> {
        use pbx::dial_plan::{DidMapping, DidTarget, Requirement};
        for (i, m) in self.did_mappings.iter().enumerate() {
            let target = match (&m.extension_first, &m.extension) {
                (Some(e), None) => DidTarget::Offset {
                    extension_first: e.clone(),
                },
                (None, Some(e)) => DidTarget::Extension(e.clone()),
                _ => anyhow::bail!(
                    "dial_plan.did_mappings[{i}]: set exactly one of extension_first and extension"
                ),
            };
            c.dial_plan.did_mappings.push(DidMapping {
                first: m.first.clone(),
                last: m.last.clone(),
                target,
            });
        }
        for (name, requirement) in &self.classes {
            let Some(class) = billing::DestinationClass::parse(name) else {
                let known: Vec<&str> = billing::DestinationClass::ALL
                    .iter()
                    .map(|c| c.as_str())
                    .collect();
                anyhow::bail!(
                    "dial_plan.classes.{name}: unknown destination class (known: {})",
                    known.join(", ")
                );
            };
            let req = match requirement.as_str() {
                "premium" => Requirement::Premium,
                "blocked" => Requirement::Blocked,
                other => match other.parse::<store::ClassOfService>() {
                    Ok(cos) => Requirement::Class(cos),
                    Err(_) => anyhow::bail!(
                        "dial_plan.classes.{name}: {other:?} is not internal, national, \
                         mobile, international, premium or blocked"
                    ),
                },
            };
            c.dial_plan.class_overrides.push((class, req));
        }
        Ok(())
    }
}

impl Settings {
    pub fn from_file(path: &Path) -> anyhow::Result<Settings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("configuration file {} is not valid", path.display()))
    }

    /// Threads for SIP (see `sip_thread`): one unless the file says otherwise.
    pub fn sip_threads(&self) -> anyhow::Result<usize> {
        let threads = self.pbx.sip_threads.unwrap_or(1);
        let range = crate::sip_thread::THREADS;
        anyhow::ensure!(
            range.contains(&threads),
            "pbx.sip_threads: {threads} is outside {}–{}",
            range.start(),
            range.end()
        );
        Ok(threads)
    }

    /// The PBX configuration: defaults overlaid with what the file sets.
    pub fn pbx_config(&self) -> anyhow::Result<pbx::PbxConfig> {
        let mut c = pbx::PbxConfig::default();
        if let Some(r) = &self.pbx.realm {
            c.realm = r.clone();
        }
        if let Some(d) = self.pbx.extension_digits {
            c.extension_digits = d;
        }
        if let Some(e) = &self.pbx.emergency_numbers {
            c.emergency_numbers = e.clone();
        }
        if let Some(v) = self.registrar.max_contacts {
            c.registrar.max_contacts = v;
        }
        if let Some(v) = self.registrar.min_expires {
            c.registrar.min_expires = v;
        }
        if let Some(v) = self.registrar.max_expires {
            c.registrar.max_expires = v;
        }
        if let Some(v) = self.registrar.store_expiry_slack_secs {
            c.registrar.store_expiry_slack = Duration::from_secs(v);
        }
        if let Some(v) = self.lockout.enabled {
            c.lockout.enabled = v;
        }
        if let Some(v) = self.lockout.max_failures {
            c.lockout.max_failures = v;
        }
        if let Some(v) = self.lockout.window_secs {
            c.lockout.window = Duration::from_secs(v);
        }
        if let Some(v) = self.lockout.ban_secs {
            c.lockout.ban = Duration::from_secs(v);
        }
        if let Some(v) = self.calls.ring_timeout_secs {
            c.calls.ring_timeout = Duration::from_secs(v);
        }
        if let Some(v) = self.calls.max_call_duration_secs {
            c.calls.max_call_duration = Duration::from_secs(v);
        }
        if let Some(v) = self.calls.ack_timeout_secs {
            anyhow::ensure!(
                ACK_TIMEOUT_SECS.contains(&v),
                "calls.ack_timeout_secs: {v} is outside {}–{} seconds (RFC 3261's 64*T1 is 32)",
                ACK_TIMEOUT_SECS.start(),
                ACK_TIMEOUT_SECS.end()
            );
            c.calls.ack_timeout = Duration::from_secs(v);
        }
        self.dial_plan.apply(&mut c)?;
        // The PBX itself would fall back to a lenient plan (emergency calls must route);
        // at start a mistake is better stopped and named.
        pbx::dial_plan::validate(&c).context("invalid dial plan configuration")?;
        Ok(c)
    }
}

/// Writes a secret file readable only by the owner (0600 on Unix).
pub fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(content.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml_text: &str) -> Settings {
        match toml::from_str(toml_text) {
            Ok(s) => s,
            Err(e) => panic!("test TOML {toml_text:?}: {e}"),
        }
    }

    #[test]
    fn ack_timeout_comes_from_the_calls_section() {
        let c = settings("[calls]\nack_timeout_secs = 8\n")
            .pbx_config()
            .expect("valid");
        assert_eq!(c.calls.ack_timeout, Duration::from_secs(8));
    }

    #[test]
    fn ack_timeout_defaults_to_64_t1_when_not_set() {
        let c = settings("").pbx_config().expect("valid");
        assert_eq!(c.calls.ack_timeout, Duration::from_secs(32));
    }

    #[test]
    fn ack_timeout_outside_its_range_is_refused_naming_the_key() {
        for bad in ["0", "301"] {
            let text = format!("[calls]\nack_timeout_secs = {bad}\n");
            let err = settings(&text)
                .pbx_config()
                .expect_err("out of range")
                .to_string();
            assert!(err.contains("calls.ack_timeout_secs"), "{bad}: {err}");
        }
        assert!(
            settings("[calls]\nack_timeout_secs = 300\n")
                .pbx_config()
                .is_ok()
        );
    }
}
