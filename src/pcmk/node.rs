//! The name Pacemaker knows this node by.
//!
//! Pacemaker passes it to every action as `CRM_meta_on_node`; `crm_node -n`
//! needs a running controller, and the kernel's node name is the last resort
//! (corosync's node name is the host name in most installations).

use crate::deadline::Deadline;
use crate::exec;
use crate::ocf::env::OcfEnv;

pub fn local_node_name(env: &OcfEnv, deadline: Deadline) -> String {
    if let Some(name) = env.meta("on_node") {
        return name.trim().to_string();
    }
    if let Ok(out) = exec::run(
        "crm_node",
        &["-n"],
        None,
        deadline.within(std::time::Duration::from_secs(5)),
    ) && out.success()
        && !out.stdout.trim().is_empty()
    {
        return out.stdout.trim().to_string();
    }
    nix::sys::utsname::uname()
        .map(|u| u.nodename().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// The names of the cluster's nodes (`crm_node -l`: `<id> <name> <state>`).
pub fn cluster_nodes(deadline: Deadline) -> Option<Vec<String>> {
    let out = exec::run(
        "crm_node",
        &["-l"],
        None,
        deadline.within(std::time::Duration::from_secs(5)),
    )
    .ok()?;
    if !out.success() {
        return None;
    }
    let nodes: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
        .collect();
    (!nodes.is_empty()).then_some(nodes)
}
