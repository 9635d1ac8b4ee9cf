//! The outbox: alarm events on disk until the broker has acknowledged them, so that none is
//! lost to a broker outage, a network cut, a crash, a power cut or a full disk.
//!
//! One append-only file, `<state_dir>/outbox/events.jsonl`: a JSON header line, then one record
//! a line, each behind the CRC-32 of its JSON (8 hex digits and a space):
//!
//! ```text
//! {"outbox":2,"next_seq":17}                                header (written whole, by rename)
//! 5d41402a {"add":{"seq":17,"kind":"start","payload":{…}}}   an event, fsync'd before it is published
//! 0cc175b9 {"done":17}                                       acknowledged by the broker (or dropped)
//! ```
//!
//! - **Ids.** An event's id (in its payload) is `<epoch>-<seq>`. `epoch` is drawn at random
//!   each time the outbox is opened, so no id is ever given twice: not after a crash lost
//!   records the disk had not taken, not after damaged records were skipped, not after the
//!   state folder was wiped. `seq` orders the events and goes on from the highest on disk.
//! - **Damage.** A record whose checksum or JSON is wrong is skipped and counted wherever it
//!   is, and the records after it are read; a whole record glued behind the garbage of a torn
//!   write is found again. A torn last line (a crash mid-write) is cut off. A damaged file is
//!   rewritten clean at start-up.
//! - **Storage errors** (a full disk, an I/O error). A write that fails is cut back off the
//!   file, so no partial record is left for later records to follow. Its records stay in
//!   memory, in order, and are written at the next write and at each [`Outbox::retry`] (every
//!   second), while their events are delivered all the same: an update or fault the broker
//!   acknowledges meanwhile is never written at all (a start or an end is, with its done
//!   record: the open alarms are read back from them). They are lost only if the daemon stops
//!   before the disk takes them; [`Outbox::trouble`] reports it while it lasts (`stats`,
//!   STATUS=, the log). A full disk first costs the outbox its **reserve** (`reserve`, a file of
//!   [`RESERVE_BYTES`] kept beside the log): given up, its room takes the records, the starts,
//!   ends and done records first, so a crash while the disk is full leaves the open alarms
//!   right; it is put back once the disk takes every write again.
//! - **Open alarms.** The outbox knows each alarm started and not yet ended (a `start` whose
//!   payload's `alarm` no `end` has named), acknowledged or not: compaction keeps them as
//!   `{"open":{…}}` records. A daemon that crashed during an alarm learns so at its next start
//!   ([`Outbox::open_alarms`]) and ends it.
//! - Acknowledgements are not fsync'd: after a crash an event may be published again, with
//!   its id, and subscribers deduplicate by id. When most of the file is acknowledged it is
//!   rewritten through a temporary file and a rename.
//!
//! **One owner**: an open outbox holds an exclusive advisory lock (`flock`) on its folder,
//! `<state_dir>/outbox`, released when the process ends however it ends; no file can be removed
//! to break it. A second daemon on the same
//! state folder (a manual `dinoedge run` beside the service) is refused with [`Busy`] (exit 75)
//! instead of taking the broker session over from the first.
//!
//! **Bound**: at most `max_events` pending. When full, the oldest pending `update` is dropped
//! (recorded as done, counted in `dropped_updates`); a `start`, `end` or `fault` is never
//! dropped, so they alone may take the outbox past its bound.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The format written: records behind their checksum.
const FORMAT: u32 = 2;
/// The format before checksums (plain JSON lines, one epoch for ever): read, then rewritten.
const FORMAT_PLAIN: u32 = 1;

/// Another process has this outbox open (exit 75, EX_TEMPFAIL: systemd retries a service
/// refused so, within its start limit).
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: another dinoedge is running on this state folder (a second daemon would take its broker \
     session over); stop it, or give this one its own `state_dir`",
    .0.display()
)]
pub struct Busy(pub PathBuf);
/// The outbox file is of a format this dinoedge does not read (exit 65, EX_DATAERR: a restart
/// cannot mend it, and the unit does not restart on it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UnknownFormat(String);

/// Rewrite the file when it holds this many done records and they outnumber the pending.
const COMPACT_AFTER: usize = 1000;

