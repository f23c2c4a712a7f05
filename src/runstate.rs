//! What the agent remembers between two calls on this node.
//!
//! The monitor runs every few seconds for years, and a Pacemaker tool costs
//! a process and a round trip to pacemaker-attrd. So the agent writes an
//! attribute or a score only when its value changes, and remembers what it
//! last wrote in `/run/pgha/<resource>.state`. /run is a tmpfs: the memory is
//! lost at reboot exactly when Pacemaker's transient attributes (lifetime
//! `reboot`) are, so the two cannot disagree for long; entries also expire
//! so that anything lost elsewhere is written again.
//!
//! The few keys that must outlive a reboot ([`Key::is_durable`]: a demote
//! not yet compared with the primary) live in `/var/lib/pgha/<resource>.state`
//! instead, written with fsync (file and directory): a node cut off,
//! demoted and power-cycled still compares its history at its next start.
//! [`RunState`] reads and writes both files as one memory.
//!
//! `/run/pgha` and `/var/lib/pgha` are root's alone (mode 0700, checked
//! before every write), outside anything the system user controls: it
//! cannot plant anything there. File names come only from a resource name
//! that [`is_resource_id`] accepted, so no `OCF_RESOURCE_INSTANCE` can make
//! root write outside them; with no valid name the memory lives in the
//! process only and is never written. This module is the only one that
//! writes or removes anything there ([`AgentFile`]: the memory, the
//! election round that pre-promote leaves for promote, the lock that
//! serializes the actions of one resource).
//!
//! Keys are [`Key`]s, spelled in [`crate::vocab`] alone; the memory's own
//! derivations (the standbys a primary remembers, the nodes it scored) are
//! named methods here, so that no action reads another's keys by prefix.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::deadline::{Deadline, unix_seconds};
use crate::ocf::env::is_resource_id;
use crate::vocab::Key;

const DIR: &str = "/run/pgha";

/// Where the memory that outlives a reboot is kept.
const DURABLE_DIR: &str = "/var/lib/pgha";

/// The files of one resource in `/run/pgha` and `/var/lib/pgha`; this
/// module alone writes or removes anything there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentFile {
    /// The memory: `/run/pgha/<rsc>.state`.
    State,
    /// The memory kept across reboots ([`Key::is_durable`]):
    /// `/var/lib/pgha/<rsc>.state`.
    Durable,
    /// The election round noted by pre-promote for promote:
    /// `/run/pgha/<rsc>.election`.
    Election,
    /// The lock the actions of the resource take: `/run/pgha/<rsc>.lock`.
    Lock,
}

impl AgentFile {
    /// Every file the agent keeps for a resource: what removing a
    /// resource's traces (the integration tests, when one ends) goes over.
    pub const ALL: [AgentFile; 4] = [
        AgentFile::State,
        AgentFile::Durable,
        AgentFile::Election,
        AgentFile::Lock,
    ];

    fn ext(self) -> &'static str {
        match self {
            AgentFile::State | AgentFile::Durable => "state",
            AgentFile::Election => "election",
            AgentFile::Lock => "lock",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            AgentFile::Durable => DURABLE_DIR,
            AgentFile::State | AgentFile::Election | AgentFile::Lock => DIR,
        }
    }
}

/// `<dir>/<rsc>.<ext>`, or None when `rsc` is not a resource id (then
/// the agent writes nothing for it).
pub fn agent_file(rsc: &str, file: AgentFile) -> Option<PathBuf> {
    is_resource_id(rsc).then(|| PathBuf::from(file.dir()).join(format!("{rsc}.{}", file.ext())))
}

/// Writes `text` as `file` of resource `rsc` (nothing when `rsc` is not a
/// resource id); a failure is logged.
pub fn write_file(rsc: &str, file: AgentFile, text: &str) {
    if let Some(path) = agent_file(rsc, file).filter(|_| writing()) {
        write_logged(&path, text, false);
    }
}

/// The text of `file` of resource `rsc`, which is removed: what one call
/// left for the next, read once.
pub fn take_file(rsc: &str, file: AgentFile) -> Option<String> {
    let path = agent_file(rsc, file)?;
    let text = fs::read_to_string(&path).ok()?;
    if writing() {
        let _ = fs::remove_file(&path);
    }
    Some(text)
}

