//! What the B2BUA asks of the other PBX modules (security, dial plan, registrar, trunks),
//! in one place so the call logic reads the same whatever their exact signatures.

use crate::context::PbxContext;
use crate::dial_plan::{CallerInfo, Route};
use crate::directory::Snapshot;
use crate::security::{AuthOutcome, EmergencyCaller};
use crate::trunk::{ChannelGuard, OutboundTarget};
use sip_core::auth::ChallengeKind;
use sip_core::driver::ServerRequest;
use sip_core::message::{Request, Response, Uri};
use sip_core::transport::{Destination, Flow};
use std::sync::Arc;
use store::{Extension, Trunk};

/// Who is calling, once authenticated.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    Extension(Arc<Extension>),
    Trunk(Arc<Trunk>),
    /// An emergency call whose caller could not be identified: it goes out anyway with
    /// the site/main number (the security gate never blocks 112).
    Unknown,
}

/// Where the dial plan sends a call.
#[derive(Debug, Clone)]
pub(crate) enum Destined {
    Extension(Arc<Extension>),
    Emergency { number: String },
    Trunk { trunk: Arc<Trunk>, number: String },
    Deny { status: u16, reason: String },
}

/// Where one fork of the B leg goes.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A registered contact of an extension.
    Contact {
        uri: Box<Uri>,
        destination: Destination,
    },
    /// A provider, through a trunk (digest retry handled by `trunk::send_with_auth`).
    Trunk(Box<OutboundTarget>),
}

impl Target {
    pub(crate) fn destination(&self) -> Destination {
        match self {
            Target::Contact { destination, .. } => *destination,
            Target::Trunk(t) => t.destination,
        }
    }
}

/// Digest-authenticates an INVITE (407, RFC 3261 §22.3) or recognises a trunk by its
/// source address. `Err` carries the response to send (challenge, 403 lockout, 400).
/// An emergency number goes through the emergency gate: never refused for a lockout or
/// bad credentials.
pub(crate) fn authenticate(
    ctx: &PbxContext,
    req: &ServerRequest,
    dialled: &str,
    snap: &Snapshot,
) -> Result<Caller, Response> {
    authenticate_request(ctx, &req.request, &req.flow, dialled, snap)
}

/// [`authenticate`] on a bare request and flow.
fn authenticate_request(
    ctx: &PbxContext,
    req: &Request,
    flow: &Flow,
    dialled: &str,
    snap: &Snapshot,
) -> Result<Caller, Response> {
    if ctx.trunks.dial_plan().emergency_number(dialled).is_some() {
        return match ctx.security.authenticate_emergency_request(
            req,
            flow,
            ChallengeKind::Proxy,
            snap,
        ) {
            EmergencyCaller::Extension(e) => Ok(Caller::Extension(e)),
            EmergencyCaller::Trunk(t) => Ok(Caller::Trunk(t)),
            EmergencyCaller::Unknown => Ok(Caller::Unknown),
            EmergencyCaller::Respond(r) => Err(r),
        };
    }
    match ctx
        .security
        .authenticate_request(req, flow, ChallengeKind::Proxy, snap)
    {
        AuthOutcome::Extension(e) => Ok(Caller::Extension(e)),
        AuthOutcome::Trunk(t) => Ok(Caller::Trunk(t)),
        AuthOutcome::Respond(r) => Err(r),
    }
}

/// The answer to an initial INVITE without credentials that needs no call: the 407
/// challenge (or the lockout's 403), exactly what [`authenticate`] answers, for the
/// driver to send without handing the INVITE to a task. `None` when the INVITE carries
/// credentials, comes from a trunk, has no user part (404 in `handle_invite`), or is an
/// emergency call that goes out unauthenticated.
pub(crate) fn challenge_inline(ctx: &PbxContext, req: &Request, flow: &Flow) -> Option<Response> {
    if ctx.security.has_credentials(req, ChallengeKind::Proxy) {
        return None;
    }
    let dialled = super::sip::uri_user(&req.uri)?;
    let snap = ctx.directory.snapshot();
    authenticate_request(ctx, req, flow, &dialled, &snap).err()
}

fn caller_info(caller: &Caller) -> CallerInfo {
    match caller {
        Caller::Extension(e) => CallerInfo::extension(e.clone()),
        Caller::Trunk(_) | Caller::Unknown => CallerInfo::unknown(),
    }
}

/// Routes `dialled` for `caller`.
pub(crate) fn route(ctx: &PbxContext, caller: &Caller, dialled: &str, snap: &Snapshot) -> Destined {
    let plan = ctx.trunks.dial_plan();
    let route = match caller {
        Caller::Trunk(_) => plan.route_inbound(dialled, snap),
        _ => plan.route(&caller_info(caller), dialled, snap),
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
        .map(|b| Target::Contact {
            uri: Box::new(b.contact),
            destination: b.destination,
        })
        .collect()
}

/// Why a call cannot go out through a trunk: status for the caller and the record.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) reason: &'static str,
}

/// The B-leg target of a call out through `trunk` (or the emergency trunk), with the
/// channel it occupies.
pub(crate) async fn outbound(
    ctx: &PbxContext,
    caller: &Caller,
    trunk: Option<Arc<Trunk>>,
    number: &str,
    emergency: bool,
    snap: &Snapshot,
) -> Result<(Target, ChannelGuard, Arc<Trunk>), Refusal> {
    let plan = ctx.trunks.dial_plan();
    let info = caller_info(caller);
    let trunk = match trunk.or_else(|| plan.emergency_trunk(&info, snap)) {
        Some(t) => t,
        None => {
            return Err(Refusal {
                status: 503,
                reason: "No trunk available",
            });
        }
    };
    let Some(guard) = ctx.trunks.try_acquire_channel(&trunk, emergency) else {
        return Err(Refusal {
            status: 503,
            reason: "Trunk channels busy",
        });
    };
    let Some(driver) = ctx.driver() else {
        return Err(Refusal {
            status: 503,
            reason: "Service Unavailable",
        });
    };
    let identity = plan.identity(&info, emergency, snap);
    match ctx
        .trunks
        .outbound_target(driver, &trunk, number, &identity)
        .await
    {
        Ok(t) => Ok((Target::Trunk(Box::new(t)), guard, trunk)),
        Err(e) => {
            tracing::warn!(trunk = %trunk.name, error = %e, "trunk unreachable");
            Err(Refusal {
                status: 503,
                reason: "Trunk unreachable",
            })
        }
    }
}

/// The caller's own number as the records see it.
pub(crate) fn caller_number(caller: &Caller, from_user: Option<&str>) -> String {
    match caller {
        Caller::Extension(e) => e.number.clone(),
        Caller::Trunk(_) | Caller::Unknown => from_user.unwrap_or("anonymous").to_string(),
    }
}

/// The extension behind `caller`, if any.
pub(crate) fn caller_extension(caller: &Caller) -> Option<&Arc<Extension>> {
    match caller {
        Caller::Extension(e) => Some(e),
        Caller::Trunk(_) | Caller::Unknown => None,
    }
}
