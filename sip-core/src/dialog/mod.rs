//! Dialogs (RFC 3261 §12): UAC/UAS creation, route set, CSeq, in-dialog requests. Being written.
