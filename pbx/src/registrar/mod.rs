//! The registrar (RFC 3261 §10): REGISTER with digest auth, the location service with
//! bindings persisted in the store, expiry sweeping and OPTIONS keep-alive pings.
//!
//! # Bindings and flows
//! A binding is an extension's contact URI plus the *flow* its REGISTER arrived on
//! (transport, packet source address, connection). Requests to the phone go to the flow,
//! never to the Contact's host: behind NAT the Contact names a private address
//! (`192.168.1.20:5060`) while the flow's source is the NAT's public mapping, the only
//! path that reaches the phone (RFC 5626 §5 does the same with its flow tokens). For a
//! phone not behind NAT both are the same, so this costs nothing.
//!
//! A stream binding dies with its connection ([`on_flow_closed`], in the spirit of
//! RFC 5626 §4.4: a phone reconnects and re-registers). Bindings survive a restart via
//! the store; after a restart the old connections are gone, so a TCP binding is tried
//! on a new connection to the Contact's address until the phone re-registers.
//!
//! # REGISTER processing (RFC 3261 §10.3), in order
//! 1. To must be a `sip:`/`sips:` address of record (400).
//! 2. The security gate (401 challenge, 403 while locked out, 400 malformed). Before any
//!    other check, so that nothing below can tell a scanner which extensions exist.
//! 3. The AOR's user must be the authenticated extension (403), its host the realm,
//!    a configured domain, or the address the request arrived at (403).
//! 4. Contacts: `*` only alone and with `Expires: 0` (400). Each contact's expiry is its
//!    `expires` parameter, else the Expires header, else the default; an expiry above 0
//!    but under `min_expires` rejects the whole request with 423 and Min-Expires; longer
//!    than `max_expires` is shortened.
//! 5. Ordering (step 7): a contact bound with the same Call-ID and a CSeq not lower than
//!    this request's means the request is out of order: it fails with 500 and nothing
//!    changes. `*` follows the same rule for every binding.
//! 6. Changes go to the store first, then to memory. Beyond `max_contacts`, the least
//!    recently refreshed bindings are dropped. A contact with the same `+sip.instance`
//!    (and `reg-id`) as an existing binding replaces it (RFC 5626 §6: a rebooted phone
//!    with a new port is the same device).
//! 7. 200 lists every current binding with its remaining `expires`, plus a Date header
//!    (RFC 3261 §10.3 step 8).
//!
//! # Keep-alive and sweeping ([`spawn_maintenance`])
//! Expired bindings are swept every `sweep_interval` from memory and the store (also
//! those of extensions removed or disabled since). Every `options_ping_interval` each
//! binding gets an OPTIONS over its flow: the traffic keeps the NAT mapping open, and a
//! contact that leaves `options_ping_failures` pings in a row unanswered (timeout or
//! transport error; any response at all counts as alive) is dropped, so calls stop
//! ringing a phone that is gone long before its registration would expire.

mod persist;

use crate::config::{PbxConfig, RegistrarConfig};
use crate::context::PbxContext;
use crate::error::PbxError;
use crate::events::PbxEvent;
use crate::security::{AuthOutcome, reply};
use chrono::{DateTime, Utc};
use persist::BindingWriter;
use sip_core::auth::ChallengeKind;
use sip_core::driver::{ClientEvent, ServerRequest};
use sip_core::message::serialize::WriteWire;
use sip_core::message::typed::{parse_single_name_addr, percent_decode};
use sip_core::message::{
    CSeq, Contact, Header, Host, Method, NameAddr, Params, Request, Response, SipStr, SipUri, Uri,
    Via, check_register_to,
};
use sip_core::transport::{Destination, Flow, TransportKind};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use store::{ExtensionId, NewRegistration, Registration, RegistrationWrite, Store};

/// One registered contact of an extension, and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The extension number.
    pub extension: String,
    pub extension_id: ExtensionId,
    /// The Contact URI as registered: the Request-URI for requests to the phone.
    pub contact: Uri,
    /// Where to send requests: the flow the REGISTER came in on (see module docs).
    pub destination: Destination,
    pub expires_at: DateTime<Utc>,
    /// The Contact's host/port differ from the flow's source (a phone behind NAT).
    pub behind_nat: bool,
    /// Call-ID and CSeq of the last REGISTER that touched it (RFC 3261 §10.3 step 7).
    pub call_id: String,
    pub cseq: u32,
    /// `+sip.instance` and `reg-id` (RFC 5626 §4.1, §4.2).
    pub instance_id: Option<String>,
    pub reg_id: Option<u32>,
    pub user_agent: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// The expiry the store holds for this binding, which may lag `expires_at` by up to
    /// the configured slack (see `persist`).
    pub(crate) stored_expires_at: DateTime<Utc>,
    /// `contact` in wire form, made once: every REGISTER compares bindings by it
    /// several times.
    contact_key: String,
}

impl Binding {
    /// The contact URI in wire form: the binding's identity within its extension.
    pub fn contact_key(&self) -> &str {
        &self.contact_key
    }

