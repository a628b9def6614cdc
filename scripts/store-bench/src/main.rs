//! store-bench: durable commits of the inbox's shape on three embedded stores (SQLite through
//! rusqlite in WAL mode with `synchronous=FULL`, redb with `Durability::Immediate`, fjall with a
//! write batch persisted by `PersistMode::SyncAll` / `SyncData`). See README.md.
//!
//! Usage: store-bench [--runs N] [--dir PATH] [--stores a,b] [--modes a,b] [--scale X]
//!                    [--quiet-below LOAD] [--no-strace]
//!   stores: baseline (no store: write into a preallocated file + fdatasync), sqlite, redb, fjall, fjall-data   modes: single, batch16, batch64, cycle64
//!   --scale X multiplies the number of commits of every mode (default 1: single = 2,000 commits,
//!   the batch modes 200 commits each); the strace pass uses the same numbers.
//!   --quiet-below LOAD waits before each run until the 1-minute load average is below LOAD (the
//!   machine is shared; at most 30 minutes a run).
//!
//! Every timed run works in a fresh directory under --dir (default /tmp), calls sync(1) before it
//! starts, and does a short untimed warm-up on the same database. The syncs per commit come from a
//! separate, smaller run of the same binary under strace (`--child`), not from the timed runs.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Operations of one transaction.
enum Op {
    /// Event record under its sequence number.
    PutEvent(u64, Vec<u8>),
    /// Dedup key (17 bytes) → expiry in ms.
    PutKey([u8; 17], u64),
    /// The worker completed the event.
    DelEvent(u64),
}

trait Store {
    /// Applies the operations in one transaction that is on disk when this returns.
    fn commit(&mut self, ops: &[Op]);
}

// ---------------------------------------------------------------------------------------------
// Baseline, not a store: write the operations at the end of the log in a file whose blocks were
// written (zeros) beforehand, then fdatasync it: a data-only sync, what the disk allows. (Plain
// appends, which grow the file, make each fdatasync also commit the file system's journal.)

const PREALLOC: u64 = 64 << 20;

struct Baseline {
    file: fs::File,
    buf: Vec<u8>,
    end: u64,
    capacity: u64,
}

impl Baseline {
    fn open(dir: &Path) -> Baseline {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(dir.join("log"))
            .unwrap();
        let mut b = Baseline {
            file,
            buf: Vec::new(),
            end: 0,
            capacity: 0,
        };
        b.grow();
        b
    }

    fn grow(&mut self) {
        use std::os::unix::fs::FileExt;
        let zeros = vec![0u8; 1 << 20];
        for i in 0..PREALLOC >> 20 {
            self.file
                .write_all_at(&zeros, self.capacity + (i << 20))
                .unwrap();
        }
        self.capacity += PREALLOC;
        self.file.sync_all().unwrap();
    }
}

