//! `sentral serve --demo`: the sample municipality (Sørum kommune's sites, departments and
//! number ranges, tariffs and fixed costs from the embedded sample file) and demo
//! extensions, so a new user can register a softphone at once. Seeds only an empty store;
//! passwords are printed once and saved to `demo-passwords.txt` (owner-only) in the data
//! directory.

use anyhow::Context;
use std::path::Path;
use store::{ClassOfService, Credentials, NewExtension, Store};

/// Demo extensions per site (the first sites get them; about 40 in all).
const PER_SITE: usize = 4;
const SITES_WITH_PHONES: usize = 10;

pub async fn seed(store: &Store, data_dir: &Path, realm: &str) -> anyhow::Result<()> {
    if !store.sites().await?.is_empty() {
        tracing::info!("store already has sites: --demo leaves it as it is");
        return Ok(());
    }
    crate::cli::import::import_text(
        store,
        Path::new("embedded sorum-sample.toml"),
        billing::dataset::SAMPLE_TOML.to_string(),
    )
    .await
    .context("cannot import the embedded sample")?;
    let sites = store.sites().await?;
    let mut lines =
        vec!["# Sentral demo extensions: number, site, password (shown once)".to_string()];
    let mut count = 0;
    for (i, site) in sites.iter().take(SITES_WITH_PHONES).enumerate() {
        for j in 0..PER_SITE {
            // 1000-1003 on the first site, 1100-1103 on the second, …
            let number = format!("{}", 1000 + i * 100 + j);
            let password = store::generate_password();
            let class = match j {
                0 => ClassOfService::International,
                1 => ClassOfService::Mobile,
                2 => ClassOfService::National,
                _ => ClassOfService::Internal,
            };
            store
                .add_extension(&NewExtension {
                    number: number.clone(),
                    display_name: format!("{} {}", site.name, j + 1),
                    site: site.code.clone(),
                    department: None,
                    class_of_service: class,
                    premium_allowed: false,
                    credentials: Credentials::from_password(&number, realm, &password),
                    enabled: true,
                })
                .await
                .with_context(|| format!("cannot add demo extension {number}"))?;
            lines.push(format!("{number}\t{}\t{password}", site.code));
            count += 1;
        }
    }
    let file = data_dir.join("demo-passwords.txt");
    crate::settings::write_private(&file, &(lines.join("\n") + "\n"))?;
    println!(
        "Demo: {} sites and {count} extensions created (realm {realm}).",
        sites.len()
    );
    println!(
        "Their SIP passwords are shown once here and saved to {} (owner-only):",
        file.display()
    );
    for l in &lines[1..] {
        println!("  {l}");
    }
    Ok(())
}
