//! Extensions: the phones, their class of service and digest credentials.

use crate::credentials::Credentials;
use crate::error::{Result, StoreError, map_write_err};
use crate::ids::*;
use crate::model::*;
use crate::sites::ensure_department;
use crate::{Store, bump_config, dispatch};

#[derive(sqlx::FromRow)]
struct ExtensionRow {
    id: i64,
    number: String,
    display_name: String,
    site_id: i64,
    site: String,
    department_id: Option<i64>,
    department: Option<String>,
    class_of_service: String,
    premium_allowed: bool,
    realm: String,
    ha1_md5: String,
    ha1_sha256: String,
    enabled: bool,
}

impl TryFrom<ExtensionRow> for Extension {
    type Error = StoreError;
    fn try_from(r: ExtensionRow) -> Result<Extension> {
        let class_of_service = r
            .class_of_service
            .parse()
            .map_err(|e| StoreError::corrupt("extensions", "class_of_service", e))?;
        Ok(Extension {
            id: ExtensionId(r.id),
            number: r.number,
            display_name: r.display_name,
            site_id: SiteId(r.site_id),
            site: r.site,
            department_id: r.department_id.map(DepartmentId),
            department: r.department,
            class_of_service,
            premium_allowed: r.premium_allowed,
            credentials: Credentials {
                realm: r.realm,
                ha1_md5: r.ha1_md5,
                ha1_sha256: r.ha1_sha256,
            },
            enabled: r.enabled,
        })
    }
}

const EXT_SELECT: &str = "SELECT e.id, e.number, e.display_name, e.site_id, s.code AS site, \
     e.department_id, d.name AS department, e.class_of_service, e.premium_allowed, e.realm, \
     e.ha1_md5, e.ha1_sha256, e.enabled \
     FROM extensions e JOIN sites s ON s.id = e.site_id LEFT JOIN departments d ON d.id = e.department_id";

/// Extension numbers: 2 to 8 digits (the dial plan's length is configurable, 4 by default).
fn validate_number(number: &str) -> Result<()> {
    if (2..=8).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "extension number",
            format!("{number:?}: use 2 to 8 digits"),
        ))
    }
}

/// Resolves an extension's site code to its id and its department: the named one
/// (created if new) or else the site's own. Returns `NotFound` from the enclosing
/// function for an unknown site.
macro_rules! site_and_department {
    ($tx:expr, $site:expr, $department:expr) => {{
        let site: Option<(i64, Option<i64>)> =
            sqlx::query_as("SELECT id, department_id FROM sites WHERE code = $1")
                .bind($site)
                .fetch_optional(&mut *$tx)
                .await?;
        let Some((site_id, site_dept)) = site else {
            return Err(StoreError::not_found("site", $site));
        };
        let dept: Option<i64> = match $department {
            Some(d) => Some(ensure_department!($tx, d.as_str()).0),
            None => site_dept,
        };
        (site_id, dept)
    }};
}

impl Store {
    /// Creates an extension on an existing site; `NotFound` for an unknown site,
    /// `Duplicate` for a number in use.
    pub async fn add_extension(&self, ext: &NewExtension) -> Result<ExtensionId> {
        validate_number(&ext.number)?;
        if ext.display_name.trim().is_empty() {
            return Err(StoreError::invalid("extension name", "empty"));
        }
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let (site_id, dept) = site_and_department!(tx, &ext.site, &ext.department);
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO extensions (number, display_name, site_id, department_id, class_of_service, \
                 premium_allowed, realm, ha1_md5, ha1_sha256, enabled) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            )
            .bind(&ext.number)
            .bind(&ext.display_name)
            .bind(site_id)
            .bind(dept)
            .bind(ext.class_of_service.as_str())
            .bind(ext.premium_allowed)
            .bind(&ext.credentials.realm)
            .bind(&ext.credentials.ha1_md5)
            .bind(&ext.credentials.ha1_sha256)
            .bind(ext.enabled)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map_write_err(e, "extension", &ext.number, "site"))?;
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(ExtensionId(id))
        })
    }

    /// One extension by number.
    pub async fn extension(&self, number: &str) -> Result<Option<Extension>> {
        let row: Option<ExtensionRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!("{EXT_SELECT} WHERE e.number = $1"))
                .bind(number)
                .fetch_optional(pool)
                .await?
        });
        row.map(Extension::try_from).transpose()
    }

    /// Every extension, ordered by number.
    pub async fn extensions(&self) -> Result<Vec<Extension>> {
        let rows: Vec<ExtensionRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!("{EXT_SELECT} ORDER BY e.number"))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Extension::try_from).collect()
    }

    /// Replaces an extension's credentials (password change).
    pub async fn set_extension_credentials(
        &self,
        number: &str,
        credentials: &Credentials,
    ) -> Result<()> {
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let n = sqlx::query(
                "UPDATE extensions SET realm = $2, ha1_md5 = $3, ha1_sha256 = $4 WHERE number = $1",
            )
            .bind(number)
            .bind(&credentials.realm)
            .bind(&credentials.ha1_md5)
            .bind(&credentials.ha1_sha256)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::not_found("extension", number));
            }
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Enables or disables an extension (a disabled one cannot register or call).
    pub async fn set_extension_enabled(&self, number: &str, enabled: bool) -> Result<()> {
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let n = sqlx::query("UPDATE extensions SET enabled = $2 WHERE number = $1")
                .bind(number)
                .bind(enabled)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::not_found("extension", number));
            }
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Changes what an extension may dial.
    pub async fn set_extension_class(
        &self,
        number: &str,
        class: ClassOfService,
        premium_allowed: bool,
    ) -> Result<()> {
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let n = sqlx::query("UPDATE extensions SET class_of_service = $2, premium_allowed = $3 WHERE number = $1")
                .bind(number)
                .bind(class.as_str())
                .bind(premium_allowed)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::not_found("extension", number));
            }
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Changes everything an edit may change on an extension in one transaction: name,
    /// site, department (`None` takes the new site's department, as on creation), class
    /// of service, premium and enabled. `NotFound` for an unknown extension or site.
    pub async fn update_extension(&self, number: &str, update: &ExtensionUpdate) -> Result<()> {
        if update.display_name.trim().is_empty() {
            return Err(StoreError::invalid("extension name", "empty"));
        }
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let (site_id, dept) = site_and_department!(tx, &update.site, &update.department);
            let n = sqlx::query(
                "UPDATE extensions SET display_name = $2, site_id = $3, department_id = $4, \
                 class_of_service = $5, premium_allowed = $6, enabled = $7 WHERE number = $1",
            )
            .bind(number)
            .bind(&update.display_name)
            .bind(site_id)
            .bind(dept)
            .bind(update.class_of_service.as_str())
            .bind(update.premium_allowed)
            .bind(update.enabled)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::not_found("extension", number));
            }
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Removes an extension and its registrations.
    pub async fn remove_extension(&self, number: &str) -> Result<()> {
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let n = sqlx::query("DELETE FROM extensions WHERE number = $1")
                .bind(number)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::not_found("extension", number));
            }
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(())
        })
    }
}
