//! Sites, departments and number ranges: the municipality's organisation.

use std::collections::HashMap;

use crate::error::{Result, StoreError, is_fk_violation, map_write_err};
use crate::ids::*;
use crate::model::*;
use crate::{Store, bump_config, dispatch};

/// Finds or creates a department by name inside a transaction; evaluates to its id.
macro_rules! ensure_department {
    ($tx:expr, $name:expr) => {{
        sqlx::query("INSERT INTO departments (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind($name)
            .execute(&mut *$tx)
            .await?;
        let (id,): (i64,) = sqlx::query_as("SELECT id FROM departments WHERE name = $1")
            .bind($name)
            .fetch_one(&mut *$tx)
            .await?;
        DepartmentId(id)
    }};
}
pub(crate) use ensure_department;

/// Checks `first..=last` against every stored range inside a transaction; evaluates to
/// `Err(Invalid)` on overlap.
macro_rules! check_overlap {
    ($tx:expr, $first:expr, $last:expr) => {{
        let clash: Option<(String, String)> = sqlx::query_as(
            "SELECT first_number, last_number FROM number_ranges \
             WHERE length(first_number) = length($1) AND first_number <= $2 AND last_number >= $1 LIMIT 1",
        )
        .bind($first)
        .bind($last)
        .fetch_optional(&mut *$tx)
        .await?;
        match clash {
            Some((f, l)) => Err(StoreError::invalid("number range", format!("{}-{} overlaps {f}-{l}", $first, $last))),
            None => Ok(()),
        }
    }};
}
pub(crate) use check_overlap;

/// Replaces every number range of one owner inside a transaction: the old ones go first
/// so an unchanged range does not clash with itself; each new one is checked against all
/// the others (those of other owners and the ones inserted before it).
macro_rules! replace_ranges {
    ($tx:expr, $column:literal, $owner_id:expr, $ranges:expr) => {{
        sqlx::query(concat!(
            "DELETE FROM number_ranges WHERE ",
            $column,
            " = $1"
        ))
        .bind($owner_id)
        .execute(&mut *$tx)
        .await?;
        for (first, last) in $ranges {
            check_overlap!($tx, first.as_str(), last.as_str())?;
            sqlx::query(concat!(
                "INSERT INTO number_ranges (first_number, last_number, ",
                $column,
                ") VALUES ($1, $2, $3)"
            ))
            .bind(first)
            .bind(last)
            .bind($owner_id)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}
pub(crate) use replace_ranges;

type RangeRow = (i64, String, String, Option<i64>, Option<i64>);
type SiteRow = (i64, String, String, String, Option<i64>, Option<String>);

pub(crate) fn range_from_row((id, first, last, site, trunk): RangeRow) -> Result<NumberRange> {
    let owner = match (site, trunk) {
        (Some(s), None) => RangeOwner::Site(SiteId(s)),
        (None, Some(t)) => RangeOwner::Trunk(TrunkId(t)),
        _ => {
            return Err(StoreError::corrupt(
                "number_ranges",
                "site_id",
                "exactly one owner expected",
            ));
        }
    };
    Ok(NumberRange {
        id: NumberRangeId(id),
        first,
        last,
        owner,
    })
}

const SITE_SELECT: &str = "SELECT s.id, s.code, s.name, s.address, s.department_id, d.name \
     FROM sites s LEFT JOIN departments d ON d.id = s.department_id";
const RANGE_SELECT: &str =
    "SELECT id, first_number, last_number, site_id, trunk_id FROM number_ranges";

impl Store {
    /// Creates a department, or returns the existing one's id.
    pub async fn ensure_department(
        &self,
        name: &str,
        cost_centre: Option<&str>,
    ) -> Result<DepartmentId> {
        if name.trim().is_empty() {
            return Err(StoreError::invalid("department", "empty name"));
        }
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let id = ensure_department!(tx, name);
            if let Some(cc) = cost_centre {
                sqlx::query("UPDATE departments SET cost_centre = $1 WHERE id = $2")
                    .bind(cc)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            }
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// All departments, by name.
    pub async fn departments(&self) -> Result<Vec<Department>> {
        let rows: Vec<(i64, String, Option<String>)> = dispatch!(self, |pool| {
            sqlx::query_as("SELECT id, name, cost_centre FROM departments ORDER BY name")
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, name, cost_centre)| Department {
                id: DepartmentId(id),
                name,
                cost_centre,
            })
            .collect())
    }

    /// Renames a department and sets its cost centre (`None` clears it). `Duplicate` when
    /// the new name is taken, `NotFound` for an unknown department.
    pub async fn update_department(
        &self,
        name: &str,
        new_name: &str,
        cost_centre: Option<&str>,
    ) -> Result<()> {
        if new_name.trim().is_empty() {
            return Err(StoreError::invalid("department", "empty name"));
        }
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let n =
                sqlx::query("UPDATE departments SET name = $2, cost_centre = $3 WHERE name = $1")
                    .bind(name)
                    .bind(new_name)
                    .bind(cost_centre)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_write_err(e, "department", new_name, "department"))?
                    .rows_affected();
            if n == 0 {
                return Err(StoreError::not_found("department", name));
            }
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// How many sites and extensions refer to a department; `None` when it does not exist.
    pub async fn department_usage(&self, name: &str) -> Result<Option<DepartmentUsage>> {
        let row: Option<(i64, i64, i64)> = dispatch!(self, |pool| {
            sqlx::query_as(
                "SELECT d.id, \
                 (SELECT COUNT(*) FROM sites s WHERE s.department_id = d.id), \
                 (SELECT COUNT(*) FROM extensions e WHERE e.department_id = d.id) \
                 FROM departments d WHERE d.name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(_, sites, extensions)| DepartmentUsage {
            sites: u64::try_from(sites).unwrap_or(0),
            extensions: u64::try_from(extensions).unwrap_or(0),
        }))
    }

    /// Deletes a department nobody refers to. Refuses one still used by a site or an
    /// extension (the schema would quietly set their department to none). Call records
    /// keep the department's name as text and are not affected.
    pub async fn remove_department(&self, name: &str) -> Result<()> {
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let row: Option<(i64, i64, i64)> = sqlx::query_as(
                "SELECT d.id, \
                 (SELECT COUNT(*) FROM sites s WHERE s.department_id = d.id), \
                 (SELECT COUNT(*) FROM extensions e WHERE e.department_id = d.id) \
                 FROM departments d WHERE d.name = $1",
            )
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id, sites, extensions)) = row else {
                return Err(StoreError::not_found("department", name));
            };
            if sites > 0 || extensions > 0 {
                return Err(StoreError::invalid(
                    "department removal",
                    format!("{name:?} is used by {sites} sites and {extensions} extensions"),
                ));
            }
            sqlx::query("DELETE FROM departments WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Changes a site's name, address, department and number ranges in one transaction.
    /// `NotFound` for an unknown site; a range overlapping another owner's is refused and
    /// nothing is changed.
    pub async fn update_site(&self, code: &str, update: &SiteUpdate) -> Result<()> {
        if update.name.trim().is_empty() {
            return Err(StoreError::invalid("site name", "empty"));
        }
        for (first, last) in &update.ranges {
            validate_range(first, last)?;
        }
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let dept = match &update.department {
                Some(d) => Some(ensure_department!(tx, d.as_str()).0),
                None => None,
            };
            let row: Option<(i64,)> = sqlx::query_as(
                "UPDATE sites SET name = $2, address = $3, department_id = $4 WHERE code = $1 RETURNING id",
            )
            .bind(code)
            .bind(&update.name)
            .bind(&update.address)
            .bind(dept)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id,)) = row else {
                return Err(StoreError::not_found("site", code));
            };
            replace_ranges!(tx, "site_id", id, &update.ranges);
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Creates a site; `Duplicate` when the code exists.
    pub async fn add_site(&self, site: &NewSite) -> Result<SiteId> {
        self.create_site(site, &[]).await
    }

    /// Creates a site with its number ranges in one transaction; `Duplicate` when the code
    /// exists, `Invalid` when a range overlaps another owner's (nothing is stored then).
    pub async fn create_site(&self, site: &NewSite, ranges: &[(String, String)]) -> Result<SiteId> {
        validate_site(site)?;
        for (first, last) in ranges {
            validate_range(first, last)?;
        }
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let dept = match &site.department {
                Some(d) => Some(ensure_department!(tx, d.as_str()).0),
                None => None,
            };
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO sites (code, name, address, department_id) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(&site.code)
            .bind(&site.name)
            .bind(&site.address)
            .bind(dept)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map_write_err(e, "site", &site.code, "department"))?;
            replace_ranges!(tx, "site_id", id, ranges);
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(SiteId(id))
        })
    }

    /// Creates a site or updates the one with the same code (for imports).
    pub async fn upsert_site(&self, site: &NewSite) -> Result<SiteId> {
        validate_site(site)?;
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let dept = match &site.department {
                Some(d) => Some(ensure_department!(tx, d.as_str()).0),
                None => None,
            };
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO sites (code, name, address, department_id) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, address = excluded.address, \
                 department_id = excluded.department_id RETURNING id",
            )
            .bind(&site.code)
            .bind(&site.name)
            .bind(&site.address)
            .bind(dept)
            .fetch_one(&mut *tx)
            .await?;
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(SiteId(id))
        })
    }

    /// Removes a site, its number ranges with it. Fails while extensions are on it.
    pub async fn remove_site(&self, code: &str) -> Result<()> {
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let done = sqlx::query("DELETE FROM sites WHERE code = $1")
                .bind(code)
                .execute(&mut *tx)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if is_fk_violation(db.as_ref()) => {
                        StoreError::invalid(
                            "site removal",
                            format!("site {code:?} still has extensions"),
                        )
                    }
                    _ => StoreError::Database(e),
                })?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("site", code));
            }
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// One site by code, with its number ranges.
    pub async fn site_by_code(&self, code: &str) -> Result<Option<Site>> {
        let row: Option<SiteRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!("{SITE_SELECT} WHERE s.code = $1"))
                .bind(code)
                .fetch_optional(pool)
                .await?
        });
        let Some(row) = row else { return Ok(None) };
        let ranges: Vec<RangeRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!(
                "{RANGE_SELECT} WHERE site_id = $1 ORDER BY first_number"
            ))
            .bind(row.0)
            .fetch_all(pool)
            .await?
        });
        let ranges = ranges
            .into_iter()
            .map(range_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(site_from_row(row, ranges)))
    }

    /// All sites by code, with their number ranges.
    pub async fn sites(&self) -> Result<Vec<Site>> {
        let rows: Vec<SiteRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!("{SITE_SELECT} ORDER BY s.code"))
                .fetch_all(pool)
                .await?
        });
        let mut by_site: HashMap<SiteId, Vec<NumberRange>> = HashMap::new();
        for range in self.number_ranges().await? {
            if let RangeOwner::Site(s) = range.owner {
                by_site.entry(s).or_default().push(range);
            }
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let ranges = by_site.remove(&SiteId(row.0)).unwrap_or_default();
                site_from_row(row, ranges)
            })
            .collect())
    }

    /// Adds a block of numbers to a site or trunk. Refuses a malformed range and one that
    /// overlaps any existing range (a number has one owner).
    pub async fn add_number_range(
        &self,
        owner: RangeOwner,
        first: &str,
        last: &str,
    ) -> Result<NumberRangeId> {
        validate_range(first, last)?;
        let (site, trunk) = match owner {
            RangeOwner::Site(s) => (Some(s.0), None),
            RangeOwner::Trunk(t) => (None, Some(t.0)),
        };
        let key = format!("{first}-{last}");
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            check_overlap!(tx, first, last)?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO number_ranges (first_number, last_number, site_id, trunk_id) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(first)
            .bind(last)
            .bind(site)
            .bind(trunk)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map_write_err(e, "number range", &key, "range owner"))?;
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(NumberRangeId(id))
        })
    }

    /// Removes every number range of a site or trunk (before an import replaces them).
    pub async fn clear_number_ranges(&self, owner: RangeOwner) -> Result<u64> {
        let (sql, id) = match owner {
            RangeOwner::Site(s) => ("DELETE FROM number_ranges WHERE site_id = $1", s.0),
            RangeOwner::Trunk(t) => ("DELETE FROM number_ranges WHERE trunk_id = $1", t.0),
        };
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let n = sqlx::query(sql)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(n)
        })
    }

    /// Every number range, ordered by first number.
    pub async fn number_ranges(&self) -> Result<Vec<NumberRange>> {
        let rows: Vec<RangeRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!("{RANGE_SELECT} ORDER BY first_number"))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(range_from_row).collect()
    }

    /// The range holding `number`, if any (the on-net test of the dial plan).
    pub async fn find_number_range(&self, number: &str) -> Result<Option<NumberRange>> {
        let row: Option<RangeRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!(
                "{RANGE_SELECT} WHERE length(first_number) = length($1) AND first_number <= $1 AND last_number >= $1 LIMIT 1"
            ))
            .bind(number)
            .fetch_optional(pool)
            .await?
        });
        row.map(range_from_row).transpose()
    }
}

