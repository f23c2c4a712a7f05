//! `pgha alert`: a Pacemaker alert agent that records role changes.
//!
//! Pacemaker runs an alert agent (as `hacluster`, with no arguments) for
//! each cluster event and each recipient, and describes the event in
//! `CRM_alert_*` variables (Pacemaker Explained, "Alert agents"). The
//! packages install `/usr/share/pgha/alert_pgha`, which runs `pgha alert`.
//!
//! What it reports: a resource's start, stop, promote and demote (success
//! or failure), any other operation that failed (a monitor that found the
//! primary gone is why a promotion follows), a node that joins or is lost,
//! and fencing. Successful monitors, notifications and attribute changes
//! are ignored. Each report is one line, logged to syslog (facility
//! `HA_LOGFACILITY`, `daemon` by default) and, by recipient
//! (`CRM_alert_recipient`):
//! - none: syslog only;
//! - an absolute path: the line is appended to that file (created 0640;
//!   a symlink or anything but a regular file is refused);
//! - a mail address: mailed through `sendmail` when one is installed
//!   (none: the line says the mail was not sent).
//!
//! Everything in these variables may come from the CIB (node names,
//! resource ids, the timestamp's format, the recipient): none of it is
//! interpreted, run, or pasted into a command line; control characters are
//! replaced before a value reaches a log line or a mail header.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::deadline::Deadline;
use crate::exec;
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::ocf::env::OcfEnv;
use crate::ocf::log::{self, Level};

/// Where the report goes besides syslog (`CRM_alert_recipient`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// None configured.
    Syslog,
    /// An absolute path: a line appended.
    File(PathBuf),
    /// A mail address: a mail through sendmail.
    Mail(String),
}

impl Recipient {
    /// Reads `CRM_alert_recipient`; ERR_CONFIGURED for a value that is
    /// neither an absolute path nor a plain address.
    pub fn parse(value: Option<&str>) -> OcfResult<Recipient> {
        let value = value.map(str::trim).unwrap_or_default();
        if value.is_empty() {
            Ok(Recipient::Syslog)
        } else if value.starts_with('/') {
            Ok(Recipient::File(PathBuf::from(value)))
        } else if is_mail_address(value) {
            Ok(Recipient::Mail(value.to_string()))
        } else {
            Err(OcfError::configured(format!(
                "alert recipient '{}' is neither an absolute file path nor a mail address",
                printable(value)
            )))
        }
    }
}

/// `local@domain`, nothing sendmail could read as an option or a second
/// address: no blank, no control character, no leading `-`, no comma,
/// quote or angle bracket, one `@` with something on each side.
fn is_mail_address(value: &str) -> bool {
    let plain = value
        .chars()
        .all(|c| !c.is_whitespace() && !c.is_control() && !"<>,;\"'()\\".contains(c));
    let mut parts = value.split('@');
    let (local, domain) = (parts.next(), parts.next());
    plain
        && !value.starts_with('-')
        && parts.next().is_none()
        && local.is_some_and(|l| !l.is_empty())
        && domain.is_some_and(|d| !d.is_empty())
}

/// `text` with every control character (line breaks included) a space:
/// what may go into one log line or one mail header.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The event, as the `CRM_alert_*` variables describe it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// `CRM_alert_kind`: resource, node, fencing, attribute.
    pub kind: String,
    /// `CRM_alert_node`: the node it happened on (or to).
    pub node: String,
    /// `CRM_alert_rsc`.
    pub rsc: Option<String>,
    /// `CRM_alert_task`: the operation (start, promote, monitor...).
    pub task: Option<String>,
    /// `CRM_alert_interval`, milliseconds: 0 for a one-time operation.
    pub interval_ms: u64,
    /// `CRM_alert_rc`: the operation's exit code.
    pub rc: Option<i32>,
    /// `CRM_alert_target_rc`: the code Pacemaker expected.
    pub target_rc: Option<i32>,
    /// `CRM_alert_desc`: Pacemaker's words for the outcome.
    pub desc: Option<String>,
    /// `CRM_alert_timestamp`, in the alert's `timestamp-format`.
    pub timestamp: Option<String>,
}

