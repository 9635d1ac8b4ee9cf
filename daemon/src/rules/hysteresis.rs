//! When a rule's distance raises, updates and clears an alarm.
//!
//! - **Raise** after `for_frames` consecutive frames below `alarm_below`, unless the
//!   rule is in its `cooldown` after the last alarm ended (the count goes on, so an alarm
//!   starts as soon as the cooldown is over if the distance is still low).
//! - **Clear** after `for_frames` consecutive frames above `clear_above`, or with nothing
//!   measured (nothing in the zone). A frame between the thresholds resets both counts, so
//!   a distance hovering at one threshold cannot flicker the alarm.
//! - **Update** while raised, at most every `update_interval`, with the latest distance.
//!
//! The lowest distance reported by updates and the end counts from the first of the frames
//! that raised the alarm.
//!
//! Times are the frames' capture times on a monotonic clock.

use std::time::{Duration, Instant};

use dinoedge_config::Hysteresis;

/// What an observed frame changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transition {
    Start { distance: f64 },
    Update { distance: Option<f64>, min_distance: f64 },
    End { distance: Option<f64>, min_distance: f64, duration: Duration },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// `below` frames in a row under `alarm_below`, the lowest of them `lowest`.
    Clear {
        below: u32,
        lowest: f64,
    },
    Alarm {
        above: u32,
        since: Instant,
        last_event: Instant,
        min_distance: f64,
    },
}

/// The alarm state of one rule.
#[derive(Debug, Clone)]
pub struct Tracker {
    hysteresis: Hysteresis,
    for_frames: u32,
    cooldown: Duration,
    update_interval: Duration,
    phase: Phase,
    ended_at: Option<Instant>,
}

impl Tracker {
    pub fn new(hysteresis: Hysteresis, for_frames: u32, cooldown: Duration, update_interval: Duration) -> Self {
        Self {
            hysteresis,
            for_frames: for_frames.max(1),
            cooldown,
            update_interval,
            phase: Phase::Clear { below: 0, lowest: f64::INFINITY },
            ended_at: None,
        }
    }

    pub fn in_alarm(&self) -> bool {
        matches!(self.phase, Phase::Alarm { .. })
    }

    /// Clear, with no frame counted towards a start: the same distance again changes nothing.
    pub fn settled(&self) -> bool {
        matches!(self.phase, Phase::Clear { below: 0, .. })
    }

    /// Ends a raised alarm now, whatever the distance (the rule was removed or changed).
    pub fn abandon(&mut self, at: Instant) -> Option<Transition> {
        let Phase::Alarm { since, min_distance, .. } = self.phase else { return None };
        self.phase = Phase::Clear { below: 0, lowest: f64::INFINITY };
        self.ended_at = Some(at);
        Some(Transition::End { distance: None, min_distance, duration: at.saturating_duration_since(since) })
    }