/// Makes sure `dir` is a directory of root's (or of the user running the
/// tests) with no access for anyone else, creating it if missing. A symlink,
/// or a directory others can write, is refused: it was not made by us.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let meta = fs::symlink_metadata(dir)?;
    let ours = meta.uid() == nix::unistd::Uid::effective().as_raw();
    if !meta.is_dir() || !ours || meta.permissions().mode() & 0o077 != 0 {
        return Err(std::io::Error::other(format!(
            "{} is not a private directory of this user",
            dir.display()
        )));
    }
    Ok(())
}

/// Writes `text` to `path` (in the agent's private directory) atomically:
/// a temporary file of mode 0600, then rename. `sync`: the file and the
/// rename reach the disk before it returns (what must survive a power loss).
fn write_private(path: &Path, text: &str, sync: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    private_dir(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            if sync { f.sync_all() } else { Ok(()) }
        })
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
        return written;
    }
    if sync {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// [`write_private`], a failure logged; whether it was written.
fn write_logged(path: &Path, text: &str, sync: bool) -> bool {
    match write_private(path, text, sync) {
        Ok(()) => true,
        Err(e) => {
            crate::log_warn!("cannot write {}: {e}", path.display());
            false
        }
    }
}

/// Whether the memory key spelled `key` is kept across reboots.
fn is_durable(key: &str) -> bool {
    Key::parse(key).is_some_and(|k| k.is_durable())
}

/// Parses the lines of a memory file; `keep` selects the keys taken.
fn parse_entries(text: &str, keep: impl Fn(&str) -> bool) -> BTreeMap<String, (String, u64)> {
    text.lines()
        .filter_map(|line| {
            let (key, rest) = line.split_once('\t')?;
            let (value, at) = rest.rsplit_once('\t')?;
            Some((key.to_string(), (value.to_string(), at.parse().ok()?)))
        })
        .filter(|(key, _)| keep(key))
        .collect()
}

/// Set when this run must not write the memory ([`write_nothing`]).
static READ_ONLY: AtomicBool = AtomicBool::new(false);

/// From now on this process writes no memory and no agent file: what a
/// monitor does while another run of the agent holds the resource's lock
/// (its memory, saved over the holder's, would bring back what the holder
/// just changed).
pub fn write_nothing() {
    READ_ONLY.store(true, Ordering::Relaxed);
}

fn writing() -> bool {
    !READ_ONLY.load(Ordering::Relaxed)
}

/// How long a waiter sleeps between two tries of the lock.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// The lock of one resource (`/run/pgha/<rsc>.lock`, `flock`): the
/// actions that change the instance (start with its rebuild, stop,
/// promote, demote) hold it exclusively, so that a `pcs resource
/// debug-start` beside Pacemaker's own start cannot take the other's new
/// postmaster for a leftover and kill it. Held until dropped; the kernel
/// releases it when the process dies, however it dies. The descriptor is
/// close-on-exec: no postmaster started under it inherits the lock.
pub struct ResourceLock {
    _held: Flock<fs::File>,
}

/// Why the lock was not taken.
#[derive(Debug)]
pub enum LockRefused {
    /// Another run held it until the deadline; who, as it wrote it.
    Held(String),
    /// The lock file could not be opened (`/run/pgha` not root's alone...).
    Io(std::io::Error),
}

/// Takes the lock of `rsc`, exclusive or shared, waiting for it until
/// `until`. None when `rsc` is not a resource id (nothing is kept for it,
/// nothing to lock). An exclusive holder writes its pid and `what` into the
/// file, for the message of the next one that waits.
pub fn lock(
    rsc: &str,
    exclusive: bool,
    what: &str,
    until: Deadline,
) -> Option<Result<ResourceLock, LockRefused>> {
    let path = agent_file(rsc, AgentFile::Lock)?;
    Some(lock_path(&path, exclusive, what, until))
}

fn lock_path(path: &Path, exclusive: bool, what: &str, until: Deadline) -> Result<ResourceLock, LockRefused> {
    let open = || -> std::io::Result<fs::File> {
        private_dir(path.parent().unwrap_or(Path::new("/")))?;
        fs::OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)
    };
    let arg = if exclusive {
        FlockArg::LockExclusiveNonblock
    } else {
        FlockArg::LockSharedNonblock
    };
    let holder = || {
        let text = fs::read_to_string(path).unwrap_or_default();
        text.trim().chars().take(40).collect::<String>()
    };
    let mut file = open().map_err(LockRefused::Io)?;
    let mut told = false;
    loop {
        match Flock::lock(file, arg) {
            Ok(mut held) => {
                if exclusive {
                    let _ = held.set_len(0);
                    let _ = held.write_all(format!("pid {} ({what})", std::process::id()).as_bytes());
                }
                return Ok(ResourceLock { _held: held });
            }
            Err((back, Errno::EWOULDBLOCK | Errno::EINTR)) => file = back,
            Err((_, e)) => return Err(LockRefused::Io(e.into())),
        }
        if until.remaining().is_zero() {
            return Err(LockRefused::Held(holder()));
        }
        if !told {
            crate::log_info!(
                "another run of the agent ({}) holds the lock: waiting for it",
                holder()
            );
            told = true;
        }
        until.sleep(LOCK_POLL);
    }
}