    /// Whether `other` is this binding refreshed: the same contact, flow and identity,
    /// so that only the expiry and the ordering fields (Call-ID, CSeq) may differ.
    fn same_but_expiry(&self, other: &Binding) -> bool {
        self.contact == other.contact
            && self.destination == other.destination
            && self.instance_id == other.instance_id
            && self.reg_id == other.reg_id
            && self.user_agent == other.user_agent
            && self.extension_id == other.extension_id
    }

    /// Whole seconds until expiry (0 once expired).
    pub fn remaining(&self, now: DateTime<Utc>) -> u32 {
        let ms = (self.expires_at - now).num_milliseconds().max(0);
        u32::try_from((ms + 999) / 1000).unwrap_or(u32::MAX)
    }
}

/// The location service: every extension's current bindings, in memory and in the store.
#[derive(Debug)]
pub struct Registrar {
    config: RegistrarConfig,
    realm: String,
    bindings: RwLock<HashMap<String, Vec<Binding>>>,
    /// One REGISTER at a time per extension, so read-check-write is consistent.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Consecutive unanswered OPTIONS pings per (extension, contact key).
    ping_failures: Mutex<HashMap<(String, String), u32>>,
    /// Keeps the store's copy of the bindings current (write-behind, group commit).
    writer: BindingWriter,
}

impl Registrar {
    /// Loads the unexpired bindings from the store.
    pub async fn new(config: &PbxConfig, store: &Store) -> Result<Self, PbxError> {
        let now = Utc::now();
        let mut map: HashMap<String, Vec<Binding>> = HashMap::new();
        let mut loaded = 0usize;
        for reg in store.registrations().await? {
            if reg.expires_at <= now {
                continue;
            }
            match binding_from_store(&reg) {
                Some(b) => {
                    loaded += 1;
                    map.entry(b.extension.clone()).or_default().push(b);
                }
                None => tracing::warn!(
                    extension = %reg.extension_number,
                    "stored binding has an unusable contact; ignored"
                ),
            }
        }
        if loaded > 0 {
            tracing::info!(bindings = loaded, "registrations restored from the store");
        }
        Ok(Registrar {
            config: config.registrar.clone(),
            realm: config.realm.clone(),
            bindings: RwLock::new(map),
            locks: Mutex::new(HashMap::new()),
            ping_failures: Mutex::new(HashMap::new()),
            writer: BindingWriter::spawn(store.clone()),
        })
    }

    /// Waits until every binding change so far is in the store (graceful shutdown).
    pub async fn flush(&self) {
        self.writer.flush().await;
    }

    /// The extension's current (unexpired) bindings, most recently refreshed first.
    /// These are the targets the B2BUA rings.
    pub fn contacts_for(&self, extension: &str) -> Vec<Binding> {
        let now = Utc::now();
        let mut v: Vec<Binding> = self
            .read()
            .get(extension)
            .map(|bs| bs.iter().filter(|b| b.expires_at > now).cloned().collect())
            .unwrap_or_default();
        v.sort_by_key(|b| std::cmp::Reverse(b.updated_at));
        v
    }

    /// Whether the extension has at least one current binding.
    pub fn is_registered(&self, extension: &str) -> bool {
        let now = Utc::now();
        self.read()
            .get(extension)
            .is_some_and(|bs| bs.iter().any(|b| b.expires_at > now))
    }