/// Room the outbox keeps on its disk (`reserve`, a file of zeros) for the records the open
/// alarms are read back from: when the disk is full it is given up, and the starts, ends and
/// done records go into it (about 70 records, some 17 alarms), so that a crash while the disk
/// is full cannot leave an alarm open for ever or end one twice.
const RESERVE_BYTES: usize = 32 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Start,
    Update,
    End,
    /// A rule cannot measure.
    Fault,
}

impl EventKind {
    /// A start or an end: what the open alarms are read back from.
    fn opens_or_closes(self) -> bool {
        matches!(self, EventKind::Start | EventKind::End)
    }
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
    /// Format 1's one epoch, not used (format 2 draws one per opening).
    #[serde(default, skip_serializing, rename = "epoch")]
    _epoch: Option<serde::de::IgnoredAny>,
    next_seq: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Record {
    Add(Pending),
    Done(u64),
    /// An alarm still open whose `start` (this payload) was acknowledged (written by compaction).
    Open(serde_json::Value),
}

/// Alarms started and not ended: alarm id → the payload of its `start`.
type OpenAlarms = BTreeMap<String, serde_json::Value>;

/// Follows the alarms `event` opens or closes.
fn track(open: &mut OpenAlarms, event: &Pending) {
    let Some(alarm) = event.payload.get("alarm").and_then(serde_json::Value::as_str) else { return };
    match event.kind {
        EventKind::Start => {
            open.insert(alarm.to_owned(), event.payload.clone());
        }
        EventKind::End => {
            open.remove(alarm);
        }
        EventKind::Update | EventKind::Fault => {}
    }
}

/// Why records wait in memory: the disk refused them.
#[derive(Debug, Clone, PartialEq)]
pub struct Trouble {
    /// The last storage error, in words.
    pub error: String,
    /// Events held in memory only.
    pub unsaved_events: usize,
}

pub struct Outbox {
    path: PathBuf,
    file: File,
    /// Holds the folder's lock while the outbox is open.
    _lock: File,
    /// This opening's id prefix.
    epoch: String,
    next_seq: u64,
    pending: BTreeMap<u64, Pending>,
    open: OpenAlarms,
    /// Records the file does not hold yet (a write failed), to be written in this order.
    unsaved: VecDeque<Record>,
    /// The last storage error while `unsaved` is not empty.
    error: Option<String>,
    /// The reserve file is on the disk.
    reserve_held: bool,
    /// The file's length up to its last whole record: a failed write is cut back to it.
    len: u64,
    done_records: usize,
    /// `done_records` at which to compact (put off after a compaction failed).
    compact_at: usize,
    max_events: usize,
    pub dropped_updates: u64,
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir`, recovering what a crash or damage left.
    pub fn open(dir: &Path, max_events: usize) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating the outbox folder {}", dir.display()))?;
        // The lock is on the folder itself: no file of it can be removed to let a second owner in
        // (a lock file could, and two daemons then ended each other's alarms).
        let lock = File::open(dir).with_context(|| format!("opening the outbox folder {}", dir.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(Busy(dir.to_path_buf()).into()),
            Err(TryLockError::Error(e)) => {
                return Err(anyhow::Error::new(e).context(format!("locking the outbox folder {}", dir.display())));
            }
        }
        let path = dir.join("events.jsonl");
        if !path.exists() {
            write_compacted(&path, 0, &OpenAlarms::new(), std::iter::empty())?;
        }
        let bytes = std::fs::read(&path).with_context(|| format!("reading the outbox {}", path.display()))?;
        let log = read_log(&path, &bytes)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("opening the outbox {}", path.display()))?;
        if log.good_len < bytes.len() as u64 {
            log::warn!(
                "{}: cutting off a torn last record ({} bytes) left by a crash",
                path.display(),
                bytes.len() as u64 - log.good_len
            );
            file.set_len(log.good_len)?;
            file.sync_all()?;
        }
        if log.skipped > 0 {
            log::warn!(
                "{}: skipped {} damaged records; an event in one of them is lost, one marked done in one \
                 is sent again (with its id)",
                path.display(),
                log.skipped
            );
        }
        let mut outbox = Self {
            path,
            file,
            _lock: lock,
            epoch: format!("{:016x}", rand::random::<u64>()),
            next_seq: log.next_seq,
            pending: log.pending,
            open: log.open,
            unsaved: VecDeque::new(),
            error: None,
            reserve_held: false,
            len: log.good_len,
            done_records: log.done_records,
            compact_at: COMPACT_AFTER,
            max_events,
            dropped_updates: 0,
        };
        if log.plain {
            outbox.compact().context("rewriting an outbox of format 1 as format 2")?;
        } else if log.rewrite
            && let Err(e) = outbox.compact()
        {
            log::warn!("{e:#}; the damage stays, skipped at each start");
        }
        outbox.hold_reserve();
        if !outbox.reserve_held {
            log::warn!(
                "{}: no room for the outbox's reserve of {} KiB: if the disk stays full and dinoedge stops, \
                 the alarms open then may not be ended at the next start",
                outbox.path.display(),
                RESERVE_BYTES >> 10
            );
        }
        Ok(outbox)
    }

    fn reserve_path(&self) -> PathBuf {
        self.path.with_file_name("reserve")
    }

    /// Puts the reserve on the disk (whole, or not at all).
    fn hold_reserve(&mut self) {
        let path = self.reserve_path();
        let made =
            File::create(&path).and_then(|mut file| file.write_all(&[0; RESERVE_BYTES]).and_then(|()| file.sync_all()));
        match made {
            Ok(()) => self.reserve_held = true,
            Err(_) => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// The id subscribers see for event `seq` of this opening (`next_seq` and after).
    pub fn event_id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.epoch)
    }

    /// The seq the next added event will get (for its id inside its payload).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Adds an event and returns its seq, made durable (fsync) before this returns unless the
    /// disk refuses it: then it is kept in memory and written again later ([`Outbox::trouble`]).
    /// The payload is built from the seq the event gets (for the event id it carries).
    pub fn add(&mut self, kind: EventKind, payload: impl FnOnce(u64) -> serde_json::Value) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let event = Pending { seq, kind, payload: payload(seq) };
        track(&mut self.open, &event);
        self.unsaved.push_back(Record::Add(event.clone()));
        self.pending.insert(seq, event);
        while self.pending.len() > self.max_events {
            let Some(oldest_update) = self.pending.values().find(|p| p.kind == EventKind::Update) else {
                break;
            };
            log::warn!(
                "outbox full ({} events): dropping the oldest update {}",
                self.max_events,
                oldest_update.payload["id"]
            );
            self.settle(oldest_update.seq);
            self.dropped_updates += 1;
        }
        self.save();
        seq
    }

    /// Marks `seq` acknowledged by the broker.
    pub fn ack(&mut self, seq: u64) {
        if self.pending.contains_key(&seq) {
            self.settle(seq);
            self.save();
            if self.done_records >= self.compact_at
                && self.done_records > self.pending.len()
                && let Err(e) = self.compact()
            {
                log::warn!("{e:#}; trying again after {COMPACT_AFTER} more acknowledgements");
                self.compact_at = self.done_records + COMPACT_AFTER;
            }
        }
    }

    /// Writes the records the disk refused before, if any; puts the reserve back once the disk
    /// takes everything again.
    pub fn retry(&mut self) {
        self.save();
        if !self.reserve_held && self.error.is_none() {
            self.hold_reserve();
            if self.reserve_held {
                log::info!("{}: the outbox's reserve is back on the disk", self.path.display());
            }
        }
    }

    /// Why events are held in memory only, while they are.
    pub fn trouble(&self) -> Option<Trouble> {
        self.error.as_ref().map(|error| Trouble {
            error: error.clone(),
            unsaved_events: self.unsaved.iter().filter(|r| matches!(r, Record::Add(_))).count(),
        })
    }

    /// Takes `seq` out of the pending events: a done record, unless it is an update or fault
    /// never written (a start or an end is written all the same: the open alarms are read
    /// back from them).
    fn settle(&mut self, seq: u64) {
        self.pending.remove(&seq);
        let unsaved = self.unsaved.len();
        self.unsaved.retain(|r| !matches!(r, Record::Add(p) if p.seq == seq && !p.kind.opens_or_closes()));
        if self.unsaved.len() == unsaved {
            self.unsaved.push_back(Record::Done(seq));
            self.done_records += 1;
        }
    }

    /// Pending events in order, from `after` (exclusive) on.
    pub fn pending_after(&self, after: Option<u64>) -> impl Iterator<Item = &Pending> {
        let from = after.map_or(0, |s| s + 1);
        self.pending.range(from..).map(|(_, p)| p)
    }

    /// The `start` payloads of the alarms started and not ended, by alarm id.
    pub fn open_alarms(&self) -> Vec<serde_json::Value> {
        self.open.values().cloned().collect()
    }

    /// How many events wait for the broker's acknowledgement.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Writes the records waiting in memory; on failure they stay, and the error is reported
    /// when it starts and when it ends. A full disk gives up the reserve, and the records the
    /// open alarms are read back from are written into its room; the updates and faults wait
    /// in memory.
    fn save(&mut self) {
        if self.unsaved.is_empty() {
            return;
        }
        let mut written = self.write_unsaved(|_| true);
        if written.as_ref().is_err_and(disk_full) {
            if self.reserve_held && std::fs::remove_file(self.reserve_path()).is_ok() {
                self.reserve_held = false;
                log::warn!(
                    "{}: the disk is full: the outbox gives up its reserve of {} KiB for the starts and ends",
                    self.path.display(),
                    RESERVE_BYTES >> 10
                );
            }
            let bookkeeping = |r: &Record| !matches!(r, Record::Add(p) if !p.kind.opens_or_closes());
            if self.unsaved.iter().any(bookkeeping)
                && self.write_unsaved(bookkeeping).is_ok()
                && self.unsaved.is_empty()
            {
                written = Ok(());
            }
        }
        match written {
            Ok(()) => {
                if self.error.take().is_some() {
                    log::info!("{}: the disk takes the outbox's writes again; nothing is lost", self.path.display());
                }
            }
            Err(e) => {
                let error = format!("{e:#}");
                if self.error.is_none() {
                    log::error!(
                        "cannot write the outbox: {error}; its events are held in memory and delivered all the same, \
                         and written as soon as the disk takes them (they are lost if dinoedge stops before)"
                    );
                }
                self.error = Some(error);
            }
        }
    }

    /// Appends the unsaved records `which` picks (in their order), fsync'd if one adds an
    /// event, and takes them out of the unsaved; cuts the file back to its last whole record if
    /// that fails. (Any subset keeps the file readable: a done record never precedes its event,
    /// since an update or fault never written is settled without one.)
    fn write_unsaved(&mut self, which: impl Fn(&Record) -> bool) -> Result<()> {
        let path = self.path.display();
        if self.error.is_some() {
            self.file.set_len(self.len).with_context(|| format!("cutting a failed write off {path}"))?;
        }
        let mut bytes = Vec::new();
        let mut durable = false;
        for record in self.unsaved.iter().filter(|r| which(r)) {
            bytes.extend(frame(record));
            durable |= matches!(record, Record::Add(_));
        }
        let written = self.file.write_all(&bytes).with_context(|| format!("writing {path}")).and_then(|()| {
            if durable { self.file.sync_data().with_context(|| format!("syncing {path}")) } else { Ok(()) }
        });
        if written.is_err() {
            // What went out may be a partial record; the next try cuts it off if this cannot.
            let _ = self.file.set_len(self.len);
        } else {
            self.len += bytes.len() as u64;
            self.unsaved.retain(|r| !which(r));
        }
        written
    }

    /// Rewrites the file as its open alarms and pending events, which then hold every unsaved
    /// record's effect.
    fn compact(&mut self) -> Result<()> {
        write_compacted(&self.path, self.next_seq, &self.open, self.pending.values())?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.len = self.file.metadata()?.len();
        self.done_records = 0;
        self.compact_at = COMPACT_AFTER;
        self.unsaved.clear();
        if self.error.take().is_some() {
            log::info!("{}: the disk takes the outbox's writes again; nothing is lost", self.path.display());
        }
        Ok(())
    }
}

/// The disk (or the quota) has no room left.
fn disk_full(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded))
}

/// A record as written: the CRC-32 of its JSON in hex, a space, the JSON, a newline.
fn frame(record: &Record) -> Vec<u8> {
    let json = serde_json::to_vec(record).expect("records serialise");
    let mut line = format!("{:08x} ", crc32fast::hash(&json)).into_bytes();
    line.extend(json);
    line.push(b'\n');
    line
}

/// The record of a line (without its newline) whose checksum and JSON are right.
fn unframe(line: &[u8]) -> Option<Record> {
    let (crc, json) = (line.get(..8)?, line.get(9..)?);
    let crc = u32::from_str_radix(std::str::from_utf8(crc).ok()?, 16).ok()?;
    (line[8] == b' ' && crc == crc32fast::hash(json)).then(|| serde_json::from_slice(json).ok())?
}

/// A whole record at the end of a damaged line: one glued behind a torn write's garbage.
fn recover(line: &[u8]) -> Option<Record> {
    (1..line.len().saturating_sub(9))
        .filter(|&i| line[i + 8] == b' ' && line[i..i + 8].iter().all(u8::is_ascii_hexdigit))
        .find_map(|i| unframe(&line[i..]))
}

/// Writes a header, the open alarms and the pending events to a temporary file, syncs it, and
/// renames it over `path` (then syncs the folder), so a crash leaves the old log or the new one.
fn write_compacted<'a>(
    path: &Path,
    next_seq: u64,
    open: &OpenAlarms,
    pending: impl Iterator<Item = &'a Pending>,
) -> Result<()> {
    let tmp = path.with_extension("jsonl.tmp");
    let written = (|| -> Result<()> {
        let mut out = std::io::BufWriter::new(File::create(&tmp)?);
        serde_json::to_writer(&mut out, &Header { outbox: FORMAT, _epoch: None, next_seq })?;
        out.write_all(b"\n")?;
        for start in open.values() {
            out.write_all(&frame(&Record::Open(start.clone())))?;
        }
        for p in pending {
            out.write_all(&frame(&Record::Add(p.clone())))?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("rewriting the outbox {}", path.display())));
    }
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// What the log on disk holds.
struct Log {
    /// Past the highest seq the file names.
    next_seq: u64,
    pending: BTreeMap<u64, Pending>,
    open: OpenAlarms,
    /// Done records (they count towards compaction).
    done_records: usize,
    /// Damaged lines skipped.
    skipped: usize,
    /// The length up to the last whole line; what follows it is a torn write.
    good_len: u64,
    /// Format 1: no checksums.
    plain: bool,
    /// Damaged: to be rewritten clean.
    rewrite: bool,
}

/// Reads the log. A header that cannot be read is damage like any other: each record names its
/// own seq, and this opening's epoch keeps ids unique whatever `next_seq` said.
fn read_log(path: &Path, bytes: &[u8]) -> Result<Log> {
    let mut lines = bytes.split_inclusive(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let first_body = first.strip_suffix(b"\n").unwrap_or(first);
    let header = serde_json::from_slice::<Header>(first_body).ok();
    if let Some(h) = &header
        && h.outbox != FORMAT
        && h.outbox != FORMAT_PLAIN
    {
        return Err(UnknownFormat(format!(
            "{}: outbox format {} (this dinoedge reads {FORMAT_PLAIN} and {FORMAT}: it was written by a newer \
             version; run that one, or move the file away to start an empty outbox)",
            path.display(),
            h.outbox
        ))
        .into());
    }
    let plain = header.as_ref().is_some_and(|h| h.outbox == FORMAT_PLAIN);
    let mut log = Log {
        next_seq: header.as_ref().map_or(0, |h| h.next_seq),
        pending: BTreeMap::new(),
        open: OpenAlarms::new(),
        done_records: 0,
        skipped: 0,
        good_len: first.len() as u64,
        plain,
        // A header without its newline would have the next record glued to it.
        rewrite: !first.ends_with(b"\n"),
    };
    if header.is_none() {
        log.skipped += 1;
        if let Some(record) = recover(first_body) {
            log.apply(record);
        }
    }
    for line in lines {
        let Some(body) = line.strip_suffix(b"\n") else { break };
        log.good_len += line.len() as u64;
        let record = if plain { serde_json::from_slice(body).ok() } else { unframe(body) };
        let record = match record {
            Some(record) => record,
            None => {
                log.skipped += 1;
                match if plain { None } else { recover(body) } {
                    Some(record) => record,
                    None => continue,
                }
            }
        };
        log.apply(record);
    }
    log.rewrite |= log.skipped > 0;
    Ok(log)
}

impl Log {
    fn apply(&mut self, record: Record) {
        match record {
            Record::Add(p) => {
                self.next_seq = self.next_seq.max(p.seq + 1);
                track(&mut self.open, &p);
                self.pending.insert(p.seq, p);
            }
            Record::Done(seq) => {
                self.pending.remove(&seq);
                self.done_records += 1;
            }
            Record::Open(start) => {
                if let Some(alarm) = start.get("alarm").and_then(serde_json::Value::as_str) {
                    self.open.insert(alarm.to_owned(), start);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(outbox: &Outbox) -> Vec<(u64, EventKind)> {
        outbox.pending_after(None).map(|p| (p.seq, p.kind)).collect()
    }

    fn log_of(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("events.jsonl")).unwrap()
    }

    fn append(dir: &Path, bytes: &[u8]) {
        OpenOptions::new().append(true).open(dir.join("events.jsonl")).unwrap().write_all(bytes).unwrap();
    }

    #[test]
    fn events_survive_a_restart_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path(), 100).unwrap();
        for kind in [EventKind::Start, EventKind::Update, EventKind::End] {
            outbox.add(kind, |seq| json!({ "seq": seq }));
        }
        outbox.ack(0);
        let first_run_id = outbox.event_id(3);
        drop(outbox);

        let outbox = Outbox::open(dir.path(), 100).unwrap();
        assert_eq!(kinds(&outbox), vec![(1, EventKind::Update), (2, EventKind::End)]);
        assert_eq!(outbox.next_seq(), 3);
        assert_eq!(outbox.pending_after(Some(1)).next().unwrap().payload, json!({ "seq": 2 }));
        assert_ne!(outbox.event_id(3), first_run_id, "each opening gives ids of its own");
        assert!(log_of(dir.path()).lines().skip(1).all(|l| unframe(l.as_bytes()).is_some()), "every record framed");
    }

    #[test]
    fn a_second_owner_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Outbox::open(dir.path(), 100).unwrap();
        first.add(EventKind::Start, |_| json!({}));
        let err = Outbox::open(dir.path(), 100).err().expect("a second open of a held outbox");
        assert!(err.is::<Busy>(), "{err:#}");
        assert!(err.to_string().contains("another dinoedge is running on this state folder"), "{err}");
        assert_eq!(crate::exit::code_for(&err), std::process::ExitCode::from(crate::exit::EX_TEMPFAIL));
        drop(first);
        let again = Outbox::open(dir.path(), 100).unwrap();
        assert_eq!(kinds(&again), vec![(0, EventKind::Start)], "the first owner's events are all there");
    }

    /// Reliability II, item 8: deleting the lock file let a second daemon in, and the two
    /// ended each other's alarms. The lock is on the folder now: no file of it frees it.
    #[test]
    fn removing_the_outbox_files_does_not_let_a_second_owner_in() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Outbox::open(dir.path(), 100).unwrap();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        let err = Outbox::open(dir.path(), 100).err().expect("a second open of a held outbox");
        assert!(err.is::<Busy>(), "{err:#}");
    }

    #[test]
    fn an_outbox_of_a_newer_format_is_refused_with_exit_65() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("events.jsonl"), "{\"outbox\":9,\"next_seq\":0}\n").unwrap();
        let err = Outbox::open(dir.path(), 100).err().expect("format 9 is refused");
        assert!(err.to_string().contains("outbox format 9"), "{err:#}");
        assert_eq!(crate::exit::code_for(&err), std::process::ExitCode::from(crate::exit::EX_DATAERR));
    }

    #[test]
    fn a_torn_last_record_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path(), 100).unwrap();
        outbox.add(EventKind::Start, |_| json!({}));
        drop(outbox);
        append(dir.path(), br#"0123abcd {"add":{"seq":1,"kind":"end","payl"#);

        let mut outbox = Outbox::open(dir.path(), 100).unwrap();
        assert_eq!(kinds(&outbox), vec![(0, EventKind::Start)]);
        outbox.add(EventKind::End, |_| json!({}));
        drop(outbox);
        assert_eq!(kinds(&Outbox::open(dir.path(), 100).unwrap()), vec![(0, EventKind::Start), (1, EventKind::End)]);
    }

    /// Item 1 of the reliability issue: a bad record mid-file cost every record after it, and
    /// the sequence numbers they held were given again.
    #[test]
    fn damaged_records_anywhere_are_skipped_and_those_after_them_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path(), 100).unwrap();
        for n in 0..4 {
            outbox.add(EventKind::Start, |_| json!({ "n": n }));
        }
        drop(outbox);
        // A bit flipped in the record of event 1; a line of garbage; a torn write (no newline)
        // with the record of event 4 glued behind it, as when a write stopped half way and the
        // next went on after it.
        let mut lines: Vec<String> = log_of(dir.path()).lines().map(String::from).collect();
        lines[2] = lines[2].replace(r#""n":1"#, r#""n":7"#);
        lines.insert(3, "garbage".into());
        let event_4 = String::from_utf8(frame(&Record::Add(Pending {
            seq: 4,
            kind: EventKind::End,
            payload: json!({ "n": 4 }),
        })))
        .unwrap();
        lines.push(format!(r#"9f00aa12 {{"add":{{"seq":5,"ki{event_4}"#));
        std::fs::write(dir.path().join("events.jsonl"), lines.join("\n")).unwrap();

        let outbox = Outbox::open(dir.path(), 100).unwrap();
        let seqs: Vec<u64> = outbox.pending_after(None).map(|p| p.seq).collect();
        assert_eq!(seqs, vec![0, 2, 3, 4], "event 1 is lost; every record after the damage is read");
        assert_eq!(outbox.next_seq(), 5);
        drop(outbox);
        assert!(
            log_of(dir.path()).lines().skip(1).all(|l| unframe(l.as_bytes()).is_some()),
            "the damaged file was rewritten clean"
        );
        assert_eq!(Outbox::open(dir.path(), 100).unwrap().pending_count(), 4);
    }

    /// Found by tests/fuzz_readers.rs: a header without its newline had the next record glued
    /// to it, and the outbox then no longer opened. A header that cannot be read is damage
    /// like any other now: the records are read all the same.
    #[test]
    fn a_torn_or_damaged_header_costs_no_record() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("events.jsonl"), r#"{"outbox":2,"next_seq":3}"#).unwrap();
        let mut outbox = Outbox::open(dir.path(), 100).unwrap();
        outbox.add(EventKind::Start, |_| json!({ "n": 3 }));
        drop(outbox);
        assert_eq!(kinds(&Outbox::open(dir.path(), 100).unwrap()), vec![(3, EventKind::Start)]);

        let text = log_of(dir.path()).replacen("outbox", "outbux", 1);
        std::fs::write(dir.path().join("events.jsonl"), text).unwrap();
        let outbox = Outbox::open(dir.path(), 100).unwrap();
        assert_eq!(kinds(&outbox), vec![(3, EventKind::Start)], "the records after a damaged header are read");
        assert_eq!(outbox.next_seq(), 4);
        drop(outbox);
        assert!(log_of(dir.path()).starts_with(r#"{"outbox":2,"next_seq":4}"#), "rewritten clean");
    }

    /// Item 1 of the reliability issue: events the disk refuses are held in memory, delivered,
    /// and written when it takes them again (the real full disk: tests/daemon_mqtt.rs).
    #[test]
    fn events_the_disk_refuses_are_kept_and_written_once_it_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path(), 100).unwrap();
        outbox.add(EventKind::Start, |_| json!({ "n": 0 }));
        let log = outbox.file.try_clone().unwrap();
        outbox.file = OpenOptions::new().append(true).open("/dev/full").unwrap();
        for n in 1..4 {
            outbox.add(EventKind::Update, |_| json!({ "n": n }));
        }
        let trouble = outbox.trouble().expect("the disk refused the writes");
        assert_eq!(trouble.unsaved_events, 3, "{trouble:?}");
        assert!(trouble.error.contains("events.jsonl"), "names the file: {trouble:?}");
        assert_eq!(outbox.pending_count(), 4, "held events are delivered all the same");
        outbox.ack(0);
        outbox.ack(2);
        assert_eq!(outbox.trouble().unwrap().unsaved_events, 2, "an acknowledged held event needs no writing");

        outbox.file = log;
        outbox.retry();
        assert_eq!(outbox.trouble(), None);
        drop(outbox);
        let outbox = Outbox::open(dir.path(), 100).unwrap();
        let held: Vec<&serde_json::Value> = outbox.pending_after(None).map(|p| &p.payload).collect();
        assert_eq!(held, vec![&json!({ "n": 1 }), &json!({ "n": 3 })]);
        assert_eq!(outbox.next_seq(), 4);
    }

    /// Found by the fault soak (tests/fault_soak.rs): an alarm's start and end made while the
    /// disk was full and acknowledged before it took them were never written, so after the
    /// next crash the alarm was open on disk and the next run ended it a second time (and a
    /// start lost so would never have been ended).
    #[test]
    fn a_start_or_end_the_disk_refused_is_written_even_once_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path(), 100).unwrap();
        let event = |alarm: &str| json!({ "alarm": alarm });
        outbox.add(EventKind::Start, |_| event("a"));
        let log = outbox.file.try_clone().unwrap();
        outbox.file = OpenOptions::new().append(true).open("/dev/full").unwrap();
        let acked = [
            outbox.add(EventKind::End, |_| event("a")),
            outbox.add(EventKind::Start, |_| event("b")),
            outbox.add(EventKind::Update, |_| event("b")),
        ];
        for seq in acked {
            outbox.ack(seq);
        }
        assert_eq!(outbox.trouble().unwrap().unsaved_events, 2, "the update needs no writing");
        outbox.file = log;
        outbox.retry();
        assert_eq!(outbox.open_alarms(), vec![event("b")]);
        drop(outbox);
        let outbox = Outbox::open(dir.path(), 100).unwrap();
        assert_eq!(outbox.open_alarms(), vec![event("b")], "a ended, b open, as before the restart");
        assert_eq!(outbox.pending_count(), 1, "the first start only: the rest was acknowledged");
    }

    /// Item 4 of the reliability issue: a crash during an alarm left its start orphaned.
    #[test]
    fn alarms_left_open_are_known_after_a_restart_and_a_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path(), 10_000).unwrap();
        let event = |alarm: &str| json!({ "alarm": alarm });
        let a = outbox.add(EventKind::Start, |_| event("a"));
        outbox.add(EventKind::Start, |_| event("b"));
        outbox.add(EventKind::Update, |_| event("a"));
        outbox.add(EventKind::End, |_| event("b"));
        outbox.ack(a);
        assert_eq!(outbox.open_alarms(), vec![event("a")], "acknowledged or not, a is open, b ended");
        drop(outbox);
        let mut outbox = Outbox::open(dir.path(), 10_000).unwrap();
        assert_eq!(outbox.open_alarms(), vec![event("a")]);
        for _ in 0..COMPACT_AFTER + 5 {
            let seq = outbox.add(EventKind::Update, |_| json!({}));
            outbox.ack(seq);
        }
        assert!(log_of(dir.path()).lines().count() < 20, "compacted");
        drop(outbox);
        let mut outbox = Outbox::open(dir.path(), 10_000).unwrap();
        assert_eq!(outbox.open_alarms(), vec![event("a")], "kept through the compaction");
        outbox.add(EventKind::End, |_| event("a"));
        drop(outbox);
        assert!(Outbox::open(dir.path(), 10_000).unwrap().open_alarms().is_empty());
    }

    #[test]
    fn an_outbox_of_format_1_is_read_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let old = concat!(
            r#"{"outbox":1,"epoch":"00000000000000aa","next_seq":3}"#,
            "\n",
            r#"{"add":{"seq":3,"kind":"start","payload":{"id":"00000000000000aa-3"}}}"#,
            "\n",
            r#"{"add":{"seq":4,"kind":"end","payload":{"id":"00000000000000aa-4"}}}"#,
            "\n",
            r#"{"done":3}"#,
            "\n"
        );
        std::fs::write(dir.path().join("events.jsonl"), old).unwrap();
        let outbox = Outbox::open(dir.path(), 100).unwrap();
        assert_eq!(kinds(&outbox), vec![(4, EventKind::End)]);
        assert_eq!(outbox.pending_after(None).next().unwrap().payload["id"], "00000000000000aa-4");
        assert_eq!(outbox.next_seq(), 5);
        assert!(log_of(dir.path()).starts_with(r#"{"outbox":2,"next_seq":5}"#), "{}", log_of(dir.path()));
    }

    #[test]
    fn when_full_the_oldest_update_goes_never_a_start_or_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path(), 3).unwrap();
        use EventKind::*;
        for kind in [Start, Update, Update, End] {
            outbox.add(kind, |_| json!({}));
        }
        assert_eq!(kinds(&outbox), vec![(0, Start), (2, Update), (3, End)]);
        for kind in [Update, Start, End] {
            outbox.add(kind, |_| json!({}));
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
        outbox.add(EventKind::Start, |_| json!({ "keep": true }));
        for _ in 0..COMPACT_AFTER + 5 {
            let seq = outbox.add(EventKind::Update, |_| json!({}));
            outbox.ack(seq);
        }
        let lines = log_of(dir.path()).lines().count();
        assert!(lines < 20, "compacted: {lines} lines");
        drop(outbox);
        let outbox = Outbox::open(dir.path(), 10_000).unwrap();
        assert_eq!(kinds(&outbox), vec![(0, EventKind::Start)]);
        assert_eq!(outbox.next_seq(), COMPACT_AFTER as u64 + 6);
    }
}
