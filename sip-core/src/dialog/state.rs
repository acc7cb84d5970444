//! One dialog's state (RFC 3261 §12.1–§12.3) and how it changes with the messages of its
//! transactions.

use super::{DialogError, DialogId, is_target_refresh};
use crate::message::{Contact, HeaderName, Method, NameAddr, Request, Response, SipStr, Uri};
use tracing::debug;

/// Which side created the dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// We sent the dialog-creating request (§12.1.2).
    Uac,
    /// We received it (§12.1.1).
    Uas,
}

/// §12: a dialog created by a provisional is early; a 2xx confirms it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DialogState {
    Early,
    Confirmed,
    /// Ended by BYE, a non-2xx final for an early dialog (§12.3), or 481/408 to an
    /// in-dialog request (§12.2.1.2).
    Terminated,
}

/// The state of one dialog (§12.1: "Dialog ID, local sequence number, remote sequence
/// number, local URI, remote URI, remote target, secure flag and route set").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    pub(super) id: DialogId,
    pub(super) role: Role,
    pub(super) state: DialogState,
    /// Our From (UAC) or To (UAS) address, without the tag (the tag is in `id`).
    pub(super) local_uri: NameAddr,
    pub(super) remote_uri: NameAddr,
    pub(super) remote_target: Uri,
    /// In the order requests must visit them (§12.1.1 as received; §12.1.2 reversed).
    pub(super) route_set: Vec<NameAddr>,
    /// `None` is the RFC's "empty" sequence number.
    pub(super) local_cseq: Option<u32>,
    pub(super) remote_cseq: Option<u32>,
    pub(super) secure: bool,
    /// Our Contact, copied into target refresh requests (§12.2.1.1, §8.1.1.8).
    pub(super) local_contact: Option<NameAddr>,
    /// CSeq number of the last INVITE we sent in this dialog: its 2xx ACK reuses it
    /// (§13.2.2.4).
    pub(super) invite_cseq: Option<u32>,
}

fn first_contact_uri(contacts: impl Iterator<Item = Contact>) -> Option<NameAddr> {
    contacts.into_iter().find_map(|c| match c {
        Contact::Addr(a) => Some(a),
        Contact::Star => None,
    })
}

fn without_tag(mut a: NameAddr) -> NameAddr {
    a.params.remove("tag");
    a
}

fn tag_of(a: &NameAddr) -> SipStr {
    a.tag().map(SipStr::from).unwrap_or_default()
}

fn is_sips(uri: &Uri) -> bool {
    uri.as_sip().is_some_and(|u| u.secure)
}

