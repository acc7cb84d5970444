//! SIP trunks to providers: registration (digest client), calls out and in, source
//! address checks, channel limits.
//!
//! - [`spawn_registrations`] keeps one REGISTER loop per enabled trunk with `register`
//!   set, following configuration changes (a changed or removed trunk's loop is stopped,
//!   a new one started). Each loop answers 401/407 with the trunk's credentials, refreshes
//!   when three quarters of the granted interval have passed, and backs off exponentially
//!   (`TrunkConfig::retry_min` doubling up to `retry_max`) while the provider fails. State
//!   changes are published as [`PbxEvent::TrunkRegistration`].
//! - [`Trunks::outbound_target`] says where and as whom a call goes out (see
//!   [`OutboundTarget`]); [`send_with_auth`] sends a request and transparently answers
//!   one 401/407 challenge (RFC 3261 §22.2: same Call-ID, CSeq + 1, new branch).
//! - Emergency calls present the caller's site number (From, P-Asserted-Identity) and the
//!   site's street address in the header named by `TrunkConfig::emergency_location_header`
//!   (default `X-Sentral-Location`), plus `Priority: emergency` (RFC 3261 §20.26). An
//!   X- header was chosen over RFC 6442 Geolocation (which needs a PIDF-LO body and
//!   provider support) and over `Subject` (free text some providers drop or show to the
//!   callee); providers that map a custom header to the emergency location can be
//!   configured to the header they expect.
//! - [`Trunks::try_acquire_channel`] counts calls per trunk against `channel_limit`;
//!   emergency calls are counted but never refused.
//! - [`is_trunk_source`] / [`trunk_for_source`] check a packet's real source address
//!   against a trunk's `allowed_sources` (IPs or CIDRs). With no allowed sources, a trunk
//!   whose host is an IP literal accepts that address only; a host name allows nothing
//!   (DNS is not a trust anchor).

use crate::config::{PbxConfig, TrunkConfig};
use crate::context::PbxContext;
use crate::dial_plan::{CallerIdentity, DialPlan};
use crate::directory::Snapshot;
use crate::events::PbxEvent;
use sip_core::auth::{ChallengeKind, DigestClient};
use sip_core::driver::{ClientEvent, ClientTransaction, DriverError, DriverHandle};
use sip_core::message::serialize::WriteWire;
use sip_core::message::{
    CSeq, Contact, Header, HeaderName, Host, Method, NameAddr, Request, Response, SipUri, Uri, Via,
};
use sip_core::transaction::TxId;
use sip_core::transport::{Destination, TransportKind};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use store::{Trunk, TrunkId, TrunkTransport};

#[cfg(test)]
mod tests;

#[derive(Debug, thiserror::Error)]
pub enum TrunkError {
    #[error("trunk {trunk}: transport {transport} is not supported")]
    UnsupportedTransport {
        trunk: String,
        transport: &'static str,
    },
    #[error("trunk {trunk}: host {host:?} did not resolve")]
    Resolve { trunk: String, host: String },
    #[error("no local {0:?} socket to reach the trunk from")]
    NoLocalSocket(TransportKind),
    #[error(transparent)]
    Driver(#[from] DriverError),
}

/// Where and as whom a call to a provider goes out. The B2BUA builds its B-leg INVITE
/// from it (or calls [`OutboundTarget::request`]) and sends it with [`send_with_auth`].
#[derive(Debug, Clone)]
pub struct OutboundTarget {
    /// `sip:NUMBER@host:port` (with `;transport=tcp` on TCP trunks).
    pub request_uri: Uri,
    pub destination: Destination,
    /// Our socket the provider is reached from (Via sent-by, Contact host).
    pub local: SocketAddr,
    /// From without a tag: the caller's number at the provider's domain, display name.
    pub from: NameAddr,
    /// To: the dialled number at the provider's domain.
    pub to: NameAddr,
    /// P-Asserted-Identity (RFC 3325, the provider is a trusted peer), and on emergency
    /// calls `Priority: emergency` and the location header.
    pub headers: Vec<Header>,
    /// The trunk account for answering the provider's challenges; `None` without one.
    pub credentials: Option<DigestClient>,
}

impl OutboundTarget {
    /// A fresh top Via for a request from `local` (the transaction layer adds the branch).
    pub fn via(&self) -> Via {
        new_via(self.destination.kind, self.local)
    }

