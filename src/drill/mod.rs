//! Drill sessions: the timeline of what happened ([`timeline`]), the trainee's actions told
//! apart from everything else ([`audit`]), the resolution verifier ([`verifier`]) and the
//! control channel the trainee's verbs use ([`control`]); [`session`] runs a drill with them.

pub mod audit;
pub mod budget;
pub mod control;
pub mod responder;
pub mod session;
pub mod timeline;
pub mod verifier;
