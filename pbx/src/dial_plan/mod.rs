//! The dial plan: dialled number → route. Being written (issue 3).