impl Event {
    /// Reads the event from the `CRM_alert_*` variables (names without
    /// the prefix, [`OcfEnv::alert`]).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Event {
        let text = |name: &str| {
            vars.get(name)
                .map(|v| printable(v.trim()))
                .filter(|v| !v.is_empty())
        };
        let code = |name: &str| text(name).and_then(|v| v.parse::<i32>().ok());
        Event {
            kind: text("kind").unwrap_or_default(),
            node: text("node").unwrap_or_else(|| "?".into()),
            rsc: text("rsc"),
            task: text("task"),
            interval_ms: text("interval").and_then(|v| v.parse().ok()).unwrap_or(0),
            rc: code("rc"),
            target_rc: code("target_rc"),
            desc: text("desc"),
            timestamp: text("timestamp"),
        }
    }

    /// Whether the operation gave the code Pacemaker expected (a missing
    /// target is read as success expected).
    fn succeeded(&self) -> bool {
        self.rc.is_some_and(|rc| rc == self.target_rc.unwrap_or(0))
    }

    /// The report of this event, or None when it is not one to report.
    pub fn report(&self) -> Option<Report> {
        match self.kind.as_str() {
            "resource" => self.resource_report(),
            "node" => Some(Report {
                level: Level::Info,
                line: format!(
                    "node {} is {}",
                    self.node,
                    self.desc.as_deref().unwrap_or("in an unknown state")
                ),
            }),
            "fencing" => Some(Report {
                level: if self.rc == Some(0) {
                    Level::Info
                } else {
                    Level::Warn
                },
                line: format!(
                    "fencing of {}: {}{}",
                    self.node,
                    self.desc.as_deref().unwrap_or("no description"),
                    self.rc.map(|rc| format!(" (rc {rc})")).unwrap_or_default()
                ),
            }),
            _ => None,
        }
    }

    fn resource_report(&self) -> Option<Report> {
        let task = self.task.as_deref()?;
        let rsc = self.rsc.as_deref().unwrap_or("?");
        let role_change = self.interval_ms == 0 && ROLE_CHANGES.iter().any(|(t, _)| *t == task);
        if self.succeeded() {
            let (_, done) = ROLE_CHANGES
                .iter()
                .find(|(t, _)| *t == task)
                .filter(|_| role_change)?;
            return Some(Report {
                level: Level::Info,
                line: format!("{rsc} {done} on {}", self.node),
            });
        }
        let rc = self
            .rc
            .map(|rc| format!("rc {rc} ({})", code_name(rc)))
            .unwrap_or_else(|| "no rc".into());
        let expected = self
            .target_rc
            .map(|t| format!(", expected {t} ({})", code_name(t)))
            .unwrap_or_default();
        let desc = self.desc.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
        Some(Report {
            level: Level::Warn,
            line: format!("{rsc} {task} failed on {}: {rc}{expected}{desc}", self.node),
        })
    }
}

/// The operations that change a resource's role, and how a success reads.
const ROLE_CHANGES: [(&str, &str); 4] = [
    ("start", "started"),
    ("stop", "stopped"),
    ("promote", "promoted (now the primary)"),
    ("demote", "demoted (now a standby)"),
];

/// `OCF_ERR_GENERIC` for 1; Pacemaker's own codes (its internal ones
/// above 191) have no OCF name.
fn code_name(rc: i32) -> &'static str {
    OcfCode::ALL
        .into_iter()
        .find(|c| c.as_i32() == rc)
        .map(OcfCode::name)
        .unwrap_or("not an OCF code")
}

/// One line to record, and how loud.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub level: Level,
    pub line: String,
}

/// `pgha alert` takes no argument: Pacemaker passes none, the event is in
/// the environment. Declared for clap and pgha(8) all the same.
#[derive(clap::Args, Debug, Default)]
pub struct AlertArgs {}

/// Pacemaker's default alert timeout is 30 s; the mail is given less.
const ALERT_BUDGET: Duration = Duration::from_secs(25);

/// Runs `pgha alert` with the environment Pacemaker gave it.
pub fn run(env: &OcfEnv) -> OcfResult<()> {
    let event = Event::from_vars(&env.alert);
    let recipient = Recipient::parse(env.alert.get("recipient").map(String::as_str))?;
    let mut log_env = env.clone();
    log_env.instance = event.rsc.clone();
    log_env.log_facility = env.log_facility.clone().or_else(|| Some("daemon".into()));
    log::init(&log_env);
    let Some(report) = event.report() else {
        return Ok(());
    };
    log::write(report.level, format_args!("alert: {}", report.line));
    match recipient {
        Recipient::Syslog => Ok(()),
        Recipient::File(path) => append_line(&path, &event, &report),
        Recipient::Mail(address) => mail(env, &address, &event, &report),
    }
}