    /// A Contact URI for our side of the dialog, with `user`.
    pub fn contact(&self, user: &str) -> Uri {
        contact_uri(user, self.local, self.destination.kind)
    }

    /// An out-of-dialog request to the provider (the B-leg INVITE): Via, Max-Forwards,
    /// From with `from_tag`, To, Call-ID, CSeq, Contact, the identity headers and `body`
    /// with `content_type`.
    pub fn request(
        &self,
        method: Method,
        call_id: &str,
        from_tag: &str,
        cseq: u32,
        contact_user: &str,
        body: Option<(&str, bytes::Bytes)>,
    ) -> Request {
        let mut req = Request::new(method.clone(), self.request_uri.clone());
        let h = &mut req.headers;
        h.push(Header::Via(vec![self.via()]));
        h.push(Header::MaxForwards(70));
        let mut from = self.from.clone();
        from.set_tag(from_tag);
        h.push(Header::From(from));
        h.push(Header::To(self.to.clone()));
        h.push(Header::CallId(call_id.into()));
        h.push(Header::CSeq(CSeq { seq: cseq, method }));
        h.push(Header::Contact(vec![Contact::Addr(NameAddr::new(
            self.contact(contact_user),
        ))]));
        for x in &self.headers {
            h.push(x.clone());
        }
        if let Some((ctype, b)) = body {
            h.push(Header::Other(HeaderName::ContentType, ctype.into()));
            req.body = b;
        }
        req
    }
}

/// A trunk's registration as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationStatus {
    pub registered: bool,
    /// When the provider's binding runs out (while registered).
    pub expires_at: Option<Instant>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Attempts since the last success.
    pub failures: u32,
}

/// Trunk state shared by every request task: the dial plan, channel counts and
/// registration states.
#[derive(Debug)]
pub struct Trunks {
    config: TrunkConfig,
    dial_plan: DialPlan,
    channels: Arc<Mutex<HashMap<TrunkId, u32>>>,
    registrations: Mutex<HashMap<String, RegistrationStatus>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Trunks {
    /// Builds the trunk state and the dial plan. A configuration error in the dial plan
    /// is logged and the offending entries left out ([`DialPlan::lenient`]) rather than
    /// stopping the PBX: emergency calls must keep working.
    pub fn new(config: &PbxConfig) -> Self {
        let dial_plan = match DialPlan::new(config) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "dial plan configuration error");
                DialPlan::lenient(config)
            }
        };
        Trunks {
            config: config.trunk.clone(),
            dial_plan,
            channels: Arc::new(Mutex::new(HashMap::new())),
            registrations: Mutex::new(HashMap::new()),
        }
    }

    /// The dial plan (`ctx.trunks.dial_plan().route(…)`).
    pub fn dial_plan(&self) -> &DialPlan {
        &self.dial_plan
    }

    pub fn config(&self) -> &TrunkConfig {
        &self.config
    }

    /// A channel on `trunk` for one call, released when the guard drops. `None` when the
    /// trunk's `channel_limit` is reached — unless `emergency`: emergency calls are
    /// counted but never refused.
    pub fn try_acquire_channel(&self, trunk: &Trunk, emergency: bool) -> Option<ChannelGuard> {
        let mut counts = lock(&self.channels);
        let used = counts.entry(trunk.id).or_insert(0);
        if !emergency && trunk.channel_limit.is_some_and(|limit| *used >= limit) {
            tracing::info!(trunk = %trunk.name, used = *used, "trunk channel limit reached");
            return None;
        }
        *used = used.saturating_add(1);
        Some(ChannelGuard {
            counts: self.channels.clone(),
            trunk: trunk.id,
        })
    }

    /// Calls currently up on a trunk.
    pub fn channels_in_use(&self, trunk: TrunkId) -> u32 {
        lock(&self.channels).get(&trunk).copied().unwrap_or(0)
    }

    /// The registration state of a trunk by name (`None`: never attempted).
    pub fn registration(&self, trunk: &str) -> Option<RegistrationStatus> {
        lock(&self.registrations).get(trunk).cloned()
    }

    /// Where and as whom a call to `number` on `trunk` goes out. Resolves the trunk's
    /// host (an IP literal needs no lookup).
    pub async fn outbound_target(
        &self,
        driver: &DriverHandle,
        trunk: &Trunk,
        number: &str,
        identity: &CallerIdentity,
    ) -> Result<OutboundTarget, TrunkError> {
        let (destination, local) = reach(driver, trunk).await?;
        let domain = host_of(&trunk.host);
        let at_provider = |user: &str| {
            let mut u = SipUri::new(domain.clone());
            u.user = Some(user.into());
            Uri::Sip(u)
        };
        let mut request_uri = SipUri::new(domain.clone());
        request_uri.user = Some(number.into());
        request_uri.port = Some(trunk.port);
        if destination.kind == TransportKind::Tcp {
            request_uri.params.set("transport", Some("tcp".into()));
        }
        // Without a number of our own the account name is the only honest From user.
        let from_user = identity
            .number
            .clone()
            .or_else(|| trunk.username.clone())
            .unwrap_or_else(|| "anonymous".to_owned());
        let mut from = NameAddr::new(at_provider(&from_user));
        from.display_name = identity.display_name.as_deref().map(quote_display);
        let to = NameAddr::new(at_provider(number));
        let mut headers = Vec::new();
        if let Some(n) = &identity.number {
            let mut pai = NameAddr::new(at_provider(n));
            pai.display_name = from.display_name.clone();
            headers.push(Header::Other(
                HeaderName::PAssertedIdentity,
                pai.to_wire_string().into(),
            ));
        }
        if let Some(location) = &identity.location {
            headers.push(Header::Other(
                HeaderName::Other("Priority".into()),
                "emergency".into(),
            ));
            headers.push(Header::Other(
                HeaderName::Other(self.config.emergency_location_header.as_str().into()),
                header_safe(location).into(),
            ));
        }
        Ok(OutboundTarget {
            request_uri: Uri::Sip(request_uri),
            destination,
            local,
            from,
            to,
            headers,
            credentials: credentials(trunk),
        })
    }
}