/// `key value written-at` lines, keys spelled by [`Key`].
pub struct RunState {
    /// None: no valid resource name, kept in memory only.
    path: Option<PathBuf>,
    /// Where the [durable](Key::is_durable) keys are kept; None: in `path`
    /// with the others.
    durable_path: Option<PathBuf>,
    entries: BTreeMap<String, (String, u64)>,
    dirty: bool,
    durable_dirty: bool,
}

impl RunState {
    /// Loads the state of resource `rsc` (empty if there is none yet): the
    /// /run file, and the durable keys from `/var/lib/pgha`.
    pub fn load(rsc: &str) -> RunState {
        let (Some(path), Some(durable)) = (
            agent_file(rsc, AgentFile::State),
            agent_file(rsc, AgentFile::Durable),
        ) else {
            return RunState {
                path: None,
                durable_path: None,
                entries: BTreeMap::new(),
                dirty: false,
                durable_dirty: false,
            };
        };
        Self::load_split(path, durable)
    }

    /// The state in `path`, its durable keys in `durable`.
    fn load_split(path: PathBuf, durable: PathBuf) -> RunState {
        let mut state = Self::load_from(path);
        // A durable key in /run was written by an older version: it moves.
        state.durable_dirty = state.entries.keys().any(|k| is_durable(k));
        state.dirty = state.durable_dirty;
        let kept = fs::read_to_string(&durable).unwrap_or_default();
        state.entries.extend(parse_entries(&kept, is_durable));
        state.durable_path = Some(durable);
        state
    }

    /// The state in one file, `path`, durable keys included.
    pub fn load_from(path: PathBuf) -> RunState {
        let entries = parse_entries(&fs::read_to_string(&path).unwrap_or_default(), |_| true);
        RunState {
            path: Some(path),
            durable_path: None,
            entries,
            dirty: false,
            durable_dirty: false,
        }
    }

    /// Notes that `key` changed, in the file that keeps it.
    fn touch(&mut self, key: &str) {
        if self.durable_path.is_some() && is_durable(key) {
            self.durable_dirty = true;
        } else {
            self.dirty = true;
        }
    }

    pub fn get(&self, key: &Key) -> Option<&str> {
        self.entries.get(&key.to_string()).map(|(v, _)| v.as_str())
    }

    /// Seconds since `key` was last set.
    pub fn age(&self, key: &Key) -> Option<u64> {
        self.entries
            .get(&key.to_string())
            .map(|(_, at)| unix_seconds().saturating_sub(*at))
    }

    /// True when `key` holds `value` and was set less than `max_age_s` ago.
    pub fn is_fresh(&self, key: &Key, value: &str, max_age_s: u64) -> bool {
        self.get(key) == Some(value) && self.age(key).is_some_and(|a| a < max_age_s)
    }