    /// Every current binding, by extension number (admin UI).
    pub fn all(&self) -> Vec<Binding> {
        let now = Utc::now();
        let mut v: Vec<Binding> = self
            .read()
            .values()
            .flatten()
            .filter(|b| b.expires_at > now)
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            a.extension
                .cmp(&b.extension)
                .then(b.updated_at.cmp(&a.updated_at))
        });
        v
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Vec<Binding>>> {
        self.bindings.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Vec<Binding>>> {
        self.bindings.write().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_for(&self, extension: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(extension.to_string())
            .or_default()
            .clone()
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), u32>> {
        self.ping_failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes bindings matching `pred` from memory; returns them and the new count per
    /// touched extension.
    fn remove_where(
        &self,
        pred: impl Fn(&Binding) -> bool,
    ) -> (Vec<Binding>, Vec<(String, usize)>) {
        let mut removed = Vec::new();
        let mut counts = Vec::new();
        let mut map = self.write();
        map.retain(|ext, bs| {
            let before = bs.len();
            let (gone, kept): (Vec<Binding>, Vec<Binding>) = bs.drain(..).partition(|b| pred(b));
            *bs = kept;
            if bs.len() != before {
                counts.push((ext.clone(), bs.len()));
                removed.extend(gone);
            }
            !bs.is_empty()
        });
        drop(map);
        let mut f = self.failures();
        for b in &removed {
            f.remove(&(b.extension.clone(), b.contact_key().to_owned()));
        }
        (removed, counts)
    }
}

/// The transport token stored with a binding.
fn transport_name(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::Udp => "udp",
        TransportKind::Tcp => "tcp",
        TransportKind::Tls => "tls",
        TransportKind::Ws => "ws",
        TransportKind::Wss => "wss",
        TransportKind::Sctp => "sctp",
    }
}

fn transport_from_name(s: &str) -> Option<TransportKind> {
    Some(match s {
        "udp" => TransportKind::Udp,
        "tcp" => TransportKind::Tcp,
        "tls" => TransportKind::Tls,
        "ws" => TransportKind::Ws,
        "wss" => TransportKind::Wss,
        "sctp" => TransportKind::Sctp,
        _ => return None,
    })
}

fn parse_uri(s: &str) -> Option<Uri> {
    parse_single_name_addr(&format!("<{s}>").into()).map(|n| n.uri)
}

/// The Contact's address when it is an IP literal.
fn contact_addr(uri: &Uri) -> Option<SocketAddr> {
    let sip = uri.as_sip()?;
    let ip = sip.host.ip()?;
    Some(SocketAddr::new(
        ip,
        sip.port.unwrap_or(if sip.secure { 5061 } else { 5060 }),
    ))
}

fn binding_from_store(r: &Registration) -> Option<Binding> {
    let contact = parse_uri(&r.contact_uri)?;
    let kind = transport_from_name(&r.transport)?;
    // Connection ids of the previous run mean nothing now (they restart from zero).
    // UDP goes back to the NAT mapping; a stream needs a new connection, best to the
    // address the phone advertised (its ephemeral source port is not listening).
    let remote = if kind.is_reliable() {
        contact_addr(&contact).unwrap_or(r.source_addr)
    } else {
        r.source_addr
    };
    Some(Binding {
        extension: r.extension_number.clone(),
        extension_id: r.extension_id,
        behind_nat: contact_addr(&contact) != Some(r.source_addr),
        contact_key: contact.to_wire_string(),
        contact,
        destination: Destination {
            kind,
            remote,
            connection: None,
        },
        expires_at: r.expires_at,
        call_id: r.call_id.clone(),
        cseq: r.cseq,
        instance_id: r.instance_id.clone(),
        reg_id: r.reg_id,
        user_agent: r.user_agent.clone(),
        updated_at: r.updated_at,
        stored_expires_at: r.expires_at,
    })
}

fn new_registration(b: &Binding, flow_source: SocketAddr) -> NewRegistration {
    NewRegistration {
        extension_id: b.extension_id,
        contact_uri: b.contact_key().to_owned(),
        expires_at: b.expires_at,
        transport: transport_name(b.destination.kind).to_string(),
        source_addr: flow_source,
        connection_id: b.destination.connection.map(|c| c.0.to_string()),
        instance_id: b.instance_id.clone(),
        reg_id: b.reg_id,
        call_id: b.call_id.clone(),
        cseq: b.cseq,
        user_agent: b.user_agent.clone(),
    }
}

/// The driver's entry point for REGISTER, called on the driver task. A REGISTER that
/// finds its extension's lock free and changes nothing the store must see first (a
/// refresh) is answered right here; one that waits for the lock or for a commit
/// finishes in its own task.
pub fn handle_register(ctx: Arc<PbxContext>, req: ServerRequest) {
    let checked = match check(&ctx, &req.request, &req.flow) {
        Ok(c) => c,
        Err(resp) => return req.respond(resp),
    };
    let lock = ctx.registrar.lock_for(&checked.ext.number);
    if let Ok(held) = lock.clone().try_lock_owned() {
        match apply(&ctx, &req.request, &req.flow, checked) {
            Applied::Answer(resp) => req.respond(resp),
            Applied::Commit(pending) => {
                tokio::spawn(async move {
                    let resp = pending.commit(&ctx, &req.request).await;
                    drop(held);
                    req.respond(resp);
                });
            }
        }
        return;
    }
    tokio::spawn(async move {
        let _held = lock.lock().await;
        let resp = match apply(&ctx, &req.request, &req.flow, checked) {
            Applied::Answer(resp) => resp,
            Applied::Commit(pending) => pending.commit(&ctx, &req.request).await,
        };
        req.respond(resp);
    });
}

/// The answer to a REGISTER that needs neither the bindings nor the store, for the
/// driver's inline path: a malformed To, or no credentials (the 401 challenge, or 403
/// for a locked-out source), exactly what [`register`] answers. `None` otherwise.
pub fn answer_inline(ctx: &PbxContext, req: &Request, flow: &Flow) -> Option<Response> {
    if let Err(resp) = check_register_to(req) {
        return Some(with_tag(*resp));
    }
    if ctx.security.has_credentials(req, ChallengeKind::Www) {
        return None;
    }
    let snap = ctx.directory.snapshot();
    ctx.security
        .answer_without_credentials(req, flow, ChallengeKind::Www, &snap)
}

/// One contact change a REGISTER asks for.
struct Update {
    key: String,
    uri: Uri,
    expires: u32,
    instance_id: Option<String>,
    reg_id: Option<u32>,
}

/// Processes a REGISTER that arrived on `flow` and returns the answer (see the module
/// docs for the steps).
pub async fn register(ctx: &PbxContext, req: &Request, flow: &Flow) -> Response {
    let checked = match check(ctx, req, flow) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let lock = ctx.registrar.lock_for(&checked.ext.number);
    let _held = lock.lock().await;
    match apply(ctx, req, flow, checked) {
        Applied::Answer(resp) => resp,
        Applied::Commit(pending) => pending.commit(ctx, req).await,
    }
}

/// A REGISTER that passed authentication and the checks of RFC 3261 §10.3 steps 1–7
/// that need no bindings.
struct Checked {
    ext: Arc<store::Extension>,
    call_id: String,
    cseq: u32,
    star: bool,
    updates: Vec<Update>,
}

/// What a checked REGISTER does to the bindings: answered already, or a change the
/// store must commit before the 200.
enum Applied {
    Answer(Response),
    Commit(PendingCommit),
}

/// Bindings decided under the extension's lock, waiting for their commit.
struct PendingCommit {
    changes: Vec<RegistrationWrite>,
    outcome: Outcome,
}

/// The new bindings of an extension and what changed, to install after the store.
struct Outcome {
    ext: Arc<store::Extension>,
    flow: Flow,
    next: Vec<Binding>,
    removed: Vec<Binding>,
    changed: bool,
    now: DateTime<Utc>,
}

impl PendingCommit {
    /// Commits (the caller still holds the extension's lock), then installs.
    async fn commit(self, ctx: &PbxContext, req: &Request) -> Response {
        if !ctx.registrar.writer.commit(self.changes).await {
            tracing::error!(extension = %self.outcome.ext.number, "storing registration failed");
            let mut r = reply(req, 500, None);
            r.headers.push(Header::Other(
                sip_core::message::HeaderName::RetryAfter,
                "5".into(),
            ));
            return r;
        }
        install(ctx, req, self.outcome)
    }
}

/// Authentication and the checks that need no bindings; `Err` is the answer.
fn check(ctx: &PbxContext, req: &Request, flow: &Flow) -> Result<Checked, Response> {
    if let Err(resp) = check_register_to(req) {
        return Err(with_tag(*resp));
    }
    let snap = ctx.directory.snapshot();
    let ext = match ctx
        .security
        .authenticate_request(req, flow, ChallengeKind::Www, &snap)
    {
        AuthOutcome::Extension(e) => e,
        AuthOutcome::Respond(r) => return Err(r),
        AuthOutcome::Trunk(t) => {
            tracing::debug!(trunk = %t.name, "REGISTER from a trunk's address refused");
            return Err(reply(
                req,
                403,
                Some("Forbidden: trunks do not register here".into()),
            ));
        }
    };
    let reg = &ctx.registrar;
    let cfg = &reg.config;

    let Some(Uri::Sip(aor)) = req.headers.to().map(|t| &t.uri) else {
        return Err(reply(req, 400, None));
    };
    let aor_user = aor.user.as_ref().and_then(|u| percent_decode(u.as_str()));
    if aor_user.as_deref() != Some(ext.number.as_str()) {
        tracing::info!(extension = %ext.number, "REGISTER for another address of record refused");
        return Err(reply(
            req,
            403,
            Some("Forbidden: credentials do not match the address of record".into()),
        ));
    }
    if !domain_ok(&aor.host, &reg.realm, &cfg.domains, flow) {
        return Err(reply(
            req,
            403,
            Some("Forbidden: domain not served here".into()),
        ));
    }

    let (Some(call_id), Some(CSeq { seq: cseq, .. })) = (req.headers.call_id(), req.headers.cseq())
    else {
        return Err(reply(req, 400, None));
    };
    let call_id = call_id.to_string();
    let cseq = *cseq;
    let header_expires = req.headers.expires();
    let contacts: Vec<&Contact> = req.headers.contacts().collect();
    let star = contacts.iter().any(|c| matches!(c, Contact::Star));
    if star && (contacts.len() != 1 || header_expires != Some(0)) {
        // RFC 3261 §10.3 step 6.
        return Err(reply(
            req,
            400,
            Some("Bad Request: Contact * needs Expires: 0 and no other contact".into()),
        ));
    }
    let mut updates: Vec<Update> = Vec::new();
    for c in &contacts {
        let Contact::Addr(na) = c else { continue };
        if na.uri.as_sip().is_none() {
            return Err(reply(
                req,
                400,
                Some("Bad Request: contact must be a SIP URI".into()),
            ));
        }
        let asked = na
            .params
            .value("expires")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
            .or(header_expires)
            .unwrap_or(cfg.default_expires);
        if asked > 0 && asked < 3600 && asked < cfg.min_expires {
            // RFC 3261 §10.3 step 7: only an interval above zero, under an hour and under
            // our minimum may be refused; the whole request fails, with the minimum.
            let mut r = reply(req, 423, None);
            r.headers.push(Header::MinExpires(cfg.min_expires));
            return Err(r);
        }
        let key = na.uri.to_wire_string();
        let u = Update {
            expires: asked.min(cfg.max_expires),
            instance_id: na
                .params
                .value("+sip.instance")
                .map(|v| v.trim_matches('"').to_string()),
            reg_id: na.params.value("reg-id").and_then(|v| v.parse().ok()),
            uri: na.uri.clone(),
            key,
        };
        // The same contact twice in one request: the last one counts.
        updates.retain(|x| x.key != u.key);
        updates.push(u);
    }

    Ok(Checked {
        ext,
        call_id,
        cseq,
        star,
        updates,
    })
}

/// Steps 7–8 under the extension's lock: the new bindings, answered at once when the
/// store need not see them before the 200.
fn apply(ctx: &PbxContext, req: &Request, flow: &Flow, checked: Checked) -> Applied {
    let Checked {
        ext,
        call_id,
        cseq,
        star,
        updates,
    } = checked;
    let reg = &ctx.registrar;
    let cfg = &reg.config;
    let now = Utc::now();
    let current: Vec<Binding> = reg
        .read()
        .get(&ext.number)
        .map(|bs| bs.iter().filter(|b| b.expires_at > now).cloned().collect())
        .unwrap_or_default();

    // Step 7: out-of-order requests change nothing.
    let out_of_order = |b: &Binding| b.call_id == call_id && cseq <= b.cseq;
    let conflict = if star {
        current.iter().any(out_of_order)
    } else {
        updates.iter().any(|u| {
            current
                .iter()
                .any(|b| b.contact_key() == u.key && out_of_order(b))
        })
    };
    if conflict {
        tracing::debug!(extension = %ext.number, "REGISTER out of order (Call-ID/CSeq)");
        return Applied::Answer(reply(
            req,
            500,
            Some("Server Internal Error: out-of-order REGISTER".into()),
        ));
    }

    let user_agent = req
        .headers
        .raw_first(&sip_core::message::HeaderName::UserAgent)
        .map(|s| s.as_str().chars().take(200).collect::<String>());
    let mut next = current.clone();
    let mut removed: Vec<Binding> = Vec::new();
    // New or changed bindings (written before the 200), refreshes written behind, and
    // refreshes the store need not see yet (in `next` only).
    let mut upserted: Vec<Binding> = Vec::new();
    let mut refreshed: Vec<Binding> = Vec::new();
    if star {
        removed.append(&mut next);
    }
    for u in updates {
        let same = |b: &Binding| {
            b.contact_key() == u.key
                || (u.instance_id.is_some()
                    && b.instance_id == u.instance_id
                    && b.reg_id == u.reg_id)
        };
        let (gone, kept): (Vec<Binding>, Vec<Binding>) = next.into_iter().partition(|b| same(b));
        next = kept;
        removed.extend(gone.into_iter().filter(|b| b.contact_key() != u.key));
        if u.expires == 0 {
            if let Some(b) = current.iter().find(|b| b.contact_key() == u.key) {
                removed.push(b.clone());
            }
            continue;
        }
        let expires_at = now + chrono::Duration::seconds(i64::from(u.expires));
        let mut b = Binding {
            extension: ext.number.clone(),
            extension_id: ext.id,
            behind_nat: contact_addr(&u.uri) != Some(flow.remote),
            contact: u.uri,
            contact_key: u.key,
            destination: Destination::reply_to(flow),
            expires_at,
            call_id: call_id.clone(),
            cseq,
            instance_id: u.instance_id,
            reg_id: u.reg_id,
            user_agent: user_agent.clone(),
            updated_at: now,
            stored_expires_at: expires_at,
        };
        match current.iter().find(|c| c.contact_key == b.contact_key) {
            Some(prev) if prev.same_but_expiry(&b) => {
                if store_lag_ok(
                    prev.stored_expires_at,
                    expires_at,
                    now,
                    cfg.store_expiry_slack,
                ) {
                    b.stored_expires_at = prev.stored_expires_at;
                } else {
                    refreshed.push(b.clone());
                }
            }
            _ => upserted.push(b.clone()),
        }
        next.push(b);
    }
    // Over the limit: the least recently refreshed go first.
    if next.len() > cfg.max_contacts {
        next.sort_by_key(|b| std::cmp::Reverse(b.updated_at));
        let extra = next.split_off(cfg.max_contacts.max(1).min(next.len()));
        tracing::info!(
            extension = %ext.number,
            replaced = extra.len(),
            "contact limit reached; least recently refreshed bindings replaced"
        );
        upserted.retain(|u| !extra.iter().any(|x| x.contact_key() == u.contact_key()));
        refreshed.retain(|u| !extra.iter().any(|x| x.contact_key() == u.contact_key()));
        removed.extend(extra);
    }

    // A changed set of bindings is committed before the 200, so a binding answered
    // with 200 survives a crash; refreshes are written behind or not at all (`persist`).
    let mut changes: Vec<RegistrationWrite> = Vec::new();
    if star {
        changes.push(RegistrationWrite::RemoveAll(ext.id));
    } else {
        changes.extend(removed.iter().map(|b| RegistrationWrite::Remove {
            extension_id: ext.id,
            contact_uri: b.contact_key().to_owned(),
        }));
    }
    changes.extend(
        upserted
            .iter()
            .map(|b| RegistrationWrite::Upsert(new_registration(b, flow.remote))),
    );
    let behind: Vec<RegistrationWrite> = refreshed
        .iter()
        .map(|b| RegistrationWrite::Upsert(new_registration(b, flow.remote)))
        .collect();
    let outcome = Outcome {
        ext,
        flow: *flow,
        changed: !removed.is_empty() || !upserted.is_empty(),
        next,
        removed,
        now,
    };
    if !changes.is_empty() {
        // Queued in order behind any earlier refresh, committed in one batch with it.
        changes.splice(0..0, behind);
        return Applied::Commit(PendingCommit { changes, outcome });
    }
    reg.writer.queue(behind);
    Applied::Answer(install(ctx, req, outcome))
}

/// Installs decided (and, where needed, committed) bindings and answers 200.
fn install(ctx: &PbxContext, req: &Request, outcome: Outcome) -> Response {
    let Outcome {
        ext,
        flow,
        next,
        removed,
        changed,
        now,
    } = outcome;
    let reg = &ctx.registrar;
    {
        // A REGISTER proves the contacts it touched alive.
        let mut f = reg.failures();
        if !f.is_empty() {
            for b in removed
                .iter()
                .chain(next.iter().filter(|b| b.updated_at == now))
            {
                f.remove(&(ext.number.clone(), b.contact_key().to_owned()));
            }
        }
    }
    // The 200 is built from the bindings before they move into the map, which then
    // takes them without a copy (every REGISTER passes here).
    let response = ok_response(req, &next, now);
    let contacts = next.len();
    {
        let mut map = reg.write();
        if next.is_empty() {
            map.remove(&ext.number);
        } else if let Some(slot) = map.get_mut(&ext.number) {
            *slot = next;
        } else {
            map.insert(ext.number.clone(), next);
        }
    }
    if changed {
        tracing::info!(
            extension = %ext.number,
            contacts,
            transport = transport_name(flow.kind),
            "registration updated"
        );
    } else {
        // A refresh: the normal traffic of a registrar, not worth an info line each.
        tracing::debug!(extension = %ext.number, contacts, "registration refreshed");
    }
    ctx.events.publish(PbxEvent::Registration {
        extension: ext.number.clone(),
        contacts,
    });
    response
}

/// Whether a refresh to `expires_at` may skip the store, whose copy says `stored`: the
/// copy lags by at most `slack` and still covers half of the new interval, so the stored
/// row is not swept as expired long before the binding (see `persist`).
fn store_lag_ok(
    stored: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    slack: Duration,
) -> bool {
    let slack = chrono::Duration::from_std(slack).unwrap_or_else(|_| chrono::Duration::zero());
    stored + slack >= expires_at && (stored - now) * 2 >= expires_at - now
}

/// The 200 of RFC 3261 §10.3 step 8: every current binding with its remaining expiry,
/// and the server's Date.
fn ok_response(req: &Request, bindings: &[Binding], now: DateTime<Utc>) -> Response {
    let mut r = reply(req, 200, None);
    let contacts: Vec<Contact> = bindings
        .iter()
        .map(|b| {
            let mut na = NameAddr::new(b.contact.clone());
            na.params
                .set("expires", Some(b.remaining(now).to_string().into()));
            if let Some(i) = &b.instance_id {
                na.params
                    .set("+sip.instance", Some(format!("\"{i}\"").into()));
            }
            if let Some(id) = b.reg_id {
                na.params.set("reg-id", Some(id.to_string().into()));
            }
            Contact::Addr(na)
        })
        .collect();
    if !contacts.is_empty() {
        r.headers.push(Header::Contact(contacts));
    }
    r.headers.push(Header::Other(
        sip_core::message::HeaderName::Date,
        sip_date(now).into(),
    ));
    r
}

/// RFC 3261 §20.17's Date (RFC 1123 form, always GMT). Written by hand: chrono's
/// `format` parses its pattern on every call, a visible cost in each REGISTER's 200.
fn sip_date(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write as _;
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day = DAYS
        .get(t.weekday().num_days_from_monday() as usize)
        .unwrap_or(&"Mon");
    let month = MONTHS.get(t.month0() as usize).unwrap_or(&"Jan");
    // 29 bytes for years 1000-9999: sized once instead of grown by format!.
    let mut date = String::with_capacity(32);
    // Writing into a String cannot fail.
    let _ = write!(
        date,
        "{day}, {:02} {month} {} {:02}:{:02}:{:02} GMT",
        t.day(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    );
    date
}

/// A stateless response from sip-core's checks, with our To tag.
fn with_tag(mut resp: Response) -> Response {
    if let Some(to) = resp.headers.to_mut() {
        if to.tag().is_none() {
            to.set_tag(SipStr::hex_u64(rand::random::<u64>()));
        }
    }
    resp
}

/// Whether the AOR's host is served here (RFC 3261 §10.3 step 1): the realm, a
/// configured domain, or the IP address the REGISTER was sent to (phones configured with
/// the server's address as their domain). A listener on the unspecified address accepts
/// any IP literal, since it cannot know which of its addresses was meant.
fn domain_ok(host: &Host, realm: &str, domains: &[String], flow: &Flow) -> bool {
    match host {
        Host::Domain(d) => {
            let d = d.as_str().trim_end_matches('.');
            d.eq_ignore_ascii_case(realm) || domains.iter().any(|x| x.eq_ignore_ascii_case(d))
        }
        h => {
            let Some(ip) = h.ip() else { return false };
            let local = flow.local.ip();
            local.is_unspecified()
                || local.to_canonical() == ip.to_canonical()
                || domains
                    .iter()
                    .filter_map(|x| x.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
                    .any(|x| x == ip)
        }
    }
}

/// A stream connection closed: its bindings can no longer be reached (RFC 5626 §4.4
/// spirit; the phone reconnects and registers again).
pub fn on_flow_closed(ctx: &Arc<PbxContext>, flow: Flow) {
    let Some(conn) = flow.connection else {
        return;
    };
    remove_bindings(
        ctx,
        move |b: &Binding| {
            b.destination.connection == Some(conn) && b.destination.kind == flow.kind
        },
        "connection closed",
    );
}

/// Removes matching bindings from memory now and from the store behind.
fn remove_bindings(ctx: &Arc<PbxContext>, pred: impl Fn(&Binding) -> bool, why: &'static str) {
    let (removed, counts) = ctx.registrar.remove_where(pred);
    if removed.is_empty() {
        return;
    }
    for (extension, contacts) in counts {
        tracing::info!(%extension, contacts, reason = why, "bindings removed");
        ctx.events.publish(PbxEvent::Registration {
            extension,
            contacts,
        });
    }
    ctx.registrar.writer.queue(
        removed
            .iter()
            .map(|b| RegistrationWrite::Remove {
                extension_id: b.extension_id,
                contact_uri: b.contact_key().to_owned(),
            })
            .collect(),
    );
}

/// Starts the sweeper, the OPTIONS pinger and the security gate's lockout reporter.
pub fn spawn_maintenance(ctx: Arc<PbxContext>) {
    crate::security::spawn_reporter(ctx.clone());
    let sweep_every = ctx
        .config
        .registrar
        .sweep_interval
        .max(Duration::from_millis(100));
    let c = ctx.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(sweep_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            sweep(&c).await;
        }
    });
    let ping_every = ctx.config.registrar.options_ping_interval;
    if ping_every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(ping_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tick.tick().await; // the first tick is immediate; bindings were just made
        loop {
            tick.tick().await;
            for b in ctx.registrar.all() {
                let ctx = ctx.clone();
                tokio::spawn(async move { ping(&ctx, b).await });
            }
        }
    });
}