/// A display name as a quoted string (RFC 3261 §25.1 quoted-string).
fn quote_display(name: &str) -> sip_core::message::SipStr {
    let mut s = String::with_capacity(name.len() + 2);
    s.push('"');
    for c in name.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s.into()
}

/// A header value without control characters (an address typed into the admin UI
/// must not be able to inject header lines).
fn header_safe(v: &str) -> String {
    v.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A channel on a trunk; dropping it frees the channel.
#[derive(Debug)]
pub struct ChannelGuard {
    counts: Arc<Mutex<HashMap<TrunkId, u32>>>,
    trunk: TrunkId,
}

impl Drop for ChannelGuard {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(n) = counts.get_mut(&self.trunk) {
            *n = n.saturating_sub(1);
        }
    }
}

/// The trunk's account as a digest client, if it has a username.
pub fn credentials(trunk: &Trunk) -> Option<DigestClient> {
    let user = trunk.username.as_deref()?;
    let secret = trunk.secret.as_ref().map(|s| s.expose()).unwrap_or("");
    Some(DigestClient::new(user, secret))
}

fn host_of(host: &str) -> Host {
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => Host::from(ip),
        Err(_) => Host::Domain(host.into()),
    }
}

fn transport_kind(trunk: &Trunk) -> Result<TransportKind, TrunkError> {
    match trunk.transport {
        TrunkTransport::Udp => Ok(TransportKind::Udp),
        TrunkTransport::Tcp => Ok(TransportKind::Tcp),
        TrunkTransport::Tls => Err(TrunkError::UnsupportedTransport {
            trunk: trunk.name.clone(),
            transport: "tls",
        }),
    }
}

/// The provider's address and our socket towards it.
async fn reach(
    driver: &DriverHandle,
    trunk: &Trunk,
) -> Result<(Destination, SocketAddr), TrunkError> {
    let kind = transport_kind(trunk)?;
    let remote = match trunk
        .host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => SocketAddr::new(ip, trunk.port),
        Err(_) => tokio::net::lookup_host((trunk.host.as_str(), trunk.port))
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| TrunkError::Resolve {
                trunk: trunk.name.clone(),
                host: trunk.host.clone(),
            })?,
    };
    let local = driver
        .transports()
        .local_for(kind, remote)
        .ok_or(TrunkError::NoLocalSocket(kind))?;
    Ok((
        Destination {
            kind,
            remote,
            connection: None,
        },
        local,
    ))
}

