//! `sentral site …` and `sentral extension …`.

use anyhow::Context;
use serde::Serialize;
use store::{Credentials, NewExtension, NewSite, RangeOwner, Store, StoreError};

use super::{ExtensionCmd, SiteCmd, UsageError, audit};

pub async fn site(store: &Store, cmd: SiteCmd) -> anyhow::Result<()> {
    match cmd {
        SiteCmd::Add {
            code,
            name,
            address,
            department,
            numbers,
        } => {
            let new = NewSite {
                code: code.clone(),
                name,
                address,
                department,
            };
            let id = store
                .add_site(&new)
                .await
                .map_err(input_error)
                .with_context(|| format!("cannot add site {code:?}"))?;
            for (first, last) in &numbers {
                if let Err(e) = store
                    .add_number_range(RangeOwner::Site(id), first, last)
                    .await
                {
                    // Keep "add" all-or-nothing: a site whose numbers were refused is
                    // removed again, so the user can simply retry with other numbers.
                    let _ = store.remove_site(&code).await;
                    return Err(input_error(e))
                        .with_context(|| format!("cannot add site {code:?}"));
                }
            }
            audit(store, "site.add", format!("{code} numbers={numbers:?}")).await?;
            println!("site {code} added");
            Ok(())
        }
        SiteCmd::List { json } => {
            let sites = store.sites().await.context("cannot list sites")?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&sites).context("cannot encode JSON")?
                );
            } else {
                println!("{:<20} {:<40} {:<20} NUMBERS", "CODE", "NAME", "DEPARTMENT");
                for s in sites {
                    let ranges: Vec<String> = s
                        .number_ranges
                        .iter()
                        .map(|r| format!("{}-{}", r.first, r.last))
                        .collect();
                    println!(
                        "{:<20} {:<40} {:<20} {}",
                        s.code,
                        s.name,
                        s.department.as_deref().unwrap_or("-"),
                        ranges.join(",")
                    );
                }
            }
            Ok(())
        }
    }
}

/// The JSON shape of `extension list --json` (never the credentials).
#[derive(Debug, Serialize)]
struct ExtensionOut<'a> {
    id: i64,
    number: &'a str,
    name: &'a str,
    site: &'a str,
    department: Option<&'a str>,
    class_of_service: store::ClassOfService,
    premium_allowed: bool,
    enabled: bool,
    realm: &'a str,
}

pub async fn extension(store: &Store, cmd: ExtensionCmd) -> anyhow::Result<()> {
    match cmd {
        ExtensionCmd::Add {
            number,
            name,
            site,
            department,
            password,
            class,
            premium,
            realm,
        } => {
            let (password, generated) = match password {
                Some(p) if p.is_empty() => {
                    return Err(UsageError("--password must not be empty".into()).into());
                }
                Some(p) => (p, false),
                None => (store::generate_password(), true),
            };
            let new = NewExtension {
                number: number.clone(),
                display_name: name,
                site,
                department,
                class_of_service: class.into(),
                premium_allowed: premium,
                credentials: Credentials::from_password(&number, &realm, &password),
                enabled: true,
            };
            store
                .add_extension(&new)
                .await
                .map_err(input_error)
                .with_context(|| format!("cannot add extension {number}"))?;
            audit(
                store,
                "extension.add",
                format!("{number} site={}", new.site),
            )
            .await?;
            println!("extension {number} added");
            if generated {
                // The only time the password exists outside the phone: the store keeps
                // HA1 hashes only.
                println!("password for {number}: {password}");
                println!("(shown once; it is not stored and cannot be shown again)");
            }
            Ok(())
        }
        ExtensionCmd::List { json } => {
            let exts = store.extensions().await.context("cannot list extensions")?;
            if json {
                let out: Vec<ExtensionOut<'_>> = exts
                    .iter()
                    .map(|e| ExtensionOut {
                        id: e.id.0,
                        number: &e.number,
                        name: &e.display_name,
                        site: &e.site,
                        department: e.department.as_deref(),
                        class_of_service: e.class_of_service,
                        premium_allowed: e.premium_allowed,
                        enabled: e.enabled,
                        realm: &e.credentials.realm,
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&out).context("cannot encode JSON")?
                );
            } else {
                println!(
                    "{:<8} {:<30} {:<16} {:<20} {:<14} ENABLED",
                    "NUMBER", "NAME", "SITE", "DEPARTMENT", "CLASS"
                );
                for e in exts {
                    let class = if e.premium_allowed {
                        format!("{}+premium", e.class_of_service.as_str())
                    } else {
                        e.class_of_service.as_str().to_string()
                    };
                    println!(
                        "{:<8} {:<30} {:<16} {:<20} {:<14} {}",
                        e.number,
                        e.display_name,
                        e.site,
                        e.department.as_deref().unwrap_or("-"),
                        class,
                        if e.enabled { "yes" } else { "no" }
                    );
                }
            }
            Ok(())
        }
    }
}

/// Store errors caused by malformed input (a bad extension number, a bad site code)
/// become usage errors; unknown and duplicate things stay failures.
fn input_error(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Invalid { .. } => UsageError(e.to_string()).into(),
        other => other.into(),
    }
}
