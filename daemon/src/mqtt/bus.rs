//! The hand-over point between the pipeline threads and the publisher task. Nothing here
//! blocks on the network: an event is appended to the outbox (durably) and the publisher is
//! woken; a retained state replaces the last one not yet sent; a transient message (stats,
//! snapshot) waits in a short queue and is dropped, oldest first, while the broker is away.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Result;
use serde::Serialize;
use tokio::sync::Notify;

use super::topics::Topics;
use super::wire::{Event, to_json};
use crate::lock::lock;
use crate::outbox::{Outbox, Trouble};

/// Transient messages kept while disconnected.
const TRANSIENT_QUEUE: usize = 16;

#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    topics: Topics,
    outbox: Mutex<Outbox>,
    /// topic → (payload, not yet sent on this connection)
    retained: Mutex<BTreeMap<String, (Vec<u8>, bool)>>,
    transient: Mutex<VecDeque<(String, Vec<u8>)>>,
    wake: Notify,
    /// Shown each event as it is queued (the demo prints them).
    echo: Option<Echo>,
}

/// Something that wants to see each event (topic, payload) as it is queued.
pub type Echo = Box<dyn Fn(&str, &serde_json::Value) + Send + Sync>;

impl Bus {
    pub fn new(topics: Topics, outbox: Outbox, echo: Option<Echo>) -> Self {
        Bus {
            inner: Arc::new(Inner {
                topics,
                outbox: Mutex::new(outbox),
                retained: Mutex::default(),
                transient: Mutex::default(),
                wake: Notify::new(),
                echo,
            }),
        }
    }

    pub fn topics(&self) -> &Topics {
        &self.inner.topics
    }

    /// Queues an event durably; `event` is made with the event's id. Returns the id.
    pub fn event(&self, event: impl FnOnce(&str) -> Event) -> Result<String> {
        let mut outbox = self.outbox();
        let id = outbox.event_id(outbox.next_seq());
        let event = event(&id);
        let payload = serde_json::to_value(&event)?;
        let seq = outbox.add(event.change.kind(), |_| payload);
        if let Some(echo) = &self.inner.echo
            && let Some(event) = outbox.pending_after(seq.checked_sub(1)).next()
        {
            echo(&self.inner.topics.events(), &event.payload);
        }
        drop(outbox);
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// Sets the retained message of `topic`; only the latest is sent.
    pub fn retain(&self, topic: String, payload: Vec<u8>) {
        lock(&self.inner.retained).insert(topic, (payload, true));
        self.inner.wake.notify_one();
    }

    /// Sets the retained message of `topic` to `payload` as JSON (a type of `wire`).
    pub fn retain_json(&self, topic: String, payload: &impl Serialize) {
        self.retain(topic, to_json(payload));
    }

    /// Queues a transient message (QoS 0, not retained).
    pub fn transient(&self, topic: String, payload: Vec<u8>) {
        let mut queue = lock(&self.inner.transient);
        if queue.len() == TRANSIENT_QUEUE {
            queue.pop_front();
        }
        queue.push_back((topic, payload));
        drop(queue);
        self.inner.wake.notify_one();
    }

    pub(super) fn outbox(&self) -> MutexGuard<'_, Outbox> {
        lock(&self.inner.outbox)
    }

    pub fn pending_events(&self) -> usize {
        self.outbox().pending_count()
    }

    pub fn dropped_updates(&self) -> u64 {
        self.outbox().dropped_updates
    }

    /// Why events are held in memory only (the disk refuses the outbox's writes), while they are.
    pub fn outbox_trouble(&self) -> Option<Trouble> {
        self.outbox().trouble()
    }

    /// The `start` payloads of the alarms started and not ended (an earlier run's, at start-up).
    pub fn open_alarms(&self) -> Vec<serde_json::Value> {
        self.outbox().open_alarms()
    }

    /// Writes the events the disk refused before, if any (the once-a-second tick).
    pub fn retry_outbox(&self) {
        self.outbox().retry();
    }

    pub(super) async fn woken(&self) {
        self.inner.wake.notified().await
    }

    /// Retained messages to (re)send: all of them after a (re)connect, else the changed ones.
    pub(super) fn take_retained(&self, all: bool) -> Vec<(String, Vec<u8>)> {
        let mut retained = lock(&self.inner.retained);
        retained
            .iter_mut()
            .filter(|(_, (_, dirty))| all || *dirty)
            .map(|(topic, (payload, dirty))| {
                *dirty = false;
                (topic.clone(), payload.clone())
            })
            .collect()
    }

    /// Marks a retained message unsent again (the request queue was full).
    pub(super) fn unsent_retained(&self, topic: &str) {
        if let Some((_, dirty)) = lock(&self.inner.retained).get_mut(topic) {
            *dirty = true;
        }
    }

    pub(super) fn take_transient(&self) -> Vec<(String, Vec<u8>)> {
        lock(&self.inner.transient).drain(..).collect()
    }
}
