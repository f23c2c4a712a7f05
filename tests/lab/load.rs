//! The cluster lab's write-load client.
//!
//! Inserts rows with a unique id at a fixed rate through one address (the
//! lab's VIP) and logs every attempt as one JSON line:
//! `{"id":N,"start_ms":T0,"end_ms":T1,"latency_us":L,"outcome":"committed|failed|unknown","error":"..."}`,
//! where `latency_us` is the attempt's duration on a monotonic clock (the
//! write latency of a committed row: connect when needed, INSERT, commit).
//!
//! Outcomes:
//! - `committed`: the server acknowledged the autocommit INSERT;
//! - `failed`: nothing was sent (connect failed or timed out), or the server
//!   answered with an error, so the row cannot have been committed;
//! - `unknown`: the INSERT was sent and then the attempt timed out or the
//!   connection was lost: the row may or may not be there.
//!
//! Why a worker thread: the sync `postgres` client cannot bound a request to
//! a frozen (SIGSTOPped) server, which still accepts TCP connections into the
//! kernel backlog and never answers. Each attempt therefore runs on a worker
//! thread that owns the connection; the main thread waits on a channel with
//! `recv_timeout`. On timeout the worker and its connection are abandoned
//! (neither joined nor dropped: dropping a client blocked on a dead server
//! blocks), and the next attempt starts a new worker and connection.
//!
//! Every setting but the first id and the output comes from the caller
//! (tests/lab/scenario, tests/bench/write-latency), which reads the lab's
//! values from tests/lab/lab.conf: no default here can drift from the lab.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Parser;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Write load through the lab VIP; one JSON line per attempt")]
struct Args {
    /// Server address (the lab's VIP).
    #[arg(long)]
    host: String,
    #[arg(long)]
    port: u16,
    #[arg(long)]
    user: String,
    /// Password of --user (the lab's is not a secret: the network is private).
    #[arg(long)]
    password: String,
    #[arg(long)]
    dbname: String,
    /// Table with a unique `id bigint` column.
    #[arg(long)]
    table: String,
    /// Inserts per second.
    #[arg(long)]
    rate: u32,
    /// How long to run, in seconds.
    #[arg(long)]
    duration: u64,
    /// Client-side bound of one attempt (connect + insert), in milliseconds.
    #[arg(long)]
    timeout_ms: u64,
    /// First id; ids then increase by one per attempt. Default: the Unix
    /// time in seconds times one million, so that successive runs against
    /// the same table do not collide (a run would need a million attempts
    /// per second of wall-clock time to reach the next run's first id).
    #[arg(long)]
    first_id: Option<i64>,
    /// Where to write the JSON lines (default: stdout).
    #[arg(long)]
    out: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    Committed,
    Failed,
    Unknown,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Committed => "committed",
            Outcome::Failed => "failed",
            Outcome::Unknown => "unknown",
        }
    }
}

/// What a worker reports about one attempt.
enum Report {
    /// The INSERT is about to be written to the socket: from now on a lost
    /// answer means an unknown outcome.
    Sent,
    Done(Outcome, String),
}

/// A worker thread owning (at most) one connection.
struct Worker {
    jobs: Sender<i64>,
    reports: Receiver<Report>,
}

impl Worker {
    fn spawn(config: postgres::Config, insert: String) -> Worker {
        let (jobs, job_rx) = mpsc::channel::<i64>();
        let (report_tx, reports) = mpsc::channel::<Report>();
        thread::spawn(move || {
            let mut client: Option<postgres::Client> = None;
            for id in job_rx {
                if client.is_none() {
                    match config.connect(postgres::NoTls) {
                        Ok(c) => client = Some(c),
                        Err(e) => {
                            let _ = report_tx.send(Report::Done(
                                Outcome::Failed,
                                format!("connect: {}", describe(&e)),
                            ));
                            continue;
                        }
                    }
                }
                let c = client.as_mut().expect("connected above");
                let _ = report_tx.send(Report::Sent);
                let (outcome, error) = match c.execute(insert.as_str(), &[&id]) {
                    Ok(_) => (Outcome::Committed, String::new()),
                    // An error answer to an autocommit statement: not committed.
                    Err(e) if e.as_db_error().is_some() => (Outcome::Failed, describe(&e)),
                    Err(e) => (Outcome::Unknown, describe(&e)),
                };
                if c.is_closed() || outcome == Outcome::Unknown {
                    client = None;
                }
                if report_tx.send(Report::Done(outcome, error)).is_err() {
                    return;
                }
            }
        });
        Worker { jobs, reports }
    }
}

