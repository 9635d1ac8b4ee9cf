//! The outbox: alarm events on disk until the broker has acknowledged them, so that none is
//! lost to a broker outage, a network cut, a crash or a power cut.
//!
//! One append-only file, `<state_dir>/outbox/events.jsonl`, one JSON record a line:
//!
//! ```text
//! {"outbox":1,"epoch":"5f0c…","next_seq":17}     header (first line)
//! {"add":{"seq":17,"kind":"start","payload":{…}}} an event, fsync'd before it is published
//! {"done":17}                                      acknowledged by the broker (or dropped)
//! ```
//!
//! Event ids are `<epoch>-<seq>`: `epoch` is random per outbox, so ids stay unique if the
//! state folder is wiped. Acknowledgements are written without fsync: after a crash an event
//! may be published again, and subscribers deduplicate by id. A torn last line (a crash
//! mid-write) is cut off at start-up. When most of the file is acknowledged it is rewritten
//! through a temporary file and a rename.
//!
//! **One owner**: an open outbox holds an exclusive advisory lock on `<state_dir>/outbox/lock`
//! (`flock`), released when the process ends however it ends. A second daemon on the same
//! state folder (a manual `dinoedge run` beside the service) is refused with [`Busy`] (exit 75)
//! instead of reusing event ids and taking the broker session over from the first.
//!
//! **Bound**: at most `max_events` pending. When full, the oldest pending `update` is dropped
//! (recorded as done, counted in `dropped_updates`); a `start` or an `end` is never dropped,
//! so they alone may take the outbox past its bound.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

const FORMAT: u32 = 1;

/// Another process has this outbox open (exit 75, EX_TEMPFAIL: systemd retries a service
/// refused so, within its start limit).
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: another dinoedge is running on this state folder (a second daemon would reuse its event ids); \
     stop it, or give this one its own `state_dir`",
    .0.display()
)]
pub struct Busy(pub PathBuf);
/// Rewrite the file when it holds this many done records and they outnumber the pending.
const COMPACT_AFTER: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Start,
    Update,
    End,
}

/// An event waiting for the broker's acknowledgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub seq: u64,
    pub kind: EventKind,
    pub payload: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    outbox: u32,
    epoch: String,
    next_seq: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Record {
    Add(Pending),
    Done(u64),
}