/// Drops expired bindings and those of extensions gone or disabled.
pub async fn sweep(ctx: &Arc<PbxContext>) {
    let now = Utc::now();
    let snap = ctx.directory.snapshot();
    let (removed, counts) = ctx.registrar.remove_where(|b| {
        b.expires_at <= now || !snap.extension(&b.extension).is_some_and(|e| e.enabled)
    });
    for (extension, contacts) in counts {
        ctx.events.publish(PbxEvent::Registration {
            extension,
            contacts,
        });
    }
    // Unexpired but the extension is gone or disabled: the store keeps it otherwise.
    ctx.registrar.writer.queue(
        removed
            .iter()
            .filter(|b| b.expires_at > now)
            .map(|b| RegistrationWrite::Remove {
                extension_id: b.extension_id,
                contact_uri: b.contact_key().to_owned(),
            })
            .collect(),
    );
    match ctx.store.sweep_expired_registrations(now).await {
        Ok(n) if n > 0 => tracing::debug!(swept = n, "expired bindings swept from the store"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "sweeping expired bindings failed"),
    }
}

/// One OPTIONS to a binding over its flow; counts unanswered pings.
async fn ping(ctx: &Arc<PbxContext>, b: Binding) {
    let Some(driver) = ctx.driver() else { return };
    let dest = b.destination;
    let Some(local) = driver.transports().local_for(dest.kind, dest.remote) else {
        return;
    };
    let req = options_request(&b, local, dest.kind);
    let alive = match driver.send_request(req, dest).await {
        Ok(mut tx) => matches!(tx.final_response().await, Some(ClientEvent::Response(_))),
        Err(e) => {
            tracing::debug!(error = %e, "OPTIONS ping not sent");
            return;
        }
    };
    let key = (b.extension.clone(), b.contact_key().to_owned());
    let limit = ctx.config.registrar.options_ping_failures;
    let misses = {
        let mut f = ctx.registrar.failures();
        if alive {
            f.remove(&key);
            return;
        }
        let n = f.entry(key.clone()).or_insert(0);
        *n += 1;
        *n
    };
    tracing::debug!(extension = %b.extension, misses, "OPTIONS ping unanswered");
    if limit > 0 && misses >= limit {
        let updated = b.updated_at;
        remove_bindings(
            ctx,
            move |x: &Binding| {
                x.extension == key.0 && x.contact_key() == key.1 && x.updated_at == updated
            },
            "contact stopped answering OPTIONS",
        );
    }
}

