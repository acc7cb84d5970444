//! The configuration file of `sentral serve` (TOML). Every key is optional; what is
//! missing keeps the built-in default, and command-line flags win over the file.
//!
//! ```toml
//! [pbx]
//! realm = "sentral"
//! extension_digits = 4
//! emergency_numbers = ["110", "112", "113", "1412"]
//! [registrar]
//! max_contacts = 5
//! min_expires = 60
//! max_expires = 3600
//! [lockout]
//! enabled = true
//! max_failures = 10
//! window_secs = 60
//! ban_secs = 600
//! [calls]
//! ring_timeout_secs = 60
//! max_call_duration_secs = 14400
//! ```

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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PbxSection {
    pub realm: Option<String>,
    pub extension_digits: Option<usize>,
    pub emergency_numbers: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrarSection {
    pub max_contacts: Option<usize>,
    pub min_expires: Option<u32>,
    pub max_expires: Option<u32>,
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
}

impl Settings {
    pub fn from_file(path: &Path) -> anyhow::Result<Settings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("configuration file {} is not valid", path.display()))
    }

    /// The PBX configuration: defaults overlaid with what the file sets.
    pub fn pbx_config(&self) -> anyhow::Result<pbx::PbxConfig> {
        let mut c = pbx::PbxConfig::default();
        if let Some(r) = &self.pbx.realm {
            c.realm = r.clone();
        }
        if let Some(d) = self.pbx.extension_digits {
            anyhow::ensure!(
                (2..=8).contains(&d),
                "pbx.extension_digits must be 2 to 8, not {d}"
            );
            c.extension_digits = d;
        }
        if let Some(e) = &self.pbx.emergency_numbers {
            anyhow::ensure!(
                e.iter()
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
                "pbx.emergency_numbers must be digit strings"
            );
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