/// A top Via for a request we originate; `rport` asks for symmetric responses (RFC 3581).
pub fn new_via(kind: TransportKind, local: SocketAddr) -> Via {
    let mut params = sip_core::message::Params::new();
    params.set("rport", None);
    Via {
        protocol: "SIP".into(),
        version: "2.0".into(),
        transport: match kind {
            TransportKind::Tcp => "TCP".into(),
            _ => "UDP".into(),
        },
        host: Host::from(local.ip()),
        port: Some(local.port()),
        params,
    }
}

fn contact_uri(user: &str, local: SocketAddr, kind: TransportKind) -> Uri {
    let mut u = SipUri::new(Host::from(local.ip()));
    u.user = Some(user.into());
    u.port = Some(local.port());
    if kind == TransportKind::Tcp {
        u.params.set("transport", Some("tcp".into()));
    }
    Uri::Sip(u)
}

// ---- sending with one digest retry --------------------------------------------------

/// A client transaction that answers one 401/407 challenge by itself: the B2BUA and the
/// registration loop see the provider's other responses only.
#[derive(Debug)]
pub struct AuthedTransaction {
    driver: DriverHandle,
    dest: Destination,
    request: Request,
    credentials: Option<DigestClient>,
    inner: ClientTransaction,
    retried: bool,
    cancel_requested: bool,
}

/// Sends `request` to `dest`. When the final response is 401 or 407 and `credentials`
/// can answer it, the request is re-sent once with credentials (RFC 3261 §22.2: same
/// Call-ID, From tag and To; CSeq + 1; a new branch) and the challenge is not reported.
/// A second challenge is reported: the credentials are wrong, and repeating them would
/// only feed the provider's lockout.
pub async fn send_with_auth(
    driver: &DriverHandle,
    request: Request,
    dest: Destination,
    credentials: Option<DigestClient>,
) -> Result<AuthedTransaction, DriverError> {
    let inner = driver.send_request(request.clone(), dest).await?;
    Ok(AuthedTransaction {
        driver: driver.clone(),
        dest,
        request,
        credentials,
        inner,
        retried: false,
        cancel_requested: false,
    })
}

impl AuthedTransaction {
    /// The request as last sent (after a retry: with credentials and the new CSeq). The
    /// B2BUA builds its dialog and the 2xx ACK from it.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The current client transaction's id.
    pub fn tx(&self) -> TxId {
        self.inner.tx
    }

    /// Whether the challenge was answered.
    pub fn retried(&self) -> bool {
        self.retried
    }

    /// CANCELs the INVITE (RFC 3261 §9.1); a challenge arriving afterwards is reported,
    /// not answered.
    pub fn cancel(&mut self) {
        self.cancel_requested = true;
        self.inner.cancel();
    }