pub struct Outbox {
    path: PathBuf,
    file: File,
    /// Holds the folder's lock while the outbox is open.
    _lock: File,
    epoch: String,
    next_seq: u64,
    pending: BTreeMap<u64, Pending>,
    done_records: usize,
    max_events: usize,
    pub dropped_updates: u64,
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir`, recovering what a crash left.
    pub fn open(dir: &Path, max_events: usize) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating the outbox folder {}", dir.display()))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(Busy(dir.to_path_buf()).into()),
            Err(TryLockError::Error(e)) => {
                return Err(anyhow::Error::new(e).context(format!("locking {}", lock_path.display())));
            }
        }
        let path = dir.join("events.jsonl");
        if !path.exists() {
            let epoch = format!("{:016x}", rand::random::<u64>());
            write_compacted(&path, &epoch, 0, std::iter::empty())?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening the outbox {}", path.display()))?;
        let Log { header, pending, done_records, good_len } = read_log(&path, &mut file)?;
        let len = file.metadata()?.len();
        if good_len < len {
            log::warn!("{}: cutting off a torn last record ({} bytes) left by a crash", path.display(), len - good_len);
            file.set_len(good_len)?;
            file.sync_all()?;
        }
        Ok(Self {
            path,
            file,
            _lock: lock,
            epoch: header.epoch,
            next_seq: header.next_seq,
            pending,
            done_records,
            max_events,
            dropped_updates: 0,
        })
    }

    /// The id subscribers see for event `seq`.
    pub fn event_id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.epoch)
    }

    /// The seq the next added event will get (for its id inside its payload).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends an event and makes it durable (fsync) before returning its seq. The payload
    /// is built from the seq the event gets (for the event id it carries).
    pub fn add(&mut self, kind: EventKind, payload: impl FnOnce(u64) -> serde_json::Value) -> Result<u64> {
        let seq = self.next_seq;
        let event = Pending { seq, kind, payload: payload(seq) };
        self.append(&Record::Add(event.clone()), true)?;
        self.next_seq += 1;
        self.pending.insert(seq, event);
        while self.pending.len() > self.max_events {
            let Some(oldest_update) = self.pending.values().find(|p| p.kind == EventKind::Update).map(|p| p.seq) else {
                break;
            };
            log::warn!("outbox full ({} events): dropping update {}", self.max_events, self.event_id(oldest_update));
            self.remove(oldest_update)?;
            self.dropped_updates += 1;
        }
        Ok(seq)
    }

    /// Marks `seq` acknowledged by the broker.
    pub fn ack(&mut self, seq: u64) -> Result<()> {
        if self.pending.contains_key(&seq) {
            self.remove(seq)?;
        }
        Ok(())
    }

    fn remove(&mut self, seq: u64) -> Result<()> {
        self.append(&Record::Done(seq), false)?;
        self.pending.remove(&seq);
        self.done_records += 1;
        if self.done_records >= COMPACT_AFTER && self.done_records > self.pending.len() {
            self.compact()?;
        }
        Ok(())
    }

    /// Pending events in order, from `after` (exclusive) on.
    pub fn pending_after(&self, after: Option<u64>) -> impl Iterator<Item = &Pending> {
        let from = after.map_or(0, |s| s + 1);
        self.pending.range(from..).map(|(_, p)| p)
    }

    /// How many events wait for the broker's acknowledgement.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    fn append(&mut self, record: &Record, durable: bool) -> Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.file.write_all(&line).with_context(|| format!("writing the outbox {}", self.path.display()))?;
        if durable {
            self.file.sync_data().with_context(|| format!("syncing the outbox {}", self.path.display()))?;
        }
        Ok(())
    }

    fn compact(&mut self) -> Result<()> {
        write_compacted(&self.path, &self.epoch, self.next_seq, self.pending.values())?;
        self.file = OpenOptions::new().read(true).append(true).open(&self.path)?;
        self.done_records = 0;
        Ok(())
    }
}

/// Writes a header and the pending events to a temporary file, syncs it, and renames it
/// over `path` (then syncs the folder), so a crash leaves the old log or the new one.
fn write_compacted<'a>(
    path: &Path,
    epoch: &str,
    next_seq: u64,
    pending: impl Iterator<Item = &'a Pending>,
) -> Result<()> {
    let tmp = path.with_extension("jsonl.tmp");
    let mut out = std::io::BufWriter::new(File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?);
    serde_json::to_writer(&mut out, &Header { outbox: FORMAT, epoch: epoch.into(), next_seq })?;
    out.write_all(b"\n")?;
    for p in pending {
        serde_json::to_writer(&mut out, &Record::Add(p.clone()))?;
        out.write_all(b"\n")?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// What the log on disk holds.
struct Log {
    /// The header, its `next_seq` advanced past every event added since it was written.
    header: Header,
    pending: BTreeMap<u64, Pending>,
    /// Done records (they count towards compaction).
    done_records: usize,
    /// The length of the well-formed prefix; what follows it is a torn write.
    good_len: u64,
}

/// Reads the log.
fn read_log(path: &Path, file: &mut File) -> Result<Log> {
    file.rewind()?;
    let mut reader = BufReader::new(&*file);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut header: Header = serde_json::from_str(line.trim_end())
        .with_context(|| format!("{}: line 1 is not an outbox header", path.display()))?;
    if header.outbox != FORMAT {
        bail!("{}: outbox format {} (this dinoedge reads {FORMAT})", path.display(), header.outbox);
    }
    let mut good_len = line.len() as u64;
    let (mut pending, mut done) = (BTreeMap::new(), 0);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let record = match line.strip_suffix('\n').map(serde_json::from_str::<Record>) {
            Some(Ok(record)) => record,
            // Only the last line can be torn; anything after a bad line is not trusted either.
            _ => break,
        };
        match record {
            Record::Add(p) => {
                // Seqs are never reused, even of events already done: ids must stay unique.
                header.next_seq = header.next_seq.max(p.seq + 1);
                pending.insert(p.seq, p);
            }
            Record::Done(seq) => {
                pending.remove(&seq);
                done += 1;
            }
        }
        good_len += line.len() as u64;
    }
    Ok(Log { header, pending, done_records: done, good_len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(outbox: &Outbox) -> Vec<(u64, EventKind)> {
        outbox.pending_after(None).map(|p| (p.seq, p.kind)).collect()
    }

    #[test]
    fn events_survive_a_restart_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path(), 100).unwrap();
        for kind in [EventKind::Start, EventKind::Update, EventKind::End] {
            outbox.add(kind, |seq| json!({ "seq": seq })).unwrap();
        }
        outbox.ack(0).unwrap();
        let id = outbox.event_id(1);
        drop(outbox);

        let outbox = Outbox::open(dir.path(), 100).unwrap();
        assert_eq!(kinds(&outbox), vec![(1, EventKind::Update), (2, EventKind::End)]);
        assert_eq!(outbox.event_id(1), id, "ids are stable across restarts");
        assert_eq!(outbox.next_seq(), 3);
        assert_eq!(outbox.pending_after(Some(1)).next().unwrap().payload, json!({ "seq": 2 }));
    }

    #[test]
    fn a_second_owner_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Outbox::open(dir.path(), 100).unwrap();
        first.add(EventKind::Start, |_| json!({})).unwrap();
        let err = Outbox::open(dir.path(), 100).err().expect("a second open of a held outbox");
        assert!(err.is::<Busy>(), "{err:#}");
        assert!(err.to_string().contains("another dinoedge is running on this state folder"), "{err}");
        assert_eq!(crate::exit::code_for(&err), std::process::ExitCode::from(crate::exit::EX_TEMPFAIL));
        drop(first);
        let again = Outbox::open(dir.path(), 100).unwrap();
        assert_eq!(kinds(&again), vec![(0, EventKind::Start)], "the first owner's events are all there");
    }

    #[test]
    fn a_torn_last_record_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path(), 100).unwrap();
        outbox.add(EventKind::Start, |_| json!({})).unwrap();
        drop(outbox);
        let mut file = OpenOptions::new().append(true).open(dir.path().join("events.jsonl")).unwrap();
        file.write_all(br#"{"add":{"seq":1,"kind":"end","payl"#).unwrap();

        let mut outbox = Outbox::open(dir.path(), 100).unwrap();
        assert_eq!(kinds(&outbox), vec![(0, EventKind::Start)]);
        outbox.add(EventKind::End, |_| json!({})).unwrap();
        drop(outbox);
        assert_eq!(kinds(&Outbox::open(dir.path(), 100).unwrap()), vec![(0, EventKind::Start), (1, EventKind::End)]);
    }

    #[test]
    fn when_full_the_oldest_update_goes_never_a_start_or_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path(), 3).unwrap();
        use EventKind::*;
        for kind in [Start, Update, Update, End] {
            outbox.add(kind, |_| json!({})).unwrap();
        }
        assert_eq!(kinds(&outbox), vec![(0, Start), (2, Update), (3, End)]);
        for kind in [Update, Start, End] {
            outbox.add(kind, |_| json!({})).unwrap();
        }
        assert_eq!(
            kinds(&outbox),
            vec![(0, Start), (3, End), (5, Start), (6, End)],
            "over the bound: starts and ends stay"
        );
        assert_eq!(outbox.dropped_updates, 3);
    }

    #[test]
    fn compaction_keeps_the_pending_events_and_the_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path(), 10_000).unwrap();
        outbox.add(EventKind::Start, |_| json!({ "keep": true })).unwrap();
        for _ in 0..COMPACT_AFTER + 5 {
            let seq = outbox.add(EventKind::Update, |_| json!({})).unwrap();
            outbox.ack(seq).unwrap();
        }
        let lines = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap().lines().count();
        assert!(lines < 20, "compacted: {lines} lines");
        drop(outbox);
        let outbox = Outbox::open(dir.path(), 10_000).unwrap();
        assert_eq!(kinds(&outbox), vec![(0, EventKind::Start)]);
        assert_eq!(outbox.next_seq(), COMPACT_AFTER as u64 + 6);
    }
}
