//! Call records: written when a call starts, completed when it ends. Being written (issue 3).