    /// The next event; challenges answered as described in [`send_with_auth`].
    pub async fn next(&mut self) -> Option<ClientEvent> {
        loop {
            let ev = self.inner.next().await?;
            if let ClientEvent::Response(resp) = &ev
                && let Some(retry) = self.retry_for(resp)
            {
                match self.driver.send_request(retry.clone(), self.dest).await {
                    Ok(inner) => {
                        self.inner = inner;
                        self.request = retry;
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "re-sending with credentials failed");
                        return Some(ev);
                    }
                }
            }
            return Some(ev);
        }
    }

    /// The final response (provisionals skipped), or a timeout/transport error.
    pub async fn final_response(&mut self) -> Option<ClientEvent> {
        while let Some(ev) = self.next().await {
            match &ev {
                ClientEvent::Response(r) if r.status.is_provisional() => continue,
                _ => return Some(ev),
            }
        }
        None
    }

    /// The re-sent request for a challenge we answer, if this response is one.
    fn retry_for(&mut self, resp: &Response) -> Option<Request> {
        let kind = match resp.status.0 {
            401 => ChallengeKind::Www,
            407 => ChallengeKind::Proxy,
            _ => return None,
        };
        if self.retried || self.cancel_requested {
            return None;
        }
        let client = self.credentials.as_mut()?;
        let name = HeaderName::lookup(kind.challenge_header())?;
        let values: Vec<&str> = resp.headers.raw(&name).map(|v| v.as_str()).collect();
        if let Err(e) = client.handle_challenge(kind, values) {
            tracing::warn!(error = %e, status = resp.status.0, "provider challenge not answerable");
            return None;
        }
        let mut req = self.request.clone();
        let seq = req
            .headers
            .cseq()
            .map(|c| c.seq.saturating_add(1))
            .unwrap_or(1);
        let method = req.method.clone();
        req.headers.set(Header::CSeq(CSeq { seq, method }));
        req.headers.remove(&HeaderName::Authorization);
        req.headers.remove(&HeaderName::ProxyAuthorization);
        if let Some(via) = req.headers.top_via_mut() {
            // A new transaction needs a new branch (RFC 3261 §8.1.1.7); the transaction
            // layer generates one when none is present.
            via.params.remove("branch");
        }
        let uri = req.uri.to_wire_string();
        let auths = client.authorize(
            req.method.as_str(),
            &uri,
            &req.body,
            &mut rand::thread_rng(),
        );
        for a in auths {
            let name = match a.kind {
                ChallengeKind::Www => HeaderName::Authorization,
                ChallengeKind::Proxy => HeaderName::ProxyAuthorization,
            };
            req.headers.push(Header::Other(name, a.value.into()));
        }
        self.retried = true;
        Some(req)
    }
}

// ---- source addresses ---------------------------------------------------------------

/// One `allowed_sources` entry: an address or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceNet {
    addr: IpAddr,
    prefix: u8,
}