impl Dialog {
    /// UAC side (§12.1.2): a dialog from our `request` (an INVITE, or SUBSCRIBE/REFER) and a
    /// received 101–199 with a To tag, or 2xx. Route set is the response's Record-Route
    /// reversed, remote target its Contact, local CSeq the request's.
    pub fn new_uac(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let status = response.status.0;
        let to = response
            .headers
            .to()
            .ok_or(DialogError::MissingHeader(HeaderName::To))?;
        // §12.1: only 2xx and 101–199 with a To tag create dialogs.
        if !(101..300).contains(&status) || (status < 200 && to.tag().is_none()) {
            return Err(DialogError::NotDialogCreating(status));
        }
        let from = request
            .headers
            .from()
            .ok_or(DialogError::MissingHeader(HeaderName::From))?;
        let call_id = request
            .headers
            .call_id()
            .ok_or(DialogError::MissingHeader(HeaderName::CallId))?;
        let cseq = request
            .headers
            .cseq()
            .ok_or(DialogError::MissingHeader(HeaderName::CSeq))?;
        let remote_target = first_contact_uri(response.headers.contacts().cloned())
            .ok_or(DialogError::MissingContact)?
            .uri;
        let mut route_set: Vec<NameAddr> = response.headers.record_routes().cloned().collect();
        route_set.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.clone(),
                local_tag: tag_of(from),
                remote_tag: tag_of(to),
            },
            role: Role::Uac,
            state: if status >= 200 {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_uri: without_tag(from.clone()),
            remote_uri: without_tag(to.clone()),
            remote_target,
            route_set,
            local_cseq: Some(cseq.seq),
            remote_cseq: None,
            // §12.1.2: sips Request-URI (transport security is the caller's concern).
            secure: is_sips(&request.uri),
            local_contact: first_contact_uri(request.headers.contacts().cloned()),
            invite_cseq: (request.method == Method::Invite).then_some(cseq.seq),
        })
    }

    /// UAS side (§12.1.1): a dialog from a received `request` and the 101–199 or 2xx we
    /// answer with, whose To carries our tag. Route set is the request's Record-Route in
    /// order, remote target its Contact, remote CSeq its CSeq.
    pub fn new_uas(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let status = response.status.0;
        let to = response
            .headers
            .to()
            .ok_or(DialogError::MissingHeader(HeaderName::To))?;
        if !(101..300).contains(&status) || to.tag().is_none() {
            return Err(DialogError::NotDialogCreating(status));
        }
        let from = request
            .headers
            .from()
            .ok_or(DialogError::MissingHeader(HeaderName::From))?;
        let call_id = request
            .headers
            .call_id()
            .ok_or(DialogError::MissingHeader(HeaderName::CallId))?;
        let cseq = request
            .headers
            .cseq()
            .ok_or(DialogError::MissingHeader(HeaderName::CSeq))?;
        let remote_target = first_contact_uri(request.headers.contacts().cloned())
            .ok_or(DialogError::MissingContact)?
            .uri;
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.clone(),
                local_tag: tag_of(to),
                remote_tag: tag_of(from),
            },
            role: Role::Uas,
            state: if status >= 200 {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_uri: without_tag(to.clone()),
            remote_uri: without_tag(from.clone()),
            remote_target,
            route_set: request.headers.record_routes().cloned().collect(),
            local_cseq: None,
            remote_cseq: Some(cseq.seq),
            secure: is_sips(&request.uri),
            local_contact: first_contact_uri(response.headers.contacts().cloned()),
            invite_cseq: None,
        })
    }

    // ---- getters -------------------------------------------------------------------

    pub fn id(&self) -> &DialogId {
        &self.id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn state(&self) -> DialogState {
        self.state
    }

    pub fn local_uri(&self) -> &NameAddr {
        &self.local_uri
    }

    pub fn remote_uri(&self) -> &NameAddr {
        &self.remote_uri
    }

    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    pub fn route_set(&self) -> &[NameAddr] {
        &self.route_set
    }

    pub fn local_cseq(&self) -> Option<u32> {
        self.local_cseq
    }

    pub fn remote_cseq(&self) -> Option<u32> {
        self.remote_cseq
    }

    pub fn is_secure(&self) -> bool {
        self.secure
    }

    pub fn local_contact(&self) -> Option<&NameAddr> {
        self.local_contact.as_ref()
    }

    /// Replaces our Contact (e.g. after a transport change), sent in the next target
    /// refresh.
    pub fn set_local_contact(&mut self, contact: NameAddr) {
        self.local_contact = Some(contact);
    }

    /// Ends the dialog (e.g. once a BYE was sent or answered, §15).
    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }

    // ---- inputs --------------------------------------------------------------------

    /// A response received for a request we sent in this dialog (the dialog-creating
    /// INVITE's own 1xx/2xx included). §12.1.2/§13.2.2.4: a 2xx confirms an early dialog
    /// and recomputes its route set; a 2xx to a target refresh (and an early dialog's
    /// 1xx/2xx) with a Contact replaces the remote target (§12.2.1.2); a non-2xx final to
    /// the creating INVITE ends an early dialog (§12.3); 481 and 408 end the dialog
    /// (§12.2.1.2); a final to BYE ends it (§15).
    pub fn on_response_received(&mut self, response: &Response) {
        let Some(cseq) = response.headers.cseq() else {
            return;
        };
        let status = response.status;
        let method = &cseq.method;
        if self.state == DialogState::Terminated {
            return;
        }
        if status.0 == 481 || status.0 == 408 {
            debug!(local_tag = %self.id.local_tag, remote_tag = %self.id.remote_tag, status = status.0, "dialog ends on in-dialog failure");
            self.state = DialogState::Terminated;
            return;
        }
        match self.state {
            DialogState::Early if *method == Method::Invite => {
                if status.is_success() {
                    self.state = DialogState::Confirmed;
                    if self.role == Role::Uac {
                        let mut rs: Vec<NameAddr> =
                            response.headers.record_routes().cloned().collect();
                        rs.reverse();
                        self.route_set = rs;
                    }
                    self.refresh_target_from(response);
                } else if status.is_final() {
                    self.state = DialogState::Terminated;
                } else if status.0 > 100 {
                    self.refresh_target_from(response);
                }
            }
            _ => {
                if *method == Method::Bye && status.is_final() {
                    self.state = DialogState::Terminated;
                } else if status.is_success() && is_target_refresh(method) {
                    self.refresh_target_from(response);
                }
            }
        }
    }

    /// A response we send for a request received in this dialog (UAS): a 2xx to the
    /// creating INVITE confirms the dialog, a non-2xx final ends an early one (§12.3), a
    /// 2xx to BYE ends it (§15.1.2).
    pub fn on_response_sent(&mut self, response: &Response) {
        let Some(cseq) = response.headers.cseq() else {
            return;
        };
        let status = response.status;
        match self.state {
            DialogState::Early if cseq.method == Method::Invite => {
                if status.is_success() {
                    self.state = DialogState::Confirmed;
                } else if status.is_final() {
                    self.state = DialogState::Terminated;
                }
            }
            DialogState::Confirmed | DialogState::Early
                if cseq.method == Method::Bye && status.is_success() =>
            {
                self.state = DialogState::Terminated;
            }
            _ => {}
        }
    }

    /// A request received in this dialog (§12.2.2). Checks and updates the remote CSeq
    /// (an out-of-order one is an error the TU answers with 500, see
    /// [`DialogError::status`]) and takes the Contact of a target refresh as the new
    /// remote target. ACK and CANCEL carry the CSeq of the request they belong to and are
    /// not checked.
    pub fn on_request_received(&mut self, request: &Request) -> Result<(), DialogError> {
        if self.state == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        let cseq = request
            .headers
            .cseq()
            .ok_or(DialogError::MissingHeader(HeaderName::CSeq))?;
        if matches!(request.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        if let Some(remote) = self.remote_cseq
            && cseq.seq < remote
        {
            return Err(DialogError::CSeqOutOfOrder {
                received: cseq.seq,
                remote,
            });
        }
        self.remote_cseq = Some(cseq.seq);
        if is_target_refresh(&request.method)
            && let Some(c) = first_contact_uri(request.headers.contacts().cloned())
        {
            self.remote_target = c.uri;
        }
        Ok(())
    }

    fn refresh_target_from(&mut self, response: &Response) {
        if let Some(c) = first_contact_uri(response.headers.contacts().cloned()) {
            self.remote_target = c.uri;
        }
    }
}
