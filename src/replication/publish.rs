//! The node attributes a stop clears. The monitors' attributes and
//! scores, and those of a new primary, are planned in [`crate::policy::upkeep`] (scores:
//! [`crate::policy::scores`]) and written by [`crate::replication::apply`]:
//! a value is written only when it changed (or its last write is older than
//! [`REFRESH_S`], in case attrd lost it).

use crate::context::Context;
use crate::policy::upkeep::REFRESH_S;
use crate::replication::apply;
use crate::runstate::RunState;
use crate::vocab::{Attr, NO_VALUE, NOT_READABLE, NodeRole};

pub use crate::policy::scores::{SCORE_BOOTSTRAP, SCORE_PRIMARY, SCORE_STANDBY};

/// Forgets this node's role attributes (stop); a stopped node serves no
/// reads, so the read VIP leaves it before anything else notices.
pub fn clear_role(ctx: &Context, state: &mut RunState) {
    let stopped = [
        (Attr::Readable, NOT_READABLE),
        (Attr::Role, NodeRole::Stopped.as_str()),
        (Attr::Receiver, NO_VALUE),
        (Attr::Lag, NO_VALUE),
    ];
    for (attr, value) in stopped {
        apply::publish_node_attr(ctx, state, None, attr, value, REFRESH_S);
    }
}