/// OPTIONS to the contact (RFC 3261 §11), out of dialog.
fn options_request(b: &Binding, local: SocketAddr, kind: TransportKind) -> Request {
    let mut req = Request::new(Method::Options, b.contact.clone());
    let mut params = Params::new();
    params.set("rport", None);
    req.headers.push(Header::Via(vec![Via {
        protocol: "SIP".into(),
        version: "2.0".into(),
        transport: kind_token(kind).into(),
        host: Host::from(local.ip()),
        port: Some(local.port()),
        params,
    }]));
    req.headers.push(Header::MaxForwards(70));
    let mut me = SipUri::new(Host::from(local.ip()));
    me.port = Some(local.port());
    me.user = Some("sentral".into());
    let mut from = NameAddr::new(Uri::Sip(me));
    from.set_tag(format!("{:016x}", rand::random::<u64>()));
    req.headers.push(Header::From(from));
    req.headers
        .push(Header::To(NameAddr::new(b.contact.clone())));
    req.headers.push(Header::CallId(
        format!("{:032x}@{}", rand::random::<u128>(), local.ip()).into(),
    ));
    req.headers.push(Header::CSeq(CSeq {
        seq: 1,
        method: Method::Options,
    }));
    req.headers.push(Header::ContentLength(0));
    req
}

