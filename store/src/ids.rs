//! Typed row ids, so a site id can never be passed where an extension id is meant.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(
    /// Row id of a site.
    SiteId,
    /// Row id of a department (cost centre).
    DepartmentId,
    /// Row id of an extension.
    ExtensionId,
    /// Row id of a trunk.
    TrunkId,
    /// Row id of a number range.
    NumberRangeId,
    /// Row id of a registration binding.
    RegistrationId,
    /// Row id of a call record; also `billing::CallRecord::id`.
    CallRecordId,
    /// Row id of an imported tariff/dataset file.
    TariffFileId,
    /// Row id of an audit log entry.
    AuditId,
);
