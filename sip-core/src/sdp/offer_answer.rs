//! RFC 3264 answers for the audio Sentral terminates itself (prompts, voicemail, IVR,
//! conference) or relays: PCMU, PCMA, G.722 and telephone-event (RFC 4733).
//!
//! Owns codec matching and the answer's shape: one m-line per offered m-line in the same
//! order (§6), unsupported streams rejected with port 0, directions answered per §6.1.
//! Never allocates ports itself: the caller's closure does, per accepted stream.

use super::model::{
    Attribute, Connection, Direction, MediaDescription, Origin, SessionDescription, addr_type_of,
};
use std::net::IpAddr;

/// An audio codec Sentral can receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// Encoding name as in rtpmap (compared case-insensitively).
    pub name: &'static str,
    /// RTP clock rate as in rtpmap.
    pub clock_rate: u32,
    /// Static payload type (RFC 3551 §6), if it has one.
    pub static_payload_type: Option<u8>,
}

impl Codec {
    /// G.711 µ-law, payload type 0.
    pub const PCMU: Codec = Codec {
        name: "PCMU",
        clock_rate: 8000,
        static_payload_type: Some(0),
    };
    /// G.711 A-law, payload type 8.
    pub const PCMA: Codec = Codec {
        name: "PCMA",
        clock_rate: 8000,
        static_payload_type: Some(8),
    };
    /// G.722, payload type 9; its rtpmap says 8000 although it samples at 16 kHz
    /// (RFC 3551 §4.5.2 kept the old mistake).
    pub const G722: Codec = Codec {
        name: "G722",
        clock_rate: 8000,
        static_payload_type: Some(9),
    };

    fn matches(&self, pt: u8, media: &MediaDescription) -> bool {
        match media.rtpmap(pt) {
            Some(map) => {
                map.encoding.eq_ignore_ascii_case(self.name)
                    && map.clock_rate == self.clock_rate
                    && map.channels.unwrap_or(1) == 1
            }
            // RFC 3264 §5.1: static payload types need no rtpmap.
            None => self.static_payload_type == Some(pt),
        }
    }
}

/// What Sentral puts in an answer.
#[derive(Debug, Clone)]
pub struct AnswerOptions {
    /// Audio codecs we accept (any order: the answer keeps the offer's order, so the
    /// offerer's preference is honoured, RFC 3264 §6.1).
    pub codecs: Vec<Codec>,
    /// Clock rates at which we accept telephone-event (RFC 4733); empty for none.
    pub telephone_event_rates: Vec<u32>,
    /// Our `o=` username (`-` is fine).
    pub origin_username: String,
    /// Our `o=` session id.
    pub session_id: String,
    /// Our `o=` version for this answer.
    pub session_version: u64,
    /// Where we receive media.
    pub address: IpAddr,
    /// What we want: `SendRecv`, or `SendOnly` while we hold the call (music on hold).
    pub direction: Direction,
    /// `a=ptime` to add, if any.
    pub ptime: Option<u32>,
    /// Whether we accept RTCP multiplexed on the RTP port (RFC 5761) when offered.
    pub rtcp_mux: bool,
}

impl AnswerOptions {
    /// PCMU, PCMA, G.722 and telephone-event at 8000 Hz, sendrecv, ptime 20.
    pub fn new(address: IpAddr, session_id: impl Into<String>, session_version: u64) -> Self {
        AnswerOptions {
            codecs: vec![Codec::PCMU, Codec::PCMA, Codec::G722],
            telephone_event_rates: vec![8000],
            origin_username: "-".into(),
            session_id: session_id.into(),
            session_version,
            address,
            direction: Direction::SendRecv,
            ptime: Some(20),
            rtcp_mux: false,
        }
    }
}

/// Why no answer can be built at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferAnswerError {
    /// The offer has no m-line: nothing to answer.
    #[error("offer has no media")]
    NoMedia,
    /// Every stream had to be rejected (the caller answers 488, RFC 3261 §13.3.1.1).
    #[error("no acceptable media in the offer")]
    NotAcceptable,
}

