//! The name Pacemaker knows this node by, and the cluster's members as
//! Pacemaker's tools list them (parsed here; remembered and chosen between
//! by `crate::replication::upkeep`).
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
    let out = exec::run(
        "crm_node",
        &["-n"],
        None,
        deadline.within(std::time::Duration::from_secs(5)),
    );
    if let Some(out) = out.ok().filter(|o| o.success() && !o.stdout.trim().is_empty()) {
        return out.stdout.trim().to_string();
    }
    nix::sys::utsname::uname()
        .map(|u| u.nodename().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// The cluster's nodes, each with whether it is a member of this
/// partition now: those `crm_node -l` lists (`<id> <name> <state>`, the
/// state `member` or `lost`) that are also configured in the CIB's nodes
/// section.
///
/// `crm_node -l` alone kept listing a node removed from the cluster
/// (`pcs cluster node remove`: corosync reload, then `crm_node -R`) as
/// "lost" for minutes when the purge reached a controller before its
/// corosync had dropped the node (seen in the lab: 261 s, so its slot was
/// never dropped); the removal deletes the node from the CIB at once. A
/// node that is only down stays in both, and keeps its slot and score.
/// When the CIB cannot be read, `crm_node -l` alone answers.
pub fn cluster_nodes(deadline: Deadline) -> Option<Vec<(String, bool)>> {
    let listed = parse_crm_node_list(&crm_node("-l", deadline)?);
    let nodes: Vec<(String, bool)> = match configured_nodes(deadline) {
        Some(configured) => listed
            .into_iter()
            .filter(|(n, _)| configured.contains(n))
            .collect(),
        None => listed,
    };
    (!nodes.is_empty()).then_some(nodes)
}

/// The nodes of this node's partition, as corosync sees them now
/// (`crm_node -p`: names separated by spaces), or None when the cluster
/// cannot be asked. Unlike [`cluster_nodes`], nodes that are down are not in it.
pub fn partition(deadline: Deadline) -> Option<Vec<String>> {
    let nodes: Vec<String> = crm_node("-p", deadline)?
        .split_whitespace()
        .map(str::to_string)
        .collect();
    (!nodes.is_empty()).then_some(nodes)
}

/// What `crm_node <option>` prints, or None when it fails (no cluster).
fn crm_node(option: &str, deadline: Deadline) -> Option<String> {
    let out = exec::run(
        "crm_node",
        &[option],
        None,
        deadline.within(std::time::Duration::from_secs(5)),
    )
    .ok()?;
    out.success().then_some(out.stdout)
}

/// `crm_node -l` lines, `<id> <name> <state>`: the names, each with
/// whether its state is `member` (a line with no state: not one).
fn parse_crm_node_list(text: &str) -> Vec<(String, bool)> {
    text.lines()
        .filter_map(|l| {
            let mut fields = l.split_whitespace().skip(1);
            let name = fields.next()?;
            Some((name.to_string(), fields.next() == Some("member")))
        })
        .collect()
}

/// The `uname` of every `<node>` in the CIB's nodes section, or None when
/// the CIB cannot be read.
fn configured_nodes(deadline: Deadline) -> Option<Vec<String>> {
    let out = exec::run(
        "cibadmin",
        &["--query", "--scope=nodes"],
        None,
        deadline.within(std::time::Duration::from_secs(5)),
    )
    .ok()?;
    out.success().then(|| parse_cib_nodes(&out.stdout)).flatten()
}

/// Parses `<nodes><node id="1" uname="node1"/>...</nodes>` (names XML-
/// unescaped); None when the text is not such XML.
fn parse_cib_nodes(xml: &str) -> Option<Vec<String>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut names = Vec::new();
    let mut seen_nodes = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"nodes" => seen_nodes = true,
                b"node" => {
                    for attr in e.attributes().flatten() {
                        if attr.key.as_ref() == b"uname" {
                            names.push(
                                attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .ok()?
                                    .into_owned(),
                            );
                        }
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    seen_nodes.then_some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_listed_by_crm_node_and_configured_in_the_cib() {
        let listed = |v: &[(&str, bool)]| v.iter().map(|(n, m)| (n.to_string(), *m)).collect::<Vec<_>>();
        assert_eq!(
            parse_crm_node_list("1 node1 lost\n2 node2 member\n3 node3 member\n4 node4\n"),
            listed(&[
                ("node1", false),
                ("node2", true),
                ("node3", true),
                ("node4", false)
            ])
        );
        let cib = r#"<nodes>
  <node id="2" uname="node2"/>
  <node id="3" uname="node&quot;3"><instance_attributes id="x"/></node>
</nodes>"#;
        assert_eq!(parse_cib_nodes(cib).unwrap(), ["node2", "node\"3"]);
        assert_eq!(parse_cib_nodes("<nodes/>").unwrap(), Vec::<String>::new());
        assert_eq!(parse_cib_nodes("Call cib_query failed"), None);
    }
}