    /// Sets `key` only when its value differs (keeps the file untouched).
    pub fn set_if_changed(&mut self, key: &Key, value: &str) {
        if self.get(key) != Some(value) {
            self.set(key, value);
        }
    }

    /// Removes `key` (nothing happens when it is absent).
    pub fn remove(&mut self, key: &Key) {
        let name = key.to_string();
        if self.entries.remove(&name).is_some() {
            self.touch(&name);
        }
    }

    pub fn set(&mut self, key: &Key, value: &str) {
        let name = key.to_string();
        self.entries
            .insert(name.clone(), (value.to_string(), unix_seconds()));
        self.touch(&name);
    }

    /// Makes `key` look `seconds` older than it is (nothing when absent):
    /// what an integration test does to the memory instead of waiting out
    /// an age the agent acts on.
    pub fn backdate(&mut self, key: &Key, seconds: u64) {
        let name = key.to_string();
        if let Some((_, at)) = self.entries.get_mut(&name) {
            *at = at.saturating_sub(seconds);
            self.touch(&name);
        }
    }

    /// Whether flag `key` is on ([`Key::flag`]).
    pub fn flag(&self, key: &Key) -> bool {
        self.get(key).and_then(|v| key.parse_flag(v)) == Some(true)
    }

    /// Seconds since flag `key` was turned on, None while it is off.
    pub fn flag_age(&self, key: &Key) -> Option<u64> {
        self.age(key).filter(|_| self.flag(key))
    }

    /// Turns flag `key` on or off; its age counts from the last change.
    pub fn set_flag(&mut self, key: &Key, on: bool) {
        self.set_if_changed(key, key.flag(on));
    }

    /// Sets flag `key` on or off and restarts its age whatever it held: a
    /// stamp of when something was last looked at, and what was found.
    pub fn stamp_flag(&mut self, key: &Key, on: bool) {
        self.set(key, key.flag(on));
    }

    /// Stamps `key` ([`RunState::stamp_flag`] on): its age alone counts.
    pub fn stamp(&mut self, key: &Key) {
        self.stamp_flag(key, true);
    }