/// Appends `<timestamp> <line>` to `path`, created 0640 if missing; a
/// symlink (O_NOFOLLOW) or anything but a regular file is refused, and a
/// FIFO never blocks the open (O_NONBLOCK).
fn append_line(path: &Path, event: &Event, report: &Report) -> OcfResult<()> {
    let failed =
        |e: std::io::Error| OcfError::generic(format!("alert: cannot append to {}: {e}", path.display()));
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(failed)?;
    if !file.metadata().map_err(failed)?.is_file() {
        return Err(OcfError::configured(format!(
            "alert recipient {} is not a regular file",
            path.display()
        )));
    }
    let stamp = event.timestamp.as_deref().unwrap_or("-");
    writeln!(file, "{stamp} {}", report.line).map_err(failed)
}

/// The first `sendmail` of `PATH`, `/usr/sbin`, `/usr/lib`.
fn find_sendmail(path_var: Option<&str>) -> Option<PathBuf> {
    path_var
        .unwrap_or_default()
        .split(':')
        .filter(|d| d.starts_with('/'))
        .chain(["/usr/sbin", "/usr/lib"])
        .map(|dir| Path::new(dir).join("sendmail"))
        .find(|p| nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok())
}

/// The mail of `report` to `address`: its headers hold only printable
/// ASCII (no line break can add a header), the details in the body.
pub fn mail_text(address: &str, event: &Event, report: &Report) -> String {
    let subject: String = format!("pgha: {}", report.line)
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
        .take(200)
        .collect();
    let mut body = format!("{}\n\n", report.line);
    let details = [
        ("kind", Some(event.kind.clone())),
        ("node", Some(event.node.clone())),
        ("resource", event.rsc.clone()),
        ("operation", event.task.clone()),
        ("rc", event.rc.map(|rc| rc.to_string())),
        ("expected rc", event.target_rc.map(|rc| rc.to_string())),
        ("description", event.desc.clone()),
        ("time", event.timestamp.clone()),
    ];
    for (name, value) in details {
        if let Some(value) = value {
            body.push_str(&format!("{name}: {value}\n"));
        }
    }
    format!(
        "To: {address}\nSubject: {subject}\nAuto-Submitted: auto-generated\n\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n{body}"
    )
}