/// A site with its number ranges, as an import file describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteImport {
    pub site: NewSite,
    /// `(first, last)` pairs; they replace the site's stored ranges.
    pub ranges: Vec<(String, String)>,
}

/// What [`Store::import_sites`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub sites_created: u32,
    pub sites_updated: u32,
    pub departments: u32,
    pub ranges: u32,
}

impl Store {
    /// Creates or updates sites (by code), their departments and number ranges in one
    /// transaction: either the whole file's organisation is stored or nothing is.
    /// The listed sites' ranges are replaced; other sites are left alone.
    pub async fn import_sites(&self, sites: &[SiteImport]) -> Result<ImportSummary> {
        for s in sites {
            validate_site(&s.site)?;
            for (first, last) in &s.ranges {
                validate_range(first, last)?;
            }
        }
        let mut summary = ImportSummary::default();
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let mut departments = std::collections::HashSet::new();
            let mut ids = Vec::with_capacity(sites.len());
            for s in sites {
                let dept = match &s.site.department {
                    Some(d) => {
                        departments.insert(d.clone());
                        Some(ensure_department!(tx, d.as_str()).0)
                    }
                    None => None,
                };
                let existing: Option<(i64,)> =
                    sqlx::query_as("SELECT id FROM sites WHERE code = $1")
                        .bind(&s.site.code)
                        .fetch_optional(&mut *tx)
                        .await?;
                let id = match existing {
                    Some((id,)) => {
                        sqlx::query("UPDATE sites SET name = $2, address = $3, department_id = $4 WHERE id = $1")
                            .bind(id)
                            .bind(&s.site.name)
                            .bind(&s.site.address)
                            .bind(dept)
                            .execute(&mut *tx)
                            .await?;
                        summary.sites_updated += 1;
                        id
                    }
                    None => {
                        let (id,): (i64,) = sqlx::query_as(
                            "INSERT INTO sites (code, name, address, department_id) VALUES ($1, $2, $3, $4) RETURNING id",
                        )
                        .bind(&s.site.code)
                        .bind(&s.site.name)
                        .bind(&s.site.address)
                        .bind(dept)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(|e| map_write_err(e, "site", &s.site.code, "department"))?;
                        summary.sites_created += 1;
                        id
                    }
                };
                sqlx::query("DELETE FROM number_ranges WHERE site_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                ids.push(id);
            }
            // Ranges after every listed site's old ranges are gone, so ranges moving
            // between sites of the file do not clash with their old selves.
            for (s, id) in sites.iter().zip(ids) {
                for (first, last) in &s.ranges {
                    check_overlap!(tx, first.as_str(), last.as_str())?;
                    sqlx::query("INSERT INTO number_ranges (first_number, last_number, site_id) VALUES ($1, $2, $3)")
                        .bind(first)
                        .bind(last)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    summary.ranges += 1;
                }
            }
            summary.departments = u32::try_from(departments.len()).unwrap_or(u32::MAX);
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(summary)
        })
    }
}

fn validate_site(site: &NewSite) -> Result<()> {
    let code_ok = !site.code.is_empty()
        && site.code.len() <= 64
        && site
            .code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !code_ok {
        return Err(StoreError::invalid(
            "site code",
            format!("{:?}: use 1 to 64 letters, digits, '-' or '_'", site.code),
        ));
    }
    if site.name.trim().is_empty() {
        return Err(StoreError::invalid("site name", "empty"));
    }
    Ok(())
}

fn site_from_row(
    (id, code, name, address, department_id, department): SiteRow,
    number_ranges: Vec<NumberRange>,
) -> Site {
    Site {
        id: SiteId(id),
        code,
        name,
        address,
        department_id: department_id.map(DepartmentId),
        department,
        number_ranges,
    }
}
