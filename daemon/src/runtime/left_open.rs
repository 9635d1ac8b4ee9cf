//! Alarms an earlier run left open: it crashed, was killed or lost power while they were
//! raised, so their `end` never went out. At start-up, before any frame, each gets its `end`
//! (with [`REASON`]) from what the outbox kept of its `start`. They are ended, not resumed:
//! nobody watched while the daemon was down, so the alarm's duration and distances cannot be
//! carried across the gap; if the danger is still there, a new `start` follows after the
//! rule's `raise_after`. The rule's retained state, which said `alarm`, is removed until the
//! rule measures again (its camera may be down, or the rule gone).

use std::time::SystemTime;

use crate::mqtt::Bus;
use crate::mqtt::wire::{Change, Event, round};

/// The `reason` of such an `end`.
pub const REASON: &str = "dinoedge restarted; the alarm was open when it last stopped (a crash, a kill or a power cut)";

/// Queues the `end` of every alarm the outbox knows open.
pub(super) fn end(bus: &Bus) {
    for start in bus.open_alarms() {
        let start: Event = match serde_json::from_value(start) {
            Ok(start) => start,
            Err(e) => {
                log::error!("an alarm left open in the outbox is not a start event ({e}); it cannot be ended");
                continue;
            }
        };
        let Change::Start { distance_m } = start.change else { continue };
        let now = SystemTime::now();
        let duration = start.time.to_system_time().and_then(|t| now.duration_since(t).ok()).unwrap_or_default();
        let (camera, rule, alarm) = (start.camera.clone(), start.rule.clone(), start.alarm.clone());
        let queued = bus.event(|id| Event {
            change: Change::End {
                distance_m: None,
                min_distance_m: distance_m,
                duration_s: round(duration.as_secs_f64(), 3),
            },
            id: id.to_owned(),
            time: now.into(),
            frame: None,
            reason: Some(REASON.to_owned()),
            ..start
        });
        // The rule's retained state (`alarm`, with this id) is the last run's: nothing is known
        // now, so it goes; the rule's first frame, if it is still configured, says what is.
        bus.retain(bus.topics().rule_state(&camera, &rule), Vec::new());
        match queued {
            Ok(_) => log::warn!("alarm {alarm} of {camera}/{rule} was left open by the last run: ended"),
            Err(e) => log::error!("alarm {alarm} of {camera}/{rule}: its end could not be queued: {e:#}"),
        }
    }
}