impl SourceNet {
    /// `192.0.2.1`, `192.0.2.0/24`, `2001:db8::/32`; `None` for anything else.
    pub fn parse(s: &str) -> Option<SourceNet> {
        let s = s.trim();
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let addr: IpAddr = ip
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(SourceNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d.
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Whether `ip` may send as `trunk` (see module docs for the empty list).
pub fn is_trunk_source(trunk: &Trunk, ip: IpAddr) -> bool {
    if trunk.allowed_sources.is_empty() {
        return SourceNet::parse(&trunk.host).is_some_and(|n| n.prefix_is_host() && n.contains(ip));
    }
    trunk
        .allowed_sources
        .iter()
        .any(|s| match SourceNet::parse(s) {
            Some(net) => net.contains(ip),
            None => {
                tracing::warn!(trunk = %trunk.name, entry = %s, "unusable allowed source ignored");
                false
            }
        })
}

impl SourceNet {
    fn prefix_is_host(&self) -> bool {
        self.prefix == if self.addr.is_ipv4() { 32 } else { 128 }
    }
}

/// The enabled trunk `ip` may send as (the first in directory order).
pub fn trunk_for_source(snap: &Snapshot, ip: IpAddr) -> Option<Arc<Trunk>> {
    snap.trunks
        .iter()
        .find(|t| t.enabled && is_trunk_source(t, ip))
        .cloned()
}

// ---- registration -------------------------------------------------------------------

/// What a registration loop is running for: a change to any of these restarts it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RegKey {
    host: String,
    port: u16,
    transport: TrunkTransport,
    username: Option<String>,
    secret: Option<String>,
}

impl RegKey {
    fn of(t: &Trunk) -> RegKey {
        RegKey {
            host: t.host.clone(),
            port: t.port,
            transport: t.transport,
            username: t.username.clone(),
            secret: t.secret.as_ref().map(|s| s.expose().to_owned()),
        }
    }
}

/// Starts the supervisor that keeps one registration loop per registering trunk, in
/// step with the directory (checked every second).
pub fn spawn_registrations(ctx: Arc<PbxContext>) {
    tokio::spawn(async move {
        let mut running: HashMap<String, (RegKey, tokio::task::JoinHandle<()>)> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut seen_version = None;
        loop {
            tick.tick().await;
            let Some(driver) = ctx.driver().cloned() else {
                continue;
            };
            let snap = ctx.directory.snapshot();
            if seen_version == Some(snap.version) {
                continue;
            }
            seen_version = Some(snap.version);
            let wanted: HashMap<String, Arc<Trunk>> = snap
                .trunks
                .iter()
                .filter(|t| t.enabled && t.register)
                .map(|t| (t.name.clone(), t.clone()))
                .collect();
            running.retain(|name, (key, task)| {
                let keep = wanted.get(name).is_some_and(|t| RegKey::of(t) == *key);
                if !keep {
                    tracing::info!(trunk = %name, "trunk registration stopped (configuration changed)");
                    task.abort();
                    ctx.trunks.set_status(&ctx, name, |s| {
                        s.registered = false;
                        s.expires_at = None;
                    });
                }
                keep
            });
            for (name, trunk) in wanted {
                if running.contains_key(&name) {
                    continue;
                }
                let task = tokio::spawn(register_loop(ctx.clone(), driver.clone(), trunk.clone()));
                running.insert(name, (RegKey::of(&trunk), task));
            }
        }
    });
}

impl Trunks {
    /// Updates a trunk's status; publishes an event when `registered` changed.
    fn set_status(&self, ctx: &PbxContext, trunk: &str, f: impl FnOnce(&mut RegistrationStatus)) {
        let changed = {
            let mut regs = lock(&self.registrations);
            let s = regs.entry(trunk.to_owned()).or_insert(RegistrationStatus {
                registered: false,
                expires_at: None,
                last_error: None,
                failures: 0,
            });
            let before = s.registered;
            f(s);
            (before != s.registered).then_some(s.registered)
        };
        if let Some(registered) = changed {
            tracing::info!(%trunk, registered, "trunk registration state changed");
            ctx.events.publish(PbxEvent::TrunkRegistration {
                trunk: trunk.to_owned(),
                registered,
            });
        }
    }
}

/// Why one REGISTER attempt failed.
#[derive(Debug, thiserror::Error)]
enum RegisterError {
    #[error(transparent)]
    Trunk(#[from] TrunkError),
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("provider answered {0}")]
    Status(u16),
    #[error("no answer from the provider")]
    Timeout,
    #[error("transport error")]
    Transport,
}

/// One trunk's registration, forever (aborted by the supervisor).
async fn register_loop(ctx: Arc<PbxContext>, driver: DriverHandle, trunk: Arc<Trunk>) {
    let cfg = ctx.trunks.config.clone();
    // RFC 3261 §10.2.4: refreshes keep the Call-ID; CSeq increases.
    let call_id = format!("{:032x}@sentral", rand::random::<u128>());
    let from_tag = format!("{:016x}", rand::random::<u64>());
    let mut cseq: u32 = 1;
    let mut expires = cfg.register_expires;
    let mut backoff = cfg.retry_min;
    loop {
        let attempt = tokio::time::timeout(
            cfg.register_timeout,
            register_once(
                &ctx, &driver, &trunk, &call_id, &from_tag, &mut cseq, expires,
            ),
        )
        .await
        .unwrap_or(Err(RegisterError::Timeout));
        match attempt {
            Ok(RegisterOutcome::Registered(granted)) => {
                backoff = cfg.retry_min;
                let granted = granted.max(1);
                ctx.trunks.set_status(&ctx, &trunk.name, |s| {
                    s.registered = true;
                    s.expires_at = Some(Instant::now() + Duration::from_secs(u64::from(granted)));
                    s.last_error = None;
                    s.failures = 0;
                });
                // Refresh with a quarter of the interval left: room for a retry or two
                // before the binding lapses.
                let refresh = Duration::from_secs(u64::from(granted)).mul_f64(0.75);
                tokio::time::sleep(refresh.max(Duration::from_secs(1))).await;
            }
            Ok(RegisterOutcome::IntervalTooBrief(min)) if min > expires => {
                // RFC 3261 §10.2.8: retry at once with the provider's Min-Expires.
                tracing::info!(trunk = %trunk.name, min, "provider wants a longer Expires");
                expires = min;
            }
            Ok(RegisterOutcome::IntervalTooBrief(_)) => {
                fail(
                    &ctx,
                    &trunk,
                    "423 without a usable Min-Expires".into(),
                    &mut backoff,
                )
                .await;
            }
            Err(e) => fail(&ctx, &trunk, e.to_string(), &mut backoff).await,
        }
    }
}

async fn fail(ctx: &PbxContext, trunk: &Trunk, why: String, backoff: &mut Duration) {
    let cfg = &ctx.trunks.config;
    tracing::warn!(trunk = %trunk.name, error = %why, retry_in = ?*backoff, "trunk registration failed");
    ctx.trunks.set_status(ctx, &trunk.name, |s| {
        s.registered = s.expires_at.is_some_and(|t| t > Instant::now());
        if !s.registered {
            s.expires_at = None;
        }
        s.last_error = Some(why);
        s.failures = s.failures.saturating_add(1);
    });
    tokio::time::sleep(*backoff).await;
    *backoff = (*backoff * 2).min(cfg.retry_max).max(cfg.retry_min);
}

enum RegisterOutcome {
    /// 2xx with the granted interval in seconds.
    Registered(u32),
    /// 423 with Min-Expires (0 when missing).
    IntervalTooBrief(u32),
}

async fn register_once(
    ctx: &PbxContext,
    driver: &DriverHandle,
    trunk: &Trunk,
    call_id: &str,
    from_tag: &str,
    cseq: &mut u32,
    expires: u32,
) -> Result<RegisterOutcome, RegisterError> {
    let (dest, local) = reach(driver, trunk).await?;
    let domain = host_of(&trunk.host);
    let user = trunk
        .username
        .clone()
        .unwrap_or_else(|| "sentral".to_owned());
    let mut aor = SipUri::new(domain.clone());
    aor.user = Some(user.as_str().into());
    // RFC 3261 §10.2: the Request-URI names the registrar's domain, no user part.
    let mut ruri = SipUri::new(domain);
    ruri.port = Some(trunk.port);
    if dest.kind == TransportKind::Tcp {
        ruri.params.set("transport", Some("tcp".into()));
    }
    let contact = contact_uri(&user, local, dest.kind);
    let mut req = Request::new(Method::Register, Uri::Sip(ruri));
    let h = &mut req.headers;
    h.push(Header::Via(vec![new_via(dest.kind, local)]));
    h.push(Header::MaxForwards(70));
    let mut from = NameAddr::new(Uri::Sip(aor.clone()));
    from.set_tag(from_tag);
    h.push(Header::From(from));
    h.push(Header::To(NameAddr::new(Uri::Sip(aor))));
    h.push(Header::CallId(call_id.into()));
    h.push(Header::CSeq(CSeq {
        seq: *cseq,
        method: Method::Register,
    }));
    h.push(Header::Contact(vec![Contact::Addr(NameAddr::new(
        contact.clone(),
    ))]));
    h.push(Header::Expires(expires));
    h.push(Header::Other(
        HeaderName::UserAgent,
        ctx.trunks.config.user_agent.as_str().into(),
    ));
    let mut tx = send_with_auth(driver, req, dest, credentials(trunk)).await?;
    let ev = tx.final_response().await;
    // The next REGISTER continues after whatever CSeq the retry used.
    *cseq = tx
        .request()
        .headers
        .cseq()
        .map(|c| c.seq)
        .unwrap_or(*cseq)
        .saturating_add(1);
    match ev {
        Some(ClientEvent::Response(r)) if r.status.is_success() => Ok(RegisterOutcome::Registered(
            granted_expires(&r, &contact, expires),
        )),
        Some(ClientEvent::Response(r)) if r.status.0 == 423 => Ok(
            RegisterOutcome::IntervalTooBrief(r.headers.min_expires().unwrap_or(0)),
        ),
        Some(ClientEvent::Response(r)) => Err(RegisterError::Status(r.status.0)),
        Some(ClientEvent::Timeout) | None => Err(RegisterError::Timeout),
        Some(ClientEvent::TransportError) => Err(RegisterError::Transport),
    }
}

/// The interval the registrar granted: our Contact's `expires` in the 200, else its
/// Expires header, else what we asked for (RFC 3261 §10.2.4).
fn granted_expires(resp: &Response, ours: &Uri, asked: u32) -> u32 {
    let ours = ours.to_wire_string();
    resp.headers
        .contacts()
        .filter_map(|c| match c {
            Contact::Addr(a) => Some(a),
            _ => None,
        })
        .find(|a| a.uri.to_wire_string() == ours)
        .and_then(|a| a.params.value("expires").and_then(|v| v.parse().ok()))
        .or_else(|| resp.headers.expires())
        .unwrap_or(asked)
}