/// The error with its causes (postgres::Error's Display says only "db error").
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.code().code(), db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// Table names are identifiers, never pasted unchecked into SQL.
fn checked_identifier(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && name.len() < 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    anyhow::ensure!(ok, "table name {name:?} must match [a-z_][a-z0-9_]*");
    Ok(name)
}

fn main() -> Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.rate > 0, "--rate must be positive");
    let table = checked_identifier(&args.table)?;
    let insert = format!("INSERT INTO {table} (id) VALUES ($1)");
    let timeout = Duration::from_millis(args.timeout_ms);

    let mut config = postgres::Config::new();
    config
        .host(&args.host)
        .port(args.port)
        .user(&args.user)
        .password(&args.password)
        .dbname(&args.dbname)
        .application_name("lab-load")
        .connect_timeout(timeout)
        .options(&format!("-c statement_timeout={}", args.timeout_ms.max(1000)));

    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("creating {path}"))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout())),
    };

    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let begin = Instant::now();
    let end = begin + Duration::from_secs(args.duration);
    let mut next = begin;
    let mut worker = Worker::spawn(config.clone(), insert.clone());
    let mut id = args
        .first_id
        .unwrap_or_else(|| (now_ms() / 1000) as i64 * 1_000_000);
    let (mut committed, mut failed, mut unknown) = (0u64, 0u64, 0u64);

    while Instant::now() < end {
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        }
        let start = Instant::now();
        let start_ms = now_ms();
        let mut sent = false;
        let result = if worker.jobs.send(id).is_err() {
            Err("worker gone".to_string())
        } else {
            let deadline = start + timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match worker.reports.recv_timeout(left) {
                    Ok(Report::Sent) => sent = true,
                    Ok(Report::Done(outcome, error)) => break Ok((outcome, error)),
                    Err(RecvTimeoutError::Timeout) => {
                        break Err(format!("client timeout after {} ms", args.timeout_ms));
                    }
                    Err(RecvTimeoutError::Disconnected) => break Err("worker gone".to_string()),
                }
            }
        };
        let (outcome, error) = match result {
            Ok(r) => r,
            Err(why) => {
                // Abandon this worker and its connection; start afresh.
                worker = Worker::spawn(config.clone(), insert.clone());
                (if sent { Outcome::Unknown } else { Outcome::Failed }, why)
            }
        };
        match outcome {
            Outcome::Committed => committed += 1,
            Outcome::Failed => failed += 1,
            Outcome::Unknown => unknown += 1,
        }
        // One line per attempt, keys in the order the module doc gives
        // (serde_json's preserve_order); tests/lab/scenario reads them by name.
        let line = json!({
            "id": id,
            "start_ms": start_ms,
            "end_ms": now_ms(),
            "latency_us": start.elapsed().as_micros(),
            "outcome": outcome.as_str(),
            "error": error,
        });
        writeln!(out, "{line}")?;
        out.flush()?;
        id += 1;
        // Keep the rate, but never burst to catch up after a slow attempt.
        next += interval;
        let now = Instant::now();
        if next + interval < now {
            next = now;
        }
    }
    eprintln!(
        "lab-load: {committed} committed, {failed} failed, {unknown} unknown, last id {}",
        id - 1
    );
    Ok(())
}
