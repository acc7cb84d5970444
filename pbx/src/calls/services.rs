//! What the B2BUA asks of the other PBX modules (security, dial plan, registrar, trunks),
//! in one place so the call logic reads the same whatever their exact signatures.

use crate::context::PbxContext;
use crate::directory::Snapshot;
use sip_core::auth::ChallengeKind;
use sip_core::driver::ServerRequest;
use sip_core::message::{Response, Uri};
use sip_core::transport::Destination;
use std::sync::Arc;
use store::{Extension, Trunk};

/// Who is calling, once authenticated.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    Extension(Arc<Extension>),
    Trunk(Arc<Trunk>),
}

/// Where the dial plan sends a call.
#[derive(Debug, Clone)]
pub(crate) enum Destined {
    Extension(Arc<Extension>),
    Emergency { number: String },
    Trunk { trunk: Arc<Trunk>, number: String },
    Deny { status: u16, reason: String },
}

/// One registered contact of an extension.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) uri: Uri,
    pub(crate) destination: Destination,
}

/// Digest-authenticates an INVITE (407, RFC 3261 §22.3) or recognises a trunk by its
/// source address. `Err` carries the response to send (challenge, 403 lockout, 400).
pub(crate) fn authenticate(
    ctx: &PbxContext,
    req: &ServerRequest,
    snap: &Snapshot,
) -> Result<Caller, Response> {
    match ctx.security.authenticate(req, ChallengeKind::Proxy, snap) {
        crate::security::AuthOutcome::Extension(e) => Ok(Caller::Extension(e)),
        crate::security::AuthOutcome::Trunk(t) => Ok(Caller::Trunk(t)),
        crate::security::AuthOutcome::Respond(r) => Err(r),
    }
}

/// Routes `dialled` for `caller`.
pub(crate) fn route(ctx: &PbxContext, caller: &Caller, dialled: &str, snap: &Snapshot) -> Destined {
    use crate::dial_plan::Route;
    let route = match caller {
        Caller::Extension(e) => {
            let info = crate::dial_plan::CallerInfo::extension(e.clone());
            ctx.trunks.dial_plan().route(&info, dialled, snap)
        }
        Caller::Trunk(_) => ctx.trunks.dial_plan().route_inbound(dialled, snap),
    };
    match route {
        Route::Extension(e) => Destined::Extension(e),
        Route::Emergency { number } => Destined::Emergency { number },
        Route::Trunk { trunk, number, .. } => Destined::Trunk { trunk, number },
        Route::Deny { status, reason } => Destined::Deny { status, reason },
    }
}

/// The registered contacts of extension `number`, each with the flow to reach it.
pub(crate) fn contacts(ctx: &PbxContext, number: &str) -> Vec<Target> {
    ctx.registrar
        .contacts_for(number)
        .into_iter()
        .map(|b| Target {
            uri: b.contact,
            destination: b.destination,
        })
        .collect()
}

/// The caller's own number as the dial plan and records see it.
pub(crate) fn caller_number(caller: &Caller, from_user: Option<&str>) -> String {
    match caller {
        Caller::Extension(e) => e.number.clone(),
        Caller::Trunk(_) => from_user.unwrap_or("anonymous").to_string(),
    }
}

/// The extension behind `caller`, if any.
pub(crate) fn caller_extension(caller: &Caller) -> Option<&Arc<Extension>> {
    match caller {
        Caller::Extension(e) => Some(e),
        Caller::Trunk(_) => None,
    }
}
