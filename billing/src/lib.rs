//! Sentral billing: numbering plan, tariffs, rating and the old-versus-new comparison (issue 4).
