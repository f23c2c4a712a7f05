//! The name Pacemaker knows this node by, and the cluster's members as
//! Pacemaker's tools list them (parsed here; remembered and chosen between
//! by `crate::replication::upkeep`).
//!
//! Pacemaker passes it to every action as `CRM_meta_on_node`; `crm_node -n`
//! needs a running controller, and the kernel's node name is the last resort
//! (corosync's node name is the host name in most installations).

use std::collections::BTreeMap;

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

/// The cluster's nodes as Pacemaker knows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// The names of the cluster's nodes, each with whether it is a member
    /// of this partition now.
    pub nodes: Vec<(String, bool)>,
    /// Every configured node's permanent attributes (name -> value), from
    /// the same read of the CIB; None when the CIB could not be read.
    pub attributes: Option<NodeAttributes>,
}

/// Node -> its permanent node attributes (name -> value).
pub type NodeAttributes = BTreeMap<String, BTreeMap<String, String>>;

/// The cluster's nodes, each with whether it is a member of this
/// partition now: those `crm_node -l` lists (`<id> <name> <state>`, the
/// state `member` or `lost`) that are also configured in the CIB's nodes
/// section, with the permanent attributes the CIB gives each node.
///
/// `crm_node -l` alone kept listing a node removed from the cluster
/// (`pcs cluster node remove`: corosync reload, then `crm_node -R`) as
/// "lost" for minutes when the purge reached a controller before its
/// corosync had dropped the node (seen in the lab: 261 s, so its slot was
/// never dropped); the removal deletes the node from the CIB at once. A
/// node that is only down stays in both, and keeps its slot and score.
/// When the CIB cannot be read, `crm_node -l` alone answers.
pub fn cluster_nodes(deadline: Deadline) -> Option<Membership> {
    let listed = parse_crm_node_list(&crm_node("-l", deadline)?);
    let configured = configured_nodes(deadline);
    let nodes: Vec<(String, bool)> = match &configured {
        Some(configured) => listed
            .into_iter()
            .filter(|(n, _)| configured.contains_key(n))
            .collect(),
        None => listed,
    };
    (!nodes.is_empty()).then_some(Membership {
        nodes,
        attributes: configured,
    })
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

/// Every `<node>` of the CIB's nodes section by its `uname`, with its
/// permanent attributes (what `crm_attribute --node <node> --lifetime
/// forever` writes), or None when the CIB cannot be read. One bounded
/// `cibadmin` call, which every Pacemaker tool answers from `CIB_file`
/// when that is set.
pub fn configured_nodes(deadline: Deadline) -> Option<NodeAttributes> {
    let out = exec::run(
        "cibadmin",
        &["--query", "--scope=nodes"],
        None,
        deadline.within(std::time::Duration::from_secs(5)),
    )
    .ok()?;
    out.success().then(|| parse_cib_nodes(&out.stdout)).flatten()
}

/// Parses `<nodes><node id="1" uname="node1"><instance_attributes>
/// <nvpair name=".." value=".."/>...` (names and values XML-unescaped):
/// each node with the nvpairs of its `instance_attributes` (its
/// utilization is not an attribute; of two nvpairs of one name the last
/// wins). None when the text is not such XML.
fn parse_cib_nodes(xml: &str) -> Option<NodeAttributes> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut nodes = NodeAttributes::new();
    let mut seen_nodes = false;
    // The node being read, and whether inside its instance_attributes.
    let mut node: Option<String> = None;
    let mut in_attributes = false;
    loop {
        let (e, empty) = match reader.read_event().ok()? {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                match e.name().as_ref() {
                    b"node" => node = None,
                    b"instance_attributes" => in_attributes = false,
                    _ => {}
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let attr = |key: &[u8]| -> Option<String> {
            e.attributes()
                .flatten()
                .find(|a| a.key.as_ref() == key)?
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        };
        match e.name().as_ref() {
            b"nodes" => seen_nodes = true,
            b"node" => {
                if let Some(name) = attr(b"uname") {
                    nodes.entry(name.clone()).or_default();
                    node = (!empty).then_some(name);
                }
            }
            b"instance_attributes" if node.is_some() => in_attributes = !empty,
            b"nvpair" if in_attributes => {
                if let (Some(node), Some(name), Some(value)) = (&node, attr(b"name"), attr(b"value")) {
                    nodes.entry(node.clone()).or_default().insert(name, value);
                }
            }
            _ => {}
        }
    }
    seen_nodes.then_some(nodes)
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
        let names = |xml| parse_cib_nodes(xml).map(|n| n.into_keys().collect::<Vec<_>>());
        assert_eq!(names(cib).unwrap(), ["node\"3", "node2"], "in name order");
        assert_eq!(names("<nodes/>").unwrap(), Vec::<String>::new());
        assert_eq!(names("Call cib_query failed"), None);
    }

    #[test]
    fn each_nodes_permanent_attributes_are_read_from_the_nodes_section() {
        // As `crm_attribute --node node-c --name pgha-pgsqld-nosync --update
        // true --lifetime forever` leaves it (Pacemaker 2.1).
        let cib = r#"<nodes>
  <node id="1" uname="node-a"/>
  <node id="2" uname="node-b">
    <instance_attributes id="nodes-2">
      <nvpair id="nodes-2-p" name="pgha-pgsqld-priority" value="5"/>
      <nvpair id="nodes-2-q" name="pgha-pgsqld-priority" value="7"/>
    </instance_attributes>
    <utilization id="u"><nvpair id="u-cpu" name="cpu" value="4"/></utilization>
  </node>
  <node id="3" uname="node-c">
    <instance_attributes id="nodes-3">
      <nvpair id="nodes-3-n" name="pgha-pgsqld-nosync" value="true"/>
      <nvpair id="nodes-3-s" name="site" value="a&amp;b"/>
    </instance_attributes>
  </node>
  <node id="4" uname="node-d"><instance_attributes id="nodes-4"/></node>
</nodes>"#;
        let nodes = parse_cib_nodes(cib).unwrap();
        let of = |node: &str| -> Vec<(String, String)> { nodes[node].clone().into_iter().collect() };
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
        };
        assert_eq!(of("node-a"), pairs(&[]));
        assert_eq!(
            of("node-b"),
            pairs(&[("pgha-pgsqld-priority", "7")]),
            "the last wins, no utilization"
        );
        assert_eq!(
            of("node-c"),
            pairs(&[("pgha-pgsqld-nosync", "true"), ("site", "a&b")])
        );
        assert_eq!(of("node-d"), pairs(&[]));
    }
}