/// Mails the report through sendmail when there is one.
fn mail(env: &OcfEnv, address: &str, event: &Event, report: &Report) -> OcfResult<()> {
    let Some(sendmail) = find_sendmail(env.path.as_deref()) else {
        log::write(
            Level::Info,
            format_args!("alert: no sendmail here: no mail to {address}"),
        );
        return Ok(());
    };
    let text = mail_text(address, event, report);
    // -oi: a line of a single dot does not end the mail. The address was
    // checked (is_mail_address): it cannot be read as an option.
    let out = exec::run_with_input(
        &sendmail,
        &["-oi", address],
        text.as_bytes(),
        Deadline::after(ALERT_BUDGET),
    )?;
    if out.success() {
        Ok(())
    } else {
        Err(OcfError::generic(format!(
            "alert: {} could not send the mail to {address}: {}",
            sendmail.display(),
            out.last_message()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn resource(task: &str, interval: &str, rc: &str, target: &str) -> Event {
        Event::from_vars(&vars(&[
            ("kind", "resource"),
            ("node", "node-b"),
            ("rsc", "pgsqld"),
            ("task", task),
            ("interval", interval),
            ("rc", rc),
            ("target_rc", target),
            ("desc", "ok"),
        ]))
    }

    #[test]
    fn every_crm_alert_variable_is_read_into_its_field() {
        let env = OcfEnv::from_vars(
            [
                ("CRM_alert_kind", "resource"),
                ("CRM_alert_node", " node-b "),
                ("CRM_alert_rsc", "pgsqld"),
                ("CRM_alert_task", "promote"),
                ("CRM_alert_interval", "0"),
                ("CRM_alert_rc", "0"),
                ("CRM_alert_target_rc", "0"),
                ("CRM_alert_desc", "ok"),
                ("CRM_alert_timestamp", "2026-12-03 19:00:00.123"),
                ("CRM_alert_recipient", "/var/log/pgha-alerts.log"),
                ("OCF_RESKEY_pgdata", "/not/an/alert"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let event = Event::from_vars(&env.alert);
        assert_eq!(
            event,
            Event {
                kind: "resource".into(),
                node: "node-b".into(),
                rsc: Some("pgsqld".into()),
                task: Some("promote".into()),
                interval_ms: 0,
                rc: Some(0),
                target_rc: Some(0),
                desc: Some("ok".into()),
                timestamp: Some("2026-12-03 19:00:00.123".into()),
            }
        );
        assert!(!env.alert.contains_key("pgdata"));
        assert_eq!(
            Recipient::parse(env.alert.get("recipient").map(String::as_str)).unwrap(),
            Recipient::File("/var/log/pgha-alerts.log".into())
        );
    }

    /// (task, interval, rc, target rc, the line or None).
    #[test]
    fn role_changes_and_failures_are_reported_and_nothing_else() {
        let table: [(&str, &str, &str, &str, Option<&str>); 8] = [
            (
                "promote",
                "0",
                "0",
                "0",
                Some("pgsqld promoted (now the primary) on node-b"),
            ),
            (
                "demote",
                "0",
                "0",
                "0",
                Some("pgsqld demoted (now a standby) on node-b"),
            ),
            ("start", "0", "0", "0", Some("pgsqld started on node-b")),
            ("stop", "0", "0", "0", Some("pgsqld stopped on node-b")),
            (
                "promote",
                "0",
                "1",
                "0",
                Some("pgsqld promote failed on node-b: rc 1 (OCF_ERR_GENERIC), expected 0 (OCF_SUCCESS): ok"),
            ),
            (
                "monitor",
                "15000",
                "7",
                "8",
                Some(
                    "pgsqld monitor failed on node-b: rc 7 (OCF_NOT_RUNNING), expected 8 (OCF_RUNNING_PROMOTED): ok",
                ),
            ),
            ("monitor", "15000", "8", "8", None),
            ("notify", "0", "0", "0", None),
        ];
        for (task, interval, rc, target, line) in table {
            let report = resource(task, interval, rc, target).report();
            assert_eq!(report.as_ref().map(|r| r.line.as_str()), line, "{task} rc {rc}");
            if let Some(report) = report {
                let failed = rc != target;
                assert_eq!(
                    report.level,
                    if failed { Level::Warn } else { Level::Info },
                    "{task}"
                );
            }
        }
        let node = Event::from_vars(&vars(&[("kind", "node"), ("node", "node-c"), ("desc", "lost")]));
        assert_eq!(node.report().unwrap().line, "node node-c is lost");
        let attribute = Event::from_vars(&vars(&[("kind", "attribute"), ("node", "node-c")]));
        assert_eq!(attribute.report(), None);
    }

    /// Names and descriptions come from the CIB: a line break cannot make
    /// a second log line or a second mail header.
    #[test]
    fn values_cannot_break_a_line_or_add_a_header() {
        let event = Event::from_vars(&vars(&[
            ("kind", "resource"),
            ("node", "n\nBcc: victim@example.org"),
            ("rsc", "pgsqld"),
            ("task", "start"),
            ("rc", "1"),
            ("target_rc", "0"),
            ("desc", "bad\r\nthing"),
        ]));
        let report = event.report().unwrap();
        assert!(
            !report.line.contains('\n') && !report.line.contains('\r'),
            "{report:?}"
        );
        let mail = mail_text("ops@example.org", &event, &report);
        let headers = mail.split("\n\n").next().unwrap();
        assert_eq!(
            headers
                .lines()
                .map(|l| l.split(':').next().unwrap())
                .collect::<Vec<_>>(),
            ["To", "Subject", "Auto-Submitted", "MIME-Version", "Content-Type"],
            "{mail}"
        );
        assert!(mail.contains("\nnode: n Bcc: victim@example.org\n"), "{mail}");
    }

    #[test]
    fn a_recipient_is_a_path_an_address_or_nothing() {
        assert_eq!(Recipient::parse(None).unwrap(), Recipient::Syslog);
        assert_eq!(Recipient::parse(Some(" ")).unwrap(), Recipient::Syslog);
        assert_eq!(
            Recipient::parse(Some("ops@example.org")).unwrap(),
            Recipient::Mail("ops@example.org".into())
        );
        for bad in [
            "-oQ/tmp@x",
            "a@b@c",
            "ops@example.org, other@example.org",
            "ops",
            "relative/path",
            "@example.org",
            "ops@",
            "a\n@b",
        ] {
            let e = Recipient::parse(Some(bad)).unwrap_err();
            assert_eq!(e.code, OcfCode::ErrConfigured, "{bad}");
            assert!(!e.reason.contains('\n'), "{bad}");
        }
    }

    #[test]
    fn sendmail_is_found_on_path_first() {
        let dir = std::env::temp_dir().join(format!("pgha-sendmail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tool = dir.join("sendmail");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("relative:{}", dir.display());
        assert_eq!(find_sendmail(Some(&path)), Some(tool));
        let _ = std::fs::remove_dir_all(dir);
    }
}
