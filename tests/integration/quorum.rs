//! The quorum gate of a promotion and the election's rounds, against a
//! real standby. No cluster runs here: a fake `attrd_updater` first on the
//! agent's PATH serves and stores node attributes in files (one file per
//! attribute, a `<node> <value>` line per node), and a fake
//! `crm_attribute` records the score changes.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use pgha::policy::promotion::round_id;

use crate::util::*;

/// The fake attribute store of a cluster whose nodes the test plays (also
/// used by the metrics tests).
pub struct FakeCluster {
    dir: TempDir,
}

const ATTRD: &str = r#"#!/bin/sh
dir=$(dirname "$0")
name= value= node=$FAKE_NODE query= delete=
for a in "$@"; do
  case "$a" in
    --name=*) name=${a#--name=} ;;
    --update=*) value=${a#--update=} ;;
    --node=*) node=${a#--node=} ;;
    --query) query=1 ;;
    --delete) delete=1 ;;
  esac
done
printf 'attrd_updater %s\n' "$*" >> "$dir/calls"
f="$dir/attrs/$name"
if [ -n "$query" ]; then
  [ -s "$f" ] || { echo "attribute does not exist" >&2; exit 78; }
  while read -r h v; do printf 'name="%s" host="%s" value="%s"\n' "$name" "$h" "$v"; done < "$f"
  exit 0
fi
touch "$f"
grep -v "^$node " "$f" > "$f.new"
[ -n "$delete" ] || printf '%s %s\n' "$node" "$value" >> "$f.new"
mv "$f.new" "$f"
"#;

const CRM_ATTRIBUTE: &str = r#"#!/bin/sh
printf 'crm_attribute %s\n' "$*" >> "$(dirname "$0")/calls"
"#;

impl FakeCluster {
    pub fn new() -> FakeCluster {
        let dir = TempDir::root_only("fake-cluster");
        fs::create_dir(dir.path.join("attrs")).unwrap();
        let cluster = FakeCluster { dir };
        for (tool, text) in [("attrd_updater", ATTRD), ("crm_attribute", CRM_ATTRIBUTE)] {
            cluster.tool(tool, text);
        }
        cluster
    }

