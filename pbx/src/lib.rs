//! Sentral PBX: registrar, dial plan, B2BUA calls and call records. Not built yet (issue 3).
