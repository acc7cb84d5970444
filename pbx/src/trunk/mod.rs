//! SIP trunks to providers: registration (digest client), calls out and in, source
//! address checks. Being written (issue 3).

use crate::config::PbxConfig;
use crate::context::PbxContext;
use std::sync::Arc;

#[derive(Debug)]
pub struct Trunks {}

impl Trunks {
    pub fn new(_config: &PbxConfig) -> Self {
        Trunks {}
    }
}

pub fn spawn_registrations(_ctx: Arc<PbxContext>) {}