/// The audio formats of an offered stream that we accept, in the offer's order.
pub fn negotiated_formats(media: &MediaDescription, options: &AnswerOptions) -> Vec<u8> {
    media
        .payload_types()
        .filter(|&pt| {
            options.codecs.iter().any(|c| c.matches(pt, media)) || is_dtmf(pt, media, options)
        })
        .collect()
}

fn is_dtmf(pt: u8, media: &MediaDescription, options: &AnswerOptions) -> bool {
    media.rtpmap(pt).is_some_and(|m| {
        m.encoding.eq_ignore_ascii_case("telephone-event")
            && options.telephone_event_rates.contains(&m.clock_rate)
    })
}

/// Builds the answer to `offer`. `port_for(index)` gives the local RTP port for an
/// accepted stream (allocate it there), or `None` to reject that stream anyway.
pub fn answer<F>(
    offer: &SessionDescription,
    options: &AnswerOptions,
    mut port_for: F,
) -> Result<SessionDescription, OfferAnswerError>
where
    F: FnMut(usize) -> Option<u16>,
{
    if offer.media.is_empty() {
        return Err(OfferAnswerError::NoMedia);
    }
    let mut sd = SessionDescription::new(Origin {
        username: options.origin_username.clone(),
        session_id: options.session_id.clone(),
        session_version: options.session_version,
        net_type: "IN".into(),
        addr_type: addr_type_of(options.address).into(),
        address: options.address.to_string(),
    });
    // RFC 3264 §6: "The t= line in the answer MUST equal that of the offer."
    sd.times.clone_from(&offer.times);
    sd.connection = Some(Connection::from_ip(options.address));
    let mut accepted_any = false;
    for (i, m) in offer.media.iter().enumerate() {
        let formats = negotiated_formats(m, options);
        let has_audio = formats.iter().any(|&pt| !is_dtmf(pt, m, options));
        let acceptable = m.media == "audio" && m.protocol == "RTP/AVP" && m.port != 0 && has_audio;
        let port = if acceptable { port_for(i) } else { None };
        let Some(port) = port else {
            sd.media.push(rejected(m));
            continue;
        };
        accepted_any = true;
        let mut a = MediaDescription {
            media: m.media.clone(),
            port,
            port_count: None,
            protocol: m.protocol.clone(),
            formats: formats.iter().map(u8::to_string).collect(),
            information: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        };
        for &pt in &formats {
            // Same payload type numbers as the offer (RFC 3264 §6.1).
            let map = m.rtpmap(pt);
            let rtpmap = match (&map, options.codecs.iter().find(|c| c.matches(pt, m))) {
                (Some(map), _) => format!("{pt} {}/{}", map.encoding, map.clock_rate),
                (None, Some(c)) => format!("{pt} {}/{}", c.name, c.clock_rate),
                (None, None) => continue,
            };
            a.attributes.push(Attribute::value("rtpmap", rtpmap));
            if is_dtmf(pt, m, options) {
                let events = m.fmtp(pt).unwrap_or("0-16");
                a.attributes
                    .push(Attribute::value("fmtp", format!("{pt} {events}")));
            }
        }
        if let Some(ptime) = options.ptime {
            a.attributes
                .push(Attribute::value("ptime", ptime.to_string()));
        }
        if options.rtcp_mux && m.rtcp_mux() {
            a.attributes.push(Attribute::property("rtcp-mux"));
        }
        // RFC 3264 §6.1: sendonly ↔ recvonly, inactive stays inactive, then limited by
        // what we want. effective_direction folds in the c=0.0.0.0 hold form.
        let dir = offer
            .effective_direction(i)
            .reversed()
            .intersect(options.direction);
        a.attributes.push(Attribute::property(dir.as_str()));
        sd.media.push(a);
    }
    if accepted_any {
        Ok(sd)
    } else {
        Err(OfferAnswerError::NotAcceptable)
    }
}

/// RFC 3264 §6: a rejected stream keeps its media type, protocol and formats, with port 0.
fn rejected(m: &MediaDescription) -> MediaDescription {
    MediaDescription {
        media: m.media.clone(),
        port: 0,
        port_count: None,
        protocol: m.protocol.clone(),
        formats: m.formats.clone(),
        information: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    }
}
