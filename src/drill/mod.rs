//! Drill sessions: the timeline of what happened ([`timeline`]).

pub mod timeline;