fn kind_token(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::Udp => "UDP",
        TransportKind::Tcp => "TCP",
        TransportKind::Tls => "TLS",
        TransportKind::Ws => "WS",
        TransportKind::Wss => "WSS",
        TransportKind::Sctp => "SCTP",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn flow(local: &str) -> Flow {
        Flow {
            kind: TransportKind::Udp,
            local: local.parse().expect("addr"),
            remote: "192.0.2.50:5060".parse().expect("addr"),
            connection: None,
        }
    }

    #[test]
    fn domains_served() {
        let f = flow("10.0.0.1:5060");
        let d = |s: &str| Host::Domain(s.into());
        assert!(domain_ok(&d("sentral"), "sentral", &[], &f));
        assert!(domain_ok(&d("SENTRAL."), "sentral", &[], &f));
        assert!(!domain_ok(&d("evil.example"), "sentral", &[], &f));
        assert!(domain_ok(
            &d("pbx.kommune.no"),
            "sentral",
            &["pbx.kommune.no".into()],
            &f
        ));
        let ip = |s: &str| Host::from(s.parse::<IpAddr>().expect("ip"));
        assert!(domain_ok(&ip("10.0.0.1"), "sentral", &[], &f));
        assert!(!domain_ok(&ip("10.0.0.2"), "sentral", &[], &f));
        assert!(domain_ok(
            &ip("203.0.113.5"),
            "sentral",
            &["203.0.113.5".into()],
            &f
        ));
        assert!(domain_ok(
            &ip("10.9.9.9"),
            "sentral",
            &[],
            &flow("0.0.0.0:5060")
        ));
        assert!(domain_ok(
            &Host::Ipv4(Ipv4Addr::new(10, 0, 0, 1)),
            "sentral",
            &[],
            &f
        ));
    }

    #[test]
    fn date_header_matches_rfc_1123() {
        use chrono::TimeZone;
        for (t, want) in [
            (
                Utc.with_ymd_and_hms(2010, 11, 13, 23, 29, 0),
                "Sat, 13 Nov 2010 23:29:00 GMT",
            ),
            (
                Utc.with_ymd_and_hms(2026, 1, 5, 7, 3, 9),
                "Mon, 05 Jan 2026 07:03:09 GMT",
            ),
        ] {
            let t = t.single().expect("valid time");
            assert_eq!(sip_date(t), want);
            assert_eq!(
                sip_date(t),
                t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
            );
        }
    }

    #[test]
    fn remaining_rounds_up_and_stops_at_zero() {
        let now = Utc::now();
        let b = Binding {
            extension: "1001".into(),
            extension_id: ExtensionId(1),
            contact: parse_uri("sip:1001@192.0.2.50:5060").expect("uri"),
            contact_key: "sip:1001@192.0.2.50:5060".into(),
            destination: Destination::reply_to(&flow("10.0.0.1:5060")),
            expires_at: now + chrono::Duration::milliseconds(1500),
            behind_nat: false,
            call_id: "c".into(),
            cseq: 1,
            instance_id: None,
            reg_id: None,
            user_agent: None,
            updated_at: now,
            stored_expires_at: now,
        };
        assert_eq!(b.remaining(now), 2);
        assert_eq!(b.remaining(now + chrono::Duration::seconds(5)), 0);
        assert_eq!(b.contact_key(), "sip:1001@192.0.2.50:5060");
    }

    #[test]
    fn stored_contacts_round_trip() {
        for s in [
            "sip:1001@192.0.2.50:5060;transport=tcp",
            "sips:1001@[2001:db8::1]:5061",
            "sip:1001@phone.example;ob",
        ] {
            let u = parse_uri(s).expect("parses");
            assert_eq!(u.to_wire_string(), s);
        }
        assert!(parse_uri("not a uri").is_none());
    }
}