    /// Every key this version knows (older ones' are skipped).
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.entries.keys().filter_map(|k| Key::parse(k))
    }

    /// Remembers `node` as a standby of this primary (strict-sync waits for
    /// the standbys it knew even when none streams).
    pub fn remember_standby(&mut self, node: &str) {
        self.set_flag(&Key::Standby(node.to_string()), true);
    }

    /// The standbys this primary remembers ([`RunState::remember_standby`]):
    /// what synchronous replication waits for.
    pub fn remembered_standbys(&self) -> Vec<String> {
        self.keys()
            .filter_map(|k| match k {
                Key::Standby(node) => Some(node),
                _ => None,
            })
            .collect()
    }

    /// The other nodes this node has written a promotion score for: the
    /// standbys the primary keeps scoring, even once they are gone.
    pub fn scored_nodes(&self) -> Vec<String> {
        self.keys()
            .filter_map(|k| match k {
                Key::Score(Some(node)) => Some(node),
                _ => None,
            })
            .collect()
    }

    /// Forgets everything but the keys `keep` accepts (e.g.
    /// [`Key::is_membership`]): what a change of role makes stale is the
    /// role's bookkeeping, not what the node learnt of the cluster.
    pub fn clear_except(&mut self, keep: fn(&Key) -> bool) {
        let gone: Vec<String> = self
            .entries
            .keys()
            .filter(|key| !Key::parse(key).is_some_and(|k| keep(&k)))
            .cloned()
            .collect();
        for key in gone {
            self.entries.remove(&key);
            self.touch(&key);
        }
    }

    /// Writes the state back if anything changed (atomically: temp +
    /// rename), the durable keys synced to disk.
    pub fn save(&mut self) {
        if !writing() {
            return;
        }
        if self.dirty {
            if let Some(path) = &self.path {
                let separate = self.durable_path.is_some();
                let text = self.text(|key| !(separate && is_durable(key)));
                self.dirty = !write_logged(path, &text, false);
            }
        }
        if self.durable_dirty {
            if let Some(path) = &self.durable_path {
                let text = self.text(is_durable);
                self.durable_dirty = !write_logged(path, &text, true);
            }
        }
    }

    /// The lines of the keys `which` selects.
    fn text(&self, which: impl Fn(&str) -> bool) -> String {
        let mut text = String::new();
        for (k, (v, at)) in self.entries.iter().filter(|(k, _)| which(k)) {
            text.push_str(&format!("{k}\t{}\t{at}\n", v.replace(['\t', '\n'], " ")));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tracks_freshness() {
        let dir = std::env::temp_dir().join(format!("pgha-runstate-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let path = dir.join("r.state");
        let mut s = RunState::load_from(path.clone());
        assert_eq!(s.get(&Key::StopForced), None);
        s.set(&Key::StopForced, "1764720000.123456789");
        s.set(&Key::Score(Some("node-2".into())), "1000");
        s.set(&Key::Score(None), "1001");
        s.remember_standby("node-3");
        s.save();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("score.node-2\t1000\t"), "{text}");
        assert!(text.contains("standby.node-3\t1\t"), "{text}");
        let s = RunState::load_from(path);
        assert!(s.is_fresh(&Key::StopForced, "1764720000.123456789", 60));
        assert!(!s.is_fresh(&Key::StopForced, "2", 60));
        assert_eq!(s.scored_nodes(), vec!["node-2"], "not this node's own score");
        assert_eq!(s.remembered_standbys(), vec!["node-3"]);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_stamp_restarts_its_age_and_says_what_was_found() {
        let mut s = RunState::load("../not-saved");
        s.stamp_flag(&Key::MembersAsked, false);
        assert_eq!(s.get(&Key::MembersAsked), Some("failed"));
        assert!(!s.flag(&Key::MembersAsked));
        s.stamp_flag(&Key::MembersAsked, true);
        assert_eq!(s.get(&Key::MembersAsked), Some("ok"));
        assert!(s.flag(&Key::MembersAsked));
        assert_eq!(s.age(&Key::MembersAsked), Some(0));
        s.stamp(&Key::SplitbrainChecked);
        assert_eq!(s.get(&Key::SplitbrainChecked), Some("1"));
        let gone = Key::SlotGone("pgha_n".into());
        s.stamp_flag(&gone, true);
        assert_eq!((s.get(&gone), s.flag_age(&gone)), (Some("gone"), Some(0)));
        s.set(&gone, "1");
        assert!(!s.flag(&gone), "a slot is gone only as spelled");
    }

    #[test]
    fn flags_have_an_age_only_while_on() {
        let mut s = RunState::load("../not-saved");
        assert_eq!(s.flag_age(&Key::ReceiverDown), None);
        s.set_flag(&Key::ReceiverDown, true);
        assert_eq!(s.get(&Key::ReceiverDown), Some("1"));
        assert_eq!(s.flag_age(&Key::ReceiverDown), Some(0));
        s.set_flag(&Key::ReceiverDown, false);
        assert_eq!(s.get(&Key::ReceiverDown), Some(""));
        assert_eq!(s.flag_age(&Key::ReceiverDown), None);
    }

    #[test]
    fn backdating_ages_a_key_and_nothing_else() {
        let mut s = RunState::load("../not-saved");
        s.set_flag(&Key::ReceiverDown, true);
        s.set(&Key::StopForced, "1");
        s.backdate(&Key::ReceiverDown, 60);
        s.backdate(&Key::SyncManaged, 60);
        assert!(
            s.flag_age(&Key::ReceiverDown).is_some_and(|a| a >= 60),
            "aged by 60 s"
        );
        assert_eq!(s.get(&Key::ReceiverDown), Some("1"), "the value is kept");
        assert!(
            s.age(&Key::StopForced).is_some_and(|a| a < 60),
            "other keys keep their age"
        );
        assert_eq!(s.get(&Key::SyncManaged), None, "an absent key is not created");
    }

    #[test]
    fn a_role_change_keeps_what_the_node_knows_of_the_cluster() {
        let mut s = RunState::load("../not-saved");
        s.set(&Key::MembersCrmNode, "n1 n2");
        s.set(&Key::Score(Some("n2".into())), "1000");
        s.clear_except(Key::is_membership);
        assert_eq!(s.get(&Key::MembersCrmNode), Some("n1 n2"));
        assert_eq!(s.get(&Key::Score(Some("n2".into()))), None);
    }

    /// The durable keys go to their own file, synced; the others stay in
    /// /run; loading reads both; a durable key an older version left in
    /// /run moves.
    #[test]
    fn durable_keys_are_kept_apart_and_read_back_as_one_memory() {
        let dir = std::env::temp_dir().join(format!("pgha-durable-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (run, kept) = (dir.join("run/r.state"), dir.join("lib/r.state"));
        fs::create_dir_all(run.parent().unwrap()).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(run.parent().unwrap(), fs::Permissions::from_mode(0o700)).unwrap();
        // An older version's /run file, holding the demote.
        fs::write(&run, "demoted.primary\t1\t100\nreceiver.down\t1\t200\n").unwrap();
        let load = || RunState::load_split(run.clone(), kept.clone());
        let mut s = load();
        assert!(s.flag(&Key::DemotedPrimary));
        s.save();
        let text = |p: &Path| fs::read_to_string(p).unwrap();
        assert_eq!(text(&run), "receiver.down\t1\t200\n");
        assert_eq!(text(&kept), "demoted.primary\t1\t100\n");
        assert_eq!(
            fs::metadata(kept.parent().unwrap()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // A reboot empties /run: the demote is still remembered.
        fs::remove_file(&run).unwrap();
        let mut s = load();
        assert!(s.flag(&Key::DemotedPrimary));
        assert_eq!(s.get(&Key::ReceiverDown), None);
        s.set_flag(&Key::ReceiverDown, true);
        s.save();
        assert_eq!(text(&kept), "demoted.primary\t1\t100\n", "untouched");
        s.clear_except(Key::is_membership);
        s.save();
        assert_eq!(text(&kept), "");
        assert_eq!(text(&run), "");
        let _ = fs::remove_dir_all(dir);
    }

    /// An exclusive lock shuts out every other taker until it is dropped,
    /// and a waiter is told who holds it; shared takers share.
    #[test]
    fn the_lock_is_exclusive_until_dropped_and_names_its_holder() {
        let dir = std::env::temp_dir().join(format!("pgha-lock-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let path = dir.join("r.lock");
        let soon = || Deadline::after(Duration::from_millis(120));
        let held = lock_path(&path, true, "start", soon()).unwrap();
        for exclusive in [true, false] {
            match lock_path(&path, exclusive, "stop", soon()) {
                Err(LockRefused::Held(who)) => {
                    assert_eq!(who, format!("pid {} (start)", std::process::id()))
                }
                other => panic!("taken beside an exclusive holder: {:?}", other.map(|_| ())),
            }
        }
        drop(held);
        let first = lock_path(&path, false, "monitor", soon()).unwrap();
        let second = lock_path(&path, false, "monitor", soon()).unwrap();
        assert!(
            lock_path(&path, true, "stop", soon()).is_err(),
            "shared holders shut out a writer"
        );
        drop((first, second));
        assert!(lock_path(&path, true, "stop", soon()).is_ok());
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn no_file_is_named_after_an_invalid_resource() {
        assert_eq!(agent_file("../../tmp/x", AgentFile::State), None);
        assert_eq!(agent_file("/etc/x", AgentFile::State), None);
        assert_eq!(
            agent_file("pgsqld", AgentFile::State),
            Some(PathBuf::from("/run/pgha/pgsqld.state"))
        );
        assert_eq!(
            agent_file("pgsqld", AgentFile::Election),
            Some(PathBuf::from("/run/pgha/pgsqld.election"))
        );
        assert_eq!(
            agent_file("pgsqld", AgentFile::Durable),
            Some(PathBuf::from("/var/lib/pgha/pgsqld.state"))
        );
        assert_eq!(agent_file("../x", AgentFile::Durable), None);
        let mut s = RunState::load("../../tmp/pgha-escape");
        s.set(&Key::StopForced, "1764720000.123456789");
        s.save();
        assert!(!Path::new("/tmp/pgha-escape.state").exists());
    }
}
