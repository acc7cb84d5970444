//! Security gate for every local request: digest authentication (the same challenge for
//! known and unknown extensions), brute-force lockout per source address, and the check
//! that trunk traffic comes from the trunk's allowed addresses. Being written (issue 3).

use crate::config::PbxConfig;
use crate::error::PbxError;

#[derive(Debug)]
pub struct Security {}

impl Security {
    pub fn new(_config: &PbxConfig) -> Result<Self, PbxError> {
        Ok(Security {})
    }
}