    /// Takes one frame's distance (captured at `at`), and says what changed.
    pub fn observe(&mut self, distance: Option<f64>, at: Instant) -> Option<Transition> {
        let Hysteresis { alarm_below, clear_above } = self.hysteresis;
        match &mut self.phase {
            Phase::Clear { below, lowest } => {
                (*below, *lowest) = match distance {
                    Some(d) if d < alarm_below => (*below + 1, lowest.min(d)),
                    _ => (0, f64::INFINITY),
                };
                let cooling = self.ended_at.is_some_and(|end| at.saturating_duration_since(end) < self.cooldown);
                if *below >= self.for_frames && !cooling {
                    let d = distance.expect("counted frames have a distance");
                    self.phase = Phase::Alarm { above: 0, since: at, last_event: at, min_distance: *lowest };
                    return Some(Transition::Start { distance: d });
                }
                None
            }
            Phase::Alarm { above, since, last_event, min_distance } => {
                *above = match distance {
                    Some(d) if d <= clear_above => 0,
                    _ => *above + 1,
                };
                if let Some(d) = distance {
                    *min_distance = min_distance.min(d);
                }
                if *above >= self.for_frames {
                    let end = Transition::End {
                        distance,
                        min_distance: *min_distance,
                        duration: at.saturating_duration_since(*since),
                    };
                    self.phase = Phase::Clear { below: 0, lowest: f64::INFINITY };
                    self.ended_at = Some(at);
                    return Some(end);
                }
                if at.saturating_duration_since(*last_event) >= self.update_interval {
                    *last_event = at;
                    return Some(Transition::Update { distance, min_distance: *min_distance });
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// alarm_below 1.5, clear_above 1.8, 3 frames, 10 s cooldown, updates every 2 s; frames at 10 fps.
    fn tracker() -> Tracker {
        Tracker::new(
            Hysteresis { alarm_below: 1.5, clear_above: 1.8 },
            3,
            Duration::from_secs(10),
            Duration::from_secs(2),
        )
    }

    /// Feeds `distances` as frames 100 ms apart from `t0` + `first` frames; returns (frame, transition).
    fn feed(tracker: &mut Tracker, t0: Instant, first: usize, distances: &[Option<f64>]) -> Vec<(usize, Transition)> {
        distances
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let frame = first + i;
                tracker.observe(*d, t0 + Duration::from_millis(100 * frame as u64)).map(|t| (frame, t))
            })
            .collect()
    }

    #[test]
    fn raises_on_the_third_frame_below_and_clears_on_the_third_above() {
        let (mut t, t0) = (tracker(), Instant::now());
        let seq = [2.0, 1.4, 1.3, 1.2, 1.6, 1.7, 1.9, 2.0, 2.1].map(Some);
        let out = feed(&mut t, t0, 0, &seq);
        assert_eq!(out[0], (3, Transition::Start { distance: 1.2 }));
        // 1.6 and 1.7 are between the thresholds: still raised. Cleared on the third frame above 1.8.
        assert_eq!(
            out[1],
            (8, Transition::End { distance: Some(2.1), min_distance: 1.2, duration: Duration::from_millis(500) })
        );
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn a_distance_hovering_at_a_threshold_does_not_flicker() {
        let (mut t, t0) = (tracker(), Instant::now());
        let hover: Vec<Option<f64>> = (0..40).map(|i| Some(if i % 2 == 0 { 1.49 } else { 1.51 })).collect();
        assert!(feed(&mut t, t0, 0, &hover).is_empty(), "never 3 frames in a row below 1.5");
        let below = [1.4; 3].map(Some);
        assert!(matches!(feed(&mut t, t0, 40, &below)[..], [(42, Transition::Start { .. })]));
        let hover: Vec<Option<f64>> = (0..18).map(|i| Some(if i % 2 == 0 { 1.79 } else { 1.81 })).collect();
        assert!(feed(&mut t, t0, 43, &hover).iter().all(|(_, tr)| matches!(tr, Transition::Update { .. })));
        assert!(t.in_alarm());
    }

    #[test]
    fn an_empty_zone_clears_and_updates_come_at_most_every_interval() {
        let (mut t, t0) = (tracker(), Instant::now());
        feed(&mut t, t0, 0, &[Some(1.0); 3]);
        let updates = feed(&mut t, t0, 3, &[Some(1.1); 47]);
        let frames: Vec<usize> = updates.iter().map(|(f, _)| *f).collect();
        assert_eq!(frames, vec![22, 42], "started at frame 2; updates 2 s apart");
        let out = feed(&mut t, t0, 50, &[None; 3]);
        assert!(matches!(out[..], [(52, Transition::End { distance: None, .. })]));
    }

    #[test]
    fn an_abandoned_alarm_ends_at_once_and_a_clear_rule_has_nothing_to_end() {
        let (mut t, t0) = (tracker(), Instant::now());
        assert_eq!(t.abandon(t0), None);
        feed(&mut t, t0, 0, &[Some(1.2), Some(1.0), Some(1.1)]);
        let end = t.abandon(t0 + Duration::from_secs(1));
        assert_eq!(
            end,
            Some(Transition::End { distance: None, min_distance: 1.0, duration: Duration::from_millis(800) })
        );
        assert!(!t.in_alarm());
    }

    #[test]
    fn no_new_alarm_during_the_cooldown_but_right_after_it() {
        let (mut t, t0) = (tracker(), Instant::now());
        feed(&mut t, t0, 0, &[Some(1.0); 3]);
        let end = feed(&mut t, t0, 3, &[Some(2.0); 3]);
        assert!(matches!(end[..], [(5, Transition::End { .. })]));
        // Ended at frame 5 (0.5 s); the cooldown lasts until 10.5 s = frame 105.
        let out = feed(&mut t, t0, 6, &[Some(1.0); 120]);
        assert_eq!(out[0], (105, Transition::Start { distance: 1.0 }));
    }

    #[test]
    fn settled_only_while_clear_and_counting_no_frame() {
        let (mut t, t0) = (tracker(), Instant::now());
        assert!(t.settled());
        feed(&mut t, t0, 0, &[Some(1.4)]);
        assert!(!t.settled(), "a frame counted towards a start");
        feed(&mut t, t0, 1, &[Some(1.6)]);
        assert!(t.settled(), "between the thresholds the count starts again");
        feed(&mut t, t0, 2, &[Some(1.0); 3]);
        assert!(!t.settled(), "in alarm");
        feed(&mut t, t0, 5, &[Some(2.0); 3]);
        assert!(t.settled(), "cleared");
    }
}