    /// Adds a fake Pacemaker tool `name` (a shell script) beside the others.
    pub fn tool(&self, name: &str, script: &str) {
        let path = self.dir.path.join(name);
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `agent` on `node`, asking this fake cluster.
    pub fn agent_on(&self, agent: &Agent, node: &str) -> Agent {
        let path = format!(
            "{}:{}",
            self.dir.path.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        agent
            .clone()
            .env("PATH", &path)
            .env("FAKE_NODE", node)
            .meta("on_node", node)
    }

    /// Sets attribute `name` of `node` as that node's agent would.
    pub fn set(&self, name: &str, node: &str, value: &str) {
        let path = self.dir.path.join("attrs").join(name);
        let mut lines: Vec<String> = fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with(&format!("{node} ")))
            .map(str::to_string)
            .collect();
        lines.push(format!("{node} {value}"));
        fs::write(&path, lines.join("\n") + "\n").unwrap();
    }

    pub fn get(&self, name: &str, node: &str) -> Option<String> {
        fs::read_to_string(self.dir.path.join("attrs").join(name))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{node} ")).map(str::to_string))
    }

    /// A fake `crm_node`: `-l` lists `members` (`<name> <state>`, each
    /// numbered), `-p` prints `partition`, `-n` the node it runs on as
    /// Pacemaker names it (`$FAKE_NODE`, [`FakeCluster::agent_on`]).
    pub fn crm_node(&self, members: &[(&str, &str)], partition: &str) {
        let listed: String = members
            .iter()
            .enumerate()
            .map(|(i, (name, state))| format!("{} {name} {state}\\n", i + 1))
            .collect();
        self.tool(
            "crm_node",
            &format!(
                "#!/bin/sh\ncase \"$1\" in\n  -n) printf '%s\\n' \"$FAKE_NODE\" ;;\n  -l) printf '{listed}' ;;\n  \
                 -p) printf '{partition}\\n' ;;\n  *) exit 1 ;;\nesac\n"
            ),
        );
    }

    pub fn calls(&self) -> String {
        fs::read_to_string(self.dir.path.join("calls")).unwrap_or_default()
    }
}

fn names(list: &str) -> Vec<String> {
    list.split_whitespace().map(str::to_string).collect()
}

/// The pre-promote notification of a round that promotes node-b among
/// `active`, on `agent`.
pub fn pre_promote(agent: &Agent, active: &str) {
    notify(
        agent,
        "pre",
        "promote",
        &[
            ("promote", "node-b"),
            ("active", active),
            ("all", "node-a node-b node-c"),
        ],
    );
}

/// strict-sync: the primary node-a listed ANY 1 (node-b, node-c), so a
/// commit may have been confirmed by node-c alone. With node-a gone and
/// node-c absent from the round, node-b must not be promoted, whatever
/// stale vote node-c left from an earlier round; the scores are deleted
/// so that no node is promotable, and the reason is published. Once
/// node-c votes in this round (behind node-b), node-b is promoted.
#[test]
fn strict_sync_promotes_only_with_a_quorum_of_the_listed_standbys_voting_in_this_round() {
    let (_a, a_agent, b, b_agent) = pair_with("gate", &[("replication_mode", "strict-sync")]);
    let cluster = FakeCluster::new();
    let rsc = b_agent.rsc();
    let b_on = cluster.agent_on(&b_agent, "node-b");
    a_agent.run("stop").expect(OcfCode::Success);
    let list = "node-a: ANY 1 (node-b, node-c)";
    cluster.set(&format!("pgha-{rsc}-sync-list"), "node-b", list);
    // node-c voted far ahead in a round that failed; node-d, not a
    // participant, too.
    let election = format!("pgha-{rsc}-election");
    let earlier = round_id(&names("node-c"), &names("node-b node-c"), &[]);
    cluster.set(&election, "node-c", &format!("9:F/0@{earlier}"));
    let this_round = round_id(&names("node-b"), &names("node-b node-c"), &[]);
    cluster.set(&election, "node-d", &format!("9:F/0@{this_round}"));

    pre_promote(&b_on, "node-b node-c");
    let vote = cluster
        .get(&election, "node-b")
        .unwrap_or_else(|| panic!("node-b voted nothing\n{}", cluster.calls()));
    assert!(
        vote.contains(&format!("@{this_round} ")),
        "node-b's vote names this round and its history: {vote}"
    );
    let out = b_on.run("promote");
    out.expect_reason(OcfCode::ErrGeneric, "strict-sync: 1 of the 2 standbys needed");
    out.expect_logged(
        "no vote from [\"node-c\"]",
        "node-c's earlier vote does not stand in",
    );
    b.assert_query(
        "select pg_is_in_recovery()",
        "t",
        "not promoted without the quorum",
    );
    let calls = cluster.calls();
    for node in ["node-b", "node-c"] {
        assert!(
            calls.contains(&format!(
                "--promotion={rsc} --lifetime=reboot --delete --node={node}"
            )),
            "the score of {node} is deleted: no node is promotable while the gate waits\n{calls}"
        );
    }
    let gate = cluster
        .get(&format!("pgha-{rsc}-gate"), "node-b")
        .unwrap_or_default();
    assert!(
        gate.contains("waiting for node-c"),
        "the reason is published: {gate:?}"
    );
    // That failure is no fault of node-b: its next monitor clears it from
    // Pacemaker's fail count, once.
    cluster.tool(
        "crm_resource",
        "#!/bin/sh\nprintf 'crm_resource %s\\n' \"$*\" >> \"$(dirname \"$0\")/calls\"\n",
    );
    let cleanup =
        format!("crm_resource --cleanup --resource={rsc} --node=node-b --operation=promote --interval=0");
    let monitor = b_on.clone().recurring();
    monitor
        .run("monitor")
        .expect_logged("cleared the failed promote", "the declined promote is cleared");
    monitor.run("monitor");
    assert_eq!(
        cluster.calls().matches(&cleanup).count(),
        1,
        "one clean-up of the declined promote\n{}",
        cluster.calls()
    );

    // node-c back, behind node-b, votes in this round: the quorum is met.
    pre_promote(&b_on, "node-b node-c");
    cluster.set(&election, "node-c", &format!("1:0/1000000@{this_round} 1"));
    b_on.run("promote").expect(OcfCode::Success);
    b.assert_query("select pg_is_in_recovery()", "f", "promoted with the quorum");
    b.assert_sync_names(
        "ANY 1 (\"node-c\")",
        "strict-sync names the other participant before its first commit",
    );
    assert_eq!(
        cluster.get(&format!("pgha-{rsc}-gate"), "node-b").as_deref(),
        Some("-"),
        "the reason is withdrawn"
    );
    b_agent.run("stop").expect(OcfCode::Success);
}

/// strict-sync, promoted alone (no other participant): the strict value is
/// set before pg_promote, so not one commit is acknowledged by this node
/// alone, whatever its postgresql.auto.conf held.
#[test]
fn strict_sync_promoted_alone_waits_for_a_standby_from_its_first_commit() {
    let (_a, a_agent, b, b_agent) = pair_with("alone", &[("replication_mode", "strict-sync")]);
    let cluster = FakeCluster::new();
    let b_on = cluster.agent_on(&b_agent, "node-b");
    a_agent.run("stop").expect(OcfCode::Success);
    // The standby's own configuration says nothing waits.
    b.psql("alter system set synchronous_standby_names = ''");
    b.psql("select pg_reload_conf()");
    notify(
        &b_on,
        "pre",
        "promote",
        &[
            ("promote", "node-b"),
            ("active", "node-b"),
            ("all", "node-a node-b"),
        ],
    );
    b_on.run("promote").expect(OcfCode::Success);
    b.assert_sync_names(
        "ANY 1 (\"node-a\")",
        "the other member is waited for from the first commit",
    );
    b_agent.run("stop").expect(OcfCode::Success);
}

/// The same WAL on a higher timeline number is not "more advanced": the
/// vote of a node whose history only adds a timeline switch at the
/// candidate's own position ties, and the candidate is promoted instead of
/// handing over (the lab's `12:0/665F358 > 10:0/665F358`).
#[test]
fn a_higher_timeline_number_with_the_same_wal_does_not_take_the_promotion() {
    let this_round = round_id(&names("node-b"), &names("node-b node-c"), &[]);
    // (what, the LSN of node-c's vote on the next timeline, which left
    // node-b's timeline at node-b's position `at`; promoted)
    let table: [(&str, Option<&str>, bool); 2] = [
        ("the same WAL on the next timeline number: a tie", None, true),
        ("more WAL on the next timeline: ahead", Some("FF/0"), false),
    ];
    for (i, (what, their_lsn, promoted)) in table.into_iter().enumerate() {
        let (_a, a_agent, b, b_agent) = pair(&format!("tlnumber{i}"));
        let cluster = FakeCluster::new();
        let election = format!("pgha-{}-election", b_agent.rsc());
        let b_on = cluster.agent_on(&b_agent, "node-b");
        a_agent.run("stop").expect(OcfCode::Success);
        pre_promote(&b_on, "node-b node-c");
        // "<timeline>:<LSN>@<round> <history>"
        let vote = cluster.get(&election, "node-b").expect("node-b voted");
        let (tagged, history) = vote
            .split_once(' ')
            .unwrap_or_else(|| panic!("node-b's vote carries its history: {vote}"));
        let (timeline, at) = tagged.split_once('@').unwrap().0.split_once(':').unwrap();
        let next: u32 = timeline.parse::<u32>().unwrap() + 1;
        let theirs = format!(
            "{next}:{}@{this_round} {history}@{at},{next}",
            their_lsn.unwrap_or(at)
        );
        cluster.set(&election, "node-c", &theirs);
        let out = b_on.run("promote");
        if promoted {
            out.expect(OcfCode::Success);
            b.assert_query("select pg_is_in_recovery()", "f", what);
        } else {
            out.expect_reason(OcfCode::ErrGeneric, "node-c is more advanced");
            b.assert_query("select pg_is_in_recovery()", "t", what);
        }
        b_agent.run("stop").expect(OcfCode::Success);
    }
}
