//! The dialogs of one endpoint, keyed by [`DialogId`], with forking handled per §12.1.2
//! and §13.2.2.4: every To tag in a 1xx/2xx to one INVITE is its own dialog.

use super::{Dialog, DialogError, DialogId, DialogState};
use crate::message::{HeaderName, Method, Request, Response, SipStr};
use std::collections::HashMap;
use tracing::debug;

/// What a response did to the dialogs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialogEvent {
    /// A new dialog (early or confirmed), e.g. a new fork.
    Created(DialogId),
    /// An existing dialog changed state or target.
    Updated(DialogId),
    /// These early dialogs ended (a non-2xx final to their INVITE, §12.3).
    Terminated(Vec<DialogId>),
    /// The response touched no dialog (100 Trying, a 1xx without To tag, a non-2xx final
    /// with no early dialog).
    None,
}

/// All dialogs of a UA (or of one side of a B2BUA).
#[derive(Debug, Default)]
pub struct DialogSet {
    dialogs: HashMap<DialogId, Dialog>,
}

impl DialogSet {
    pub fn new() -> Self {
        DialogSet::default()
    }

    pub fn len(&self) -> usize {
        self.dialogs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dialogs.is_empty()
    }

    pub fn get(&self, id: &DialogId) -> Option<&Dialog> {
        self.dialogs.get(id)
    }

    pub fn get_mut(&mut self, id: &DialogId) -> Option<&mut Dialog> {
        self.dialogs.get_mut(id)
    }

    pub fn insert(&mut self, dialog: Dialog) {
        self.dialogs.insert(dialog.id().clone(), dialog);
    }

    pub fn remove(&mut self, id: &DialogId) -> Option<Dialog> {
        self.dialogs.remove(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Dialog> {
        self.dialogs.values()
    }

    /// The id a received request belongs to: local tag is its To tag, remote tag its From
    /// tag (§12.2.2).
    pub fn id_for_request(request: &Request) -> Result<DialogId, DialogError> {
        let h = &request.headers;
        Ok(DialogId {
            call_id: h
                .call_id()
                .ok_or(DialogError::MissingHeader(HeaderName::CallId))?
                .clone(),
            local_tag: tag(h.to()),
            remote_tag: tag(h.from()),
        })
    }

    /// The id a received response belongs to: local tag is its From tag, remote tag its To
    /// tag.
    pub fn id_for_response(response: &Response) -> Result<DialogId, DialogError> {
        let h = &response.headers;
        Ok(DialogId {
            call_id: h
                .call_id()
                .ok_or(DialogError::MissingHeader(HeaderName::CallId))?
                .clone(),
            local_tag: tag(h.from()),
            remote_tag: tag(h.to()),
        })
    }

    /// A response to our dialog-creating `invite` (UAC, §12.1.2, §13.2.2.4). A 101–199
    /// with a new To tag creates an early dialog and a 2xx with a new To tag a confirmed
    /// one (forking gives several, each with its own id); a known tag updates its dialog;
    /// a non-2xx final ends all early dialogs of the INVITE (§12.3).
    pub fn handle_uac_response(
        &mut self,
        invite: &Request,
        response: &Response,
    ) -> Result<DialogEvent, DialogError> {
        let status = response.status;
        if status.is_final() && !status.is_success() {
            let gone = self.end_early(invite)?;
            return Ok(if gone.is_empty() {
                DialogEvent::None
            } else {
                DialogEvent::Terminated(gone)
            });
        }
        let has_tag = response.headers.to().and_then(|t| t.tag()).is_some();
        if status.0 == 100 || (status.is_provisional() && !has_tag) {
            return Ok(DialogEvent::None);
        }
        let id = Self::id_for_response(response)?;
        if let Some(d) = self.dialogs.get_mut(&id) {
            d.on_response_received(response);
            return Ok(DialogEvent::Updated(id));
        }
        let d = Dialog::new_uac(invite, response)?;
        debug!(local_tag = %id.local_tag, remote_tag = %id.remote_tag, state = ?d.state(), "UAC dialog created");
        self.dialogs.insert(id.clone(), d);
        Ok(DialogEvent::Created(id))
    }

    /// The INVITE client transaction ended (RFC 6026 Timer M): early dialogs that never got
    /// their 2xx are over (§13.2.2.4).
    pub fn invite_transaction_ended(
        &mut self,
        invite: &Request,
    ) -> Result<Vec<DialogId>, DialogError> {
        self.end_early(invite)
    }

    /// Routes a received in-dialog request to its dialog and applies §12.2.2 (CSeq order,
    /// target refresh). `Err(NoDialog)` means answer 481.
    pub fn handle_request(&mut self, request: &Request) -> Result<DialogId, DialogError> {
        let id = Self::id_for_request(request)?;
        let d = self.dialogs.get_mut(&id).ok_or(DialogError::NoDialog)?;
        d.on_request_received(request)?;
        if request.method == Method::Bye {
            // §15.1.2: the UAS side of a BYE ends the dialog once it answers; nothing in
            // the dialog outlives a BYE that passed the checks above.
            d.terminate();
        }
        Ok(id)
    }

    /// Removes terminated dialogs, returning their ids.
    pub fn reap(&mut self) -> Vec<DialogId> {
        let gone: Vec<DialogId> = self
            .dialogs
            .iter()
            .filter(|(_, d)| d.state() == DialogState::Terminated)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            self.dialogs.remove(id);
        }
        gone
    }

    fn end_early(&mut self, invite: &Request) -> Result<Vec<DialogId>, DialogError> {
        let h = &invite.headers;
        let call_id = h
            .call_id()
            .ok_or(DialogError::MissingHeader(HeaderName::CallId))?;
        let local_tag = tag(h.from());
        let mut gone = Vec::new();
        for (id, d) in self.dialogs.iter_mut() {
            if &id.call_id == call_id
                && id.local_tag == local_tag
                && d.state() == DialogState::Early
            {
                d.terminate();
                gone.push(id.clone());
            }
        }
        gone.sort();
        Ok(gone)
    }
}

fn tag(a: Option<&crate::message::NameAddr>) -> SipStr {
    a.and_then(|a| a.tag())
        .map(SipStr::from)
        .unwrap_or_default()
}