impl Store for Baseline {
    fn commit(&mut self, ops: &[Op]) {
        use std::os::unix::fs::FileExt;
        self.buf.clear();
        for op in ops {
            match op {
                Op::PutEvent(seq, rec) => {
                    self.buf.push(1);
                    self.buf.extend_from_slice(&seq.to_le_bytes());
                    self.buf
                        .extend_from_slice(&(rec.len() as u32).to_le_bytes());
                    self.buf.extend_from_slice(rec);
                }
                Op::PutKey(k, until) => {
                    self.buf.push(2);
                    self.buf.extend_from_slice(k);
                    self.buf.extend_from_slice(&until.to_le_bytes());
                }
                Op::DelEvent(seq) => {
                    self.buf.push(3);
                    self.buf.extend_from_slice(&seq.to_le_bytes());
                }
            }
        }
        if self.end + self.buf.len() as u64 > self.capacity {
            self.grow();
        }
        self.file.write_all_at(&self.buf, self.end).unwrap();
        self.end += self.buf.len() as u64;
        self.file.sync_data().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite (rusqlite, bundled): WAL, synchronous=FULL, one BEGIN IMMEDIATE … COMMIT per commit.

struct Sqlite {
    conn: rusqlite::Connection,
}

impl Sqlite {
    fn open(dir: &Path) -> Sqlite {
        let conn = rusqlite::Connection::open(dir.join("inbox.sqlite")).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch(
            "PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, rec BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS keys(k BLOB PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID;",
        )
        .unwrap();
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        Sqlite { conn }
    }
}

impl Store for Sqlite {
    fn commit(&mut self, ops: &[Op]) {
        let txn = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        {
            for op in ops {
                match op {
                    Op::PutEvent(seq, rec) => {
                        txn.prepare_cached("INSERT INTO events(seq, rec) VALUES (?1, ?2)")
                            .unwrap()
                            .execute(rusqlite::params![*seq as i64, rec])
                            .unwrap();
                    }
                    Op::PutKey(k, until) => {
                        txn.prepare_cached("INSERT OR REPLACE INTO keys(k, until) VALUES (?1, ?2)")
                            .unwrap()
                            .execute(rusqlite::params![&k[..], *until as i64])
                            .unwrap();
                    }
                    Op::DelEvent(seq) => {
                        txn.prepare_cached("DELETE FROM events WHERE seq = ?1")
                            .unwrap()
                            .execute(rusqlite::params![*seq as i64])
                            .unwrap();
                    }
                }
            }
        }
        txn.commit().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// redb 2.6: one write transaction per commit, Durability::Immediate (as src/inbox/embedded.rs).

const EVENTS: redb::TableDefinition<'_, u64, &[u8]> = redb::TableDefinition::new("events");
const KEYS: redb::TableDefinition<'_, &[u8], u64> = redb::TableDefinition::new("keys");

struct Redb {
    db: redb::Database,
}

impl Redb {
    fn open(dir: &Path) -> Redb {
        let db = redb::Database::create(dir.join("inbox.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(EVENTS).unwrap();
        txn.open_table(KEYS).unwrap();
        txn.commit().unwrap();
        Redb { db }
    }
}

impl Store for Redb {
    fn commit(&mut self, ops: &[Op]) {
        let mut txn = self.db.begin_write().unwrap();
        txn.set_durability(redb::Durability::Immediate);
        {
            let mut events = txn.open_table(EVENTS).unwrap();
            let mut keys = txn.open_table(KEYS).unwrap();
            for op in ops {
                match op {
                    Op::PutEvent(seq, rec) => {
                        events.insert(*seq, rec.as_slice()).unwrap();
                    }
                    Op::PutKey(k, until) => {
                        keys.insert(&k[..], *until).unwrap();
                    }
                    Op::DelEvent(seq) => {
                        events.remove(*seq).unwrap();
                    }
                }
            }
        }
        txn.commit().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// fjall 2.x: one keyspace, two partitions, one write batch per commit with durability set, so
// `Batch::commit` writes the batch to the journal and persists it (fsync or fdatasync) before it
// returns. Everything else at its defaults (no fsync_ms thread; flush and compaction workers).

struct Fjall {
    keyspace: fjall::Keyspace,
    events: fjall::PartitionHandle,
    keys: fjall::PartitionHandle,
    mode: fjall::PersistMode,
}

impl Fjall {
    fn open(dir: &Path, mode: fjall::PersistMode) -> Fjall {
        let keyspace = fjall::Config::new(dir.join("inbox.fjall")).open().unwrap();
        let events = keyspace
            .open_partition("events", fjall::PartitionCreateOptions::default())
            .unwrap();
        let keys = keyspace
            .open_partition("keys", fjall::PartitionCreateOptions::default())
            .unwrap();
        keyspace.persist(fjall::PersistMode::SyncAll).unwrap();
        Fjall {
            keyspace,
            events,
            keys,
            mode,
        }
    }
}

impl Store for Fjall {
    fn commit(&mut self, ops: &[Op]) {
        let mut batch = self.keyspace.batch().durability(Some(self.mode));
        for op in ops {
            match op {
                Op::PutEvent(seq, rec) => {
                    batch.insert(&self.events, seq.to_be_bytes(), rec.as_slice())
                }
                Op::PutKey(k, until) => batch.insert(&self.keys, &k[..], until.to_be_bytes()),
                Op::DelEvent(seq) => batch.remove(&self.events, seq.to_be_bytes()),
            }
        }
        batch.commit().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------

const STORES: [&str; 5] = ["baseline", "sqlite", "redb", "fjall", "fjall-data"];
const MODES: [&str; 4] = ["single", "batch16", "batch64", "cycle64"];

fn open(store: &str, dir: &Path) -> Box<dyn Store> {
    match store {
        "baseline" => Box::new(Baseline::open(dir)),
        "sqlite" => Box::new(Sqlite::open(dir)),
        "redb" => Box::new(Redb::open(dir)),
        "fjall" => Box::new(Fjall::open(dir, fjall::PersistMode::SyncAll)),
        "fjall-data" => Box::new(Fjall::open(dir, fjall::PersistMode::SyncData)),
        _ => panic!("unknown store {store}"),
    }
}

fn store_label(store: &str) -> &'static str {
    match store {
        "baseline" => "baseline: pwrite (prealloc) + fdatasync",
        "sqlite" => "sqlite (rusqlite, WAL, sync=FULL)",
        "redb" => "redb (Durability::Immediate)",
        "fjall" => "fjall (batch, PersistMode::SyncAll)",
        "fjall-data" => "fjall (batch, PersistMode::SyncData)",
        _ => "?",
    }
}

/// Events per commit and the number of timed commits of a mode (times `--scale`).
fn shape(mode: &str) -> (usize, usize) {
    let (per, commits) = match mode {
        "single" => (1, 2000),
        "batch16" => (16, 200),
        "batch64" => (64, 200),
        "cycle64" => (64, 200),
        _ => panic!("unknown mode {mode}"),
    };
    let scale: f64 = env::var("STORE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    (per, ((commits as f64 * scale).round() as usize).max(1))
}

/// splitmix64: a 64-bit mix, for hash-like dedup keys.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A record of about 350 bytes (357 here): a small header (version, received-at, attempts, dedup TTL, command,
/// room) and a Room.CallbackAfterMemberLeave body as Tencent sends it.
fn record(seq: u64) -> Vec<u8> {
    let room = format!("room-{:06}", seq % 997);
    let body = format!(
        concat!(
            r#"{{"CallbackCommand":"Room.CallbackAfterMemberLeave","EventTime":{},"RoomId":"{}","#,
            r#""MemberList_Account":["user_{:08}"],"Reason":"Leave","Operator_Account":"user_{:08}","#,
            r#""LeaveTime":{},"Sequence":{},"ClientIP":"203.0.113.7","OptPlatform":"iOS","SdkAppId":1400123456}}"#
        ),
        1_764_400_000_000u64 + seq,
        room,
        mix(seq) % 100_000_000,
        mix(seq) % 100_000_000,
        1_764_400_000u64 + seq / 1000,
        seq
    );
    let mut rec = Vec::with_capacity(64 + body.len());
    rec.push(1u8); // record version
    rec.extend_from_slice(&(1_764_400_000_000u64 + seq).to_le_bytes()); // received at (ms)
    rec.extend_from_slice(&0u32.to_le_bytes()); // attempts
    rec.extend_from_slice(&86_400_000u64.to_le_bytes()); // dedup TTL
    let cmd = b"Room.CallbackAfterMemberLeave";
    rec.push(cmd.len() as u8);
    rec.extend_from_slice(cmd);
    rec.push(room.len() as u8);
    rec.extend_from_slice(room.as_bytes());
    rec.extend_from_slice(body.as_bytes());
    rec
}

fn dedup_key(seq: u64) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[0] = 1; // key version
    k[1..9].copy_from_slice(&mix(seq).to_be_bytes());
    k[9..17].copy_from_slice(&mix(seq ^ 0xdead_beef).to_be_bytes());
    k
}

/// The transactions of a mode, in order: each is one commit. `batches` counts the timed commits
/// (cycle64 gets one more, trailing commit that deletes the last batch's events).
fn plan(mode: &str, batches: usize, first_seq: u64) -> Vec<Vec<Op>> {
    let (per, _) = shape(mode);
    let mut txns = Vec::with_capacity(batches + 1);
    let mut seq = first_seq;
    let mut previous: Vec<u64> = Vec::new();
    for _ in 0..batches {
        let mut ops = Vec::with_capacity(per * 3);
        let mut these = Vec::with_capacity(per);
        for _ in 0..per {
            ops.push(Op::PutEvent(seq, record(seq)));
            if mode == "cycle64" {
                ops.push(Op::PutKey(dedup_key(seq), 1_764_486_400_000 + seq));
            }
            these.push(seq);
            seq += 1;
        }
        if mode == "cycle64" {
            for s in previous.drain(..) {
                ops.push(Op::DelEvent(s));
            }
            previous = these;
        }
        txns.push(ops);
    }
    if mode == "cycle64" {
        txns.push(previous.into_iter().map(Op::DelEvent).collect());
    }
    txns
}

struct Measured {
    events_per_s: f64,
    p50: Duration,
    p99: Duration,
    commits: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    // nearest rank
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sync_all() {
    let _ = Command::new("sync").status();
}

/// One timed run of a store in a mode, in a fresh directory.
fn measure(store: &str, mode: &str, base: &Path) -> Measured {
    let dir = base.join(format!("{store}-{mode}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let (per, batches) = shape(mode);
    let mut s = open(store, &dir);
    // Warm-up: a few commits of the same shape (own sequence numbers), not timed.
    for ops in plan(mode, 5, 1 << 40) {
        s.commit(&ops);
    }
    let txns = plan(mode, batches, 1);
    sync_all();
    let mut lat = Vec::with_capacity(txns.len());
    let start = Instant::now();
    for ops in &txns {
        let t = Instant::now();
        s.commit(ops);
        lat.push(t.elapsed());
    }
    let total = start.elapsed();
    drop(s);
    let _ = fs::remove_dir_all(&dir);
    lat.sort();
    Measured {
        events_per_s: (per * batches) as f64 / total.as_secs_f64(),
        p50: percentile(&lat, 50.0),
        p99: percentile(&lat, 99.0),
        commits: txns.len(),
    }
}

/// Child mode (run under strace): warm-up, then `batches` commits, each followed by a getppid(2)
/// as a marker that the commit has returned; one marker before the first.
fn child(store: &str, mode: &str, batches: usize, dir: &Path) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    let mut s = open(store, dir);
    for ops in plan(mode, 5, 1 << 40) {
        s.commit(&ops);
    }
    let txns = plan(mode, batches, 1);
    std::hint::black_box(std::os::unix::process::parent_id());
    for ops in &txns {
        s.commit(ops);
        std::hint::black_box(std::os::unix::process::parent_id());
    }
    drop(s);
    let _ = fs::remove_dir_all(dir);
}

#[derive(Default, Clone)]
struct Syncs {
    /// Sync calls (any thread) between the first and the last marker, per commit.
    per_commit: f64,
    /// By call name.
    by_name: Vec<(String, usize)>,
    /// Commits after which the committing thread had made no sync since the previous marker.
    unsynced_commits: usize,
    commits: usize,
}

/// Runs the child under `strace -f` (syncs and markers only) and reads its trace.
fn count_syncs(store: &str, mode: &str, base: &Path) -> Option<Syncs> {
    let exe = env::current_exe().unwrap();
    let (_, batches) = shape(mode);
    let dir = base.join(format!("strace-{store}-{mode}"));
    let trace = base.join(format!("strace-{store}-{mode}.txt"));
    let status = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "--seccomp-bpf",
            "-e",
            "trace=fsync,fdatasync,sync_file_range,getppid",
            "-o",
        ])
        .arg(&trace)
        .arg(&exe)
        .args(["--child", store, mode, &batches.to_string()])
        .arg(&dir)
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let text = fs::read_to_string(&trace).ok()?;
    let _ = fs::remove_file(&trace);
    // Lines: "<tid> <syscall>(...) = ..." (also "<unfinished ...>" / "resumed" pairs).
    let mut markers = 0usize;
    let mut in_window = false;
    let mut total = 0usize;
    let mut by_name: Vec<(String, usize)> = Vec::new();
    let mut own_since_marker = 0usize;
    let mut unsynced = 0usize;
    let mut marker_tid: Option<String> = None;
    for line in text.lines() {
        let mut parts = line.splitn(2, ' ');
        let tid = parts.next().unwrap_or("").to_string();
        let rest = parts.next().unwrap_or("").trim_start();
        if rest.starts_with("<...") {
            continue; // the "resumed" half of a call already counted
        }
        let name = rest.split('(').next().unwrap_or("");
        if name == "getppid" {
            if in_window {
                if own_since_marker == 0 {
                    unsynced += 1;
                }
                markers += 1;
            } else {
                in_window = true;
                marker_tid = Some(tid.clone());
            }
            own_since_marker = 0;
        } else if ["fsync", "fdatasync", "sync_file_range"].contains(&name) && in_window {
            total += 1;
            match by_name.iter_mut().find(|(n, _)| n == name) {
                Some((_, c)) => *c += 1,
                None => by_name.push((name.to_string(), 1)),
            }
            if marker_tid.as_deref() == Some(tid.as_str()) {
                own_since_marker += 1;
            }
        }
    }
    // Syncs after the last marker (background threads at shutdown) are not the commits'.
    let mut after_last = 0usize;
    for line in text.lines().rev() {
        let rest = line.split_once(' ').map_or("", |x| x.1).trim_start();
        let name = rest.split('(').next().unwrap_or("");
        if name == "getppid" {
            break;
        }
        if ["fsync", "fdatasync", "sync_file_range"].contains(&name) {
            after_last += 1;
            // take it off the per-name count too
            if let Some((_, c)) = by_name.iter_mut().find(|(n, _)| n == name) {
                *c -= 1;
            }
        }
    }
    total -= after_last;
    by_name.retain(|(_, c)| *c > 0);
    if markers == 0 {
        return None;
    }
    Some(Syncs {
        per_commit: total as f64 / markers as f64,
        by_name,
        unsynced_commits: unsynced,
        commits: markers,
    })
}

fn load1() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(0.0)
}

/// Waits (at most 30 minutes) until the 1-minute load average is below `below`.
fn wait_quiet(below: f64) {
    let start = Instant::now();
    let mut said = false;
    while load1() >= below && start.elapsed() < Duration::from_secs(1800) {
        if !said {
            println!(
                "(waiting for the 1-minute load to drop below {below}: now {})",
                loadavg()
            );
            said = true;
        }
        std::thread::sleep(Duration::from_secs(5));
    }
    if load1() >= below {
        println!("(gave up waiting after 30 minutes)");
    }
}

/// CPU pressure (PSI): microseconds during which some runnable task waited for a CPU.
fn cpu_stall_us() -> Option<u64> {
    let text = fs::read_to_string("/proc/pressure/cpu").ok()?;
    let some = text.lines().find(|l| l.starts_with("some"))?;
    some.split_whitespace()
        .find_map(|f| f.strip_prefix("total="))
        .and_then(|t| t.parse().ok())
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let store = &args[1];
        let mode = &args[2];
        let batches: usize = args[3].parse().unwrap();
        child(store, mode, batches, Path::new(&args[4]));
        return;
    }
    let mut runs = 1usize;
    let mut base = PathBuf::from("/tmp");
    let mut stores: Vec<String> = STORES.iter().map(|s| s.to_string()).collect();
    let mut modes: Vec<String> = MODES.iter().map(|s| s.to_string()).collect();
    let mut strace = true;
    let mut quiet_below: Option<f64> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => runs = it.next().unwrap().parse().unwrap(),
            "--dir" => base = PathBuf::from(it.next().unwrap()),
            "--stores" => stores = it.next().unwrap().split(',').map(String::from).collect(),
            "--modes" => modes = it.next().unwrap().split(',').map(String::from).collect(),
            "--no-strace" => strace = false,
            "--quiet-below" => quiet_below = Some(it.next().unwrap().parse().unwrap()),
            "--scale" => env::set_var("STORE_BENCH_SCALE", it.next().unwrap()),
            "-h" | "--help" => {
                println!("store-bench [--runs N] [--dir PATH] [--stores baseline,sqlite,redb,fjall,fjall-data] [--modes single,batch16,batch64,cycle64] [--scale X] [--quiet-below LOAD] [--no-strace]");
                return;
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let base = base.join(format!("store-bench-{}", std::process::id()));
    fs::create_dir_all(&base).unwrap();
    println!(
        "record: {} bytes; dedup key: 17 bytes -> u64; dir: {}; sqlite {}",
        record(1).len(),
        base.display(),
        rusqlite::version()
    );

    // results[store][mode] = per-run measurements
    let mut results: Vec<Vec<Vec<Measured>>> = stores
        .iter()
        .map(|_| modes.iter().map(|_| Vec::new()).collect())
        .collect();
    for run in 0..runs {
        if let Some(below) = quiet_below {
            wait_quiet(below);
        }
        let stall0 = cpu_stall_us();
        let t0 = Instant::now();
        println!(
            "\n== run {}/{} (load {} at start)",
            run + 1,
            runs,
            loadavg()
        );
        println!(
            "{:<39} {:<8} {:>10} {:>9} {:>9} {:>8}",
            "store", "mode", "events/s", "p50", "p99", "commits"
        );
        for (mi, mode) in modes.iter().enumerate() {
            // rotate the order of the stores from run to run
            for k in 0..stores.len() {
                let si = (k + run) % stores.len();
                let m = measure(&stores[si], mode, &base);
                println!(
                    "{:<39} {:<8} {:>10.0} {:>9} {:>9} {:>8}",
                    store_label(&stores[si]),
                    mode,
                    m.events_per_s,
                    ms(m.p50),
                    ms(m.p99),
                    m.commits
                );
                results[si][mi].push(m);
            }
        }
        let stall = match (stall0, cpu_stall_us()) {
            (Some(a), Some(b)) => format!(
                "; CPU pressure: some task waited for a CPU {:.0}% of the run",
                (b - a) as f64 / 1e6 / t0.elapsed().as_secs_f64() * 100.0
            ),
            _ => String::new(),
        };
        println!("(load {} at end{stall})", loadavg());
    }

    let mut syncs: Vec<Vec<Option<Syncs>>> = stores
        .iter()
        .map(|_| modes.iter().map(|_| None).collect())
        .collect();
    if strace {
        if Command::new("strace").arg("-V").output().is_ok() {
            for (si, store) in stores.iter().enumerate() {
                for (mi, mode) in modes.iter().enumerate() {
                    syncs[si][mi] = count_syncs(store, mode, &base);
                }
            }
        } else {
            println!("\n(strace not found: syncs/commit not counted)");
        }
    }

    println!(
        "\n== median of {runs} run(s); p50/p99 are per commit (one commit = 1, 16 or 64 events; cycle64: 64 new events + 64 keys + 64 deletes)"
    );
    println!(
        "| {:<39} | {:<8} | {:>9} | {:>9} | {:>9} | {:<30} |",
        "store", "mode", "events/s", "p50", "p99", "syncs/commit (strace)"
    );
    println!(
        "|{:-<41}|{:-<10}|{:->11}|{:->11}|{:->11}|{:-<32}|",
        "", "", "", "", "", ""
    );
    for (si, store) in stores.iter().enumerate() {
        for (mi, mode) in modes.iter().enumerate() {
            let r = &results[si][mi];
            let eps = median(r.iter().map(|m| m.events_per_s).collect());
            let p50 = median(r.iter().map(|m| m.p50.as_secs_f64()).collect());
            let p99 = median(r.iter().map(|m| m.p99.as_secs_f64()).collect());
            let sy = match &syncs[si][mi] {
                Some(s) => {
                    let names: Vec<String> = s
                        .by_name
                        .iter()
                        .map(|(n, c)| format!("{n} {:.2}", *c as f64 / s.commits as f64))
                        .collect();
                    let check = if s.unsynced_commits == 0 {
                        String::new()
                    } else {
                        format!(", {} commits without own sync!", s.unsynced_commits)
                    };
                    format!("{:.2} ({}){}", s.per_commit, names.join(" + "), check)
                }
                None => "-".to_string(),
            };
            println!(
                "| {:<39} | {:<8} | {:>9.0} | {:>9} | {:>9} | {:<30} |",
                store_label(store),
                mode,
                eps,
                ms(Duration::from_secs_f64(p50)),
                ms(Duration::from_secs_f64(p99)),
                sy
            );
        }
    }
    if strace {
        let traced: Vec<&Syncs> = syncs.iter().flatten().flatten().collect();
        let bad: usize = traced.iter().map(|s| s.unsynced_commits).sum();
        let commits: usize = traced.iter().map(|s| s.commits).sum();
        println!(
            "\nstrace check: {} of {} traced commits returned without a sync call on the committing thread since the previous commit returned",
            bad, commits
        );
    }
    let _ = fs::remove_dir_all(&base);
}
