//! When a rule's distance raises, updates and clears an alarm.
//!
//! - **Lead.** With `lead` on, the distance a rule raises on is the one it predicts for the
//!   moment its alarm would reach the subscribers at the soonest, plus the rule's reaction
//!   time: the distance now, as a line fitted robustly (Theil–Sen) through the last
//!   [`FIT_WINDOW`] of frames gives it, less the closing speed of that line times the
//!   horizon (the frame's time through the pipeline, the time to the next frame, the
//!   `raise_after` hold, and the reaction time). A distance that opens, or holds, predicts
//!   itself. Before [`MIN_FIT`] frames over [`MIN_FIT_SPAN`] the distance now is measured alone.
//! - **Raise** once the (predicted) distance has stayed below `alarm_below` for
//!   `raise_after`, unless the rule is in its `cooldown` after the last alarm ended (the hold
//!   goes on, so an alarm starts as soon as the cooldown is over if the distance is still low).
//! - **Clear** once the distance now has stayed above `clear_above` (and the prediction above
//!   `alarm_below`), or nothing was measured, for `clear_after`. A frame between the thresholds
//!   restarts both holds, so a distance hovering at one threshold cannot flicker the alarm.
//! - **Update** while raised, at most every `update_interval`, with the latest distance.
//!
//! Holds are times, not frame counts: a slower box does not wait longer. The lowest distance
//! reported by updates and the end counts from the first of the frames that raised the alarm.
//! Times are the frames' capture times on a monotonic clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use dinoedge_config::{Holds, Hysteresis};

/// The closing speed is fitted over the frames of the last this long …
pub const FIT_WINDOW: Duration = Duration::from_secs(1);
/// … when there are at least this many …
pub const MIN_FIT: usize = 3;
/// … spanning at least this long.
pub const MIN_FIT_SPAN: Duration = Duration::from_millis(300);

/// What an observed frame changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transition {
    Start { distance: f64 },
    Update { distance: Option<f64>, min_distance: f64 },
    End { distance: Option<f64>, min_distance: f64, duration: Duration },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Below `alarm_below` since `below_since`, the lowest distance of those frames `lowest`.
    Clear {
        below_since: Option<Instant>,
        lowest: f64,
    },
    Alarm {
        above_since: Option<Instant>,
        since: Instant,
        last_event: Instant,
        min_distance: f64,
    },
}

const CLEAR: Phase = Phase::Clear { below_since: None, lowest: f64::INFINITY };

/// The alarm state of one rule.
#[derive(Debug, Clone)]
pub struct Tracker {
    hysteresis: Hysteresis,
    holds: Holds,
    /// The reaction time, when the rule leads.
    lead: Option<Duration>,
    cooldown: Duration,
    update_interval: Duration,
    phase: Phase,
    ended_at: Option<Instant>,
    /// The distances of the last [`FIT_WINDOW`], by capture time.
    recent: VecDeque<(Instant, f64)>,
}

/// What a frame's distance is taken as: now, and predicted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The distance now: the fitted line's value at the frame, or the measurement alone.
    pub now: f64,
    /// What the rule raises on: `now` less the closing speed times the horizon.
    pub predicted: f64,
}

impl Tracker {
    pub fn new(
        hysteresis: Hysteresis,
        holds: Holds,
        lead: Option<Duration>,
        cooldown: Duration,
        update_interval: Duration,
    ) -> Self {
        Self {
            hysteresis,
            holds,
            lead,
            cooldown,
            update_interval,
            phase: CLEAR,
            ended_at: None,
            recent: VecDeque::new(),
        }
    }

    pub fn in_alarm(&self) -> bool {
        matches!(self.phase, Phase::Alarm { .. })
    }

    /// Clear, with no frame held towards a start: the same distance again changes nothing.
    pub fn settled(&self) -> bool {
        matches!(self.phase, Phase::Clear { below_since: None, .. })
    }

    /// Ends a raised alarm now, whatever the distance (the rule was removed or changed).
    pub fn abandon(&mut self, at: Instant) -> Option<Transition> {
        let Phase::Alarm { since, min_distance, .. } = self.phase else { return None };
        self.phase = CLEAR;
        self.ended_at = Some(at);
        Some(Transition::End { distance: None, min_distance, duration: at.saturating_duration_since(since) })
    }

    /// The distance `measured` on the frame captured `at`, now and predicted `ahead` (the
    /// frame's time through the pipeline and to the next frame; the tracker adds its hold and
    /// reaction time). Keeps the measurement for the fits of the frames after it.
    fn read(&mut self, measured: f64, at: Instant, ahead: Duration) -> Reading {
        self.recent.push_back((at, measured));
        while self.recent.front().is_some_and(|(t, _)| at.saturating_duration_since(*t) > FIT_WINDOW) {
            self.recent.pop_front();
        }
        let Some(reaction) = self.lead else { return Reading { now: measured, predicted: measured } };
        let span = self.recent.front().map_or(Duration::ZERO, |(t, _)| at.saturating_duration_since(*t));
        if self.recent.len() < MIN_FIT || span < MIN_FIT_SPAN {
            return Reading { now: measured, predicted: measured };
        }
        let (slope, now) = theil_sen(&self.recent, at);
        let closing = (-slope).max(0.0);
        let horizon = ahead + self.holds.raise_after + reaction;
        Reading { now, predicted: now - closing * horizon.as_secs_f64() }
    }

    /// Takes one frame's distance (captured `at`; `None`: nothing measured), its time `ahead`
    /// until the alarm it raised would reach the subscribers at the soonest, and says what
    /// changed.
    pub fn observe(&mut self, distance: Option<f64>, at: Instant, ahead: Duration) -> Option<Transition> {
        let Hysteresis { alarm_below, clear_above } = self.hysteresis;
        let reading = match distance {
            Some(d) => Some(self.read(d, at, ahead)),
            None => {
                self.recent.clear();
                None
            }
        };
        match &mut self.phase {
            Phase::Clear { below_since, lowest } => {
                match (reading, distance) {
                    (Some(r), Some(d)) if r.predicted < alarm_below => {
                        below_since.get_or_insert(at);
                        *lowest = lowest.min(d);
                    }
                    _ => (*below_since, *lowest) = (None, f64::INFINITY),
                }
                let held = below_since.is_some_and(|t| at.saturating_duration_since(t) >= self.holds.raise_after);
                let cooling = self.ended_at.is_some_and(|end| at.saturating_duration_since(end) < self.cooldown);
                if held && !cooling {
                    let d = distance.expect("held frames have a distance");
                    self.phase = Phase::Alarm { above_since: None, since: at, last_event: at, min_distance: *lowest };
                    return Some(Transition::Start { distance: d });
                }
                None
            }
            Phase::Alarm { above_since, since, last_event, min_distance } => {
                let clearing = reading.is_none_or(|r| r.now > clear_above && r.predicted >= alarm_below);
                if clearing {
                    above_since.get_or_insert(at);
                } else {
                    *above_since = None;
                }
                if let Some(d) = distance {
                    *min_distance = min_distance.min(d);
                }
                if above_since.is_some_and(|t| at.saturating_duration_since(t) >= self.holds.clear_after) {
                    let end = Transition::End {
                        distance,
                        min_distance: *min_distance,
                        duration: at.saturating_duration_since(*since),
                    };
                    self.phase = CLEAR;
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

/// The Theil–Sen line through `(time, distance)` points: its slope (m/s, the median of the
/// pairwise slopes) and its value at `at` (the median of each point carried to `at` along
/// that slope). Robust to a minority of wrong points, where least squares follows them.
fn theil_sen(points: &VecDeque<(Instant, f64)>, at: Instant) -> (f64, f64) {
    let seconds = |t: Instant| -(at.saturating_duration_since(t).as_secs_f64());
    let mut slopes = Vec::with_capacity(points.len() * points.len() / 2);
    for (i, (ti, di)) in points.iter().enumerate() {
        for (tj, dj) in points.iter().skip(i + 1) {
            let dt = seconds(*tj) - seconds(*ti);
            if dt > 0.0 {
                slopes.push((dj - di) / dt);
            }
        }
    }
    let slope = median(&mut slopes).unwrap_or(0.0);
    let mut carried: Vec<f64> = points.iter().map(|(t, d)| d - slope * seconds(*t)).collect();
    (slope, median(&mut carried).expect("points to fit"))
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLD: Duration = Duration::from_millis(200);

    /// alarm_below 1.5, clear_above 1.8, 0.2 s holds, 10 s cooldown, updates every 2 s; no lead.
    fn tracker() -> Tracker {
        let holds = Holds { raise_after: HOLD, clear_after: HOLD };
        let hysteresis = Hysteresis { alarm_below: 1.5, clear_above: 1.8 };
        Tracker::new(hysteresis, holds, None, Duration::from_secs(10), Duration::from_secs(2))
    }

    /// Feeds `distances` as frames `period` apart from `t0` + `first` frames, each `ahead`;
    /// returns (frame, transition).
    fn feed_at(
        tracker: &mut Tracker,
        (t0, period, ahead): (Instant, Duration, Duration),
        first: usize,
        distances: &[Option<f64>],
    ) -> Vec<(usize, Transition)> {
        distances
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let frame = first + i;
                tracker.observe(*d, t0 + period * frame as u32, ahead).map(|t| (frame, t))
            })
            .collect()
    }

    /// Frames 100 ms apart, nothing ahead.
    fn feed(tracker: &mut Tracker, t0: Instant, first: usize, distances: &[Option<f64>]) -> Vec<(usize, Transition)> {
        feed_at(tracker, (t0, Duration::from_millis(100), Duration::ZERO), first, distances)
    }

    #[test]
    fn raises_once_below_for_the_hold_and_clears_once_above_for_it() {
        let (mut t, t0) = (tracker(), Instant::now());
        let seq = [2.0, 1.4, 1.3, 1.2, 1.6, 1.7, 1.9, 2.0, 2.1].map(Some);
        let out = feed(&mut t, t0, 0, &seq);
        // Below from frame 1 (0.1 s): held 0.2 s at frame 3.
        assert_eq!(out[0], (3, Transition::Start { distance: 1.2 }));
        // 1.6 and 1.7 are between the thresholds: still raised. Above 1.8 from frame 6: ended at 8.
        assert_eq!(
            out[1],
            (8, Transition::End { distance: Some(2.1), min_distance: 1.2, duration: Duration::from_millis(500) })
        );
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn a_slower_box_waits_no_longer() {
        // Frames 270 ms apart (the default model's pace): the 0.2 s hold is over on the second
        // frame below, 0.27 s after the first, where three frames would have taken 0.54 s.
        let (mut t, t0) = (tracker(), Instant::now());
        let slow = (t0, Duration::from_millis(270), Duration::ZERO);
        let out = feed_at(&mut t, slow, 0, &[Some(2.0), Some(1.4), Some(1.3), Some(1.2)]);
        assert_eq!(out, [(2, Transition::Start { distance: 1.3 })]);
    }

    #[test]
    fn a_distance_hovering_at_a_threshold_does_not_flicker() {
        let (mut t, t0) = (tracker(), Instant::now());
        let hover: Vec<Option<f64>> = (0..40).map(|i| Some(if i % 2 == 0 { 1.49 } else { 1.51 })).collect();
        assert!(feed(&mut t, t0, 0, &hover).is_empty(), "never below 1.5 for 0.2 s");
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
    fn settled_only_while_clear_and_holding_no_frame() {
        let (mut t, t0) = (tracker(), Instant::now());
        assert!(t.settled());
        feed(&mut t, t0, 0, &[Some(1.4)]);
        assert!(!t.settled(), "a frame held towards a start");
        feed(&mut t, t0, 1, &[Some(1.6)]);
        assert!(t.settled(), "between the thresholds the hold starts again");
        feed(&mut t, t0, 2, &[Some(1.0); 3]);
        assert!(!t.settled(), "in alarm");
        feed(&mut t, t0, 5, &[Some(2.0); 3]);
        assert!(t.settled(), "cleared");
    }

    /// The scripted forklift's gap: 1.2 m/s from `start`, braking at 0.8 m/s² to stop at `stop`
    /// (as the simulator's clips drive it), `t` seconds in.
    fn braking(start: f64, stop: f64, t: f64) -> f64 {
        let (speed, decel) = (1.2, 0.8);
        let braking = speed * speed / (2.0 * decel);
        let cruise = (start - stop - braking).max(0.0) / speed;
        let tb = (t - cruise).clamp(0.0, speed / decel);
        start - speed * t.min(cruise) - (speed * tb - decel * tb * tb / 2.0)
    }

    /// A leading tracker: no holds to raise, the default reaction time.
    fn leading() -> Tracker {
        let holds = Holds { raise_after: Duration::ZERO, clear_after: Duration::from_secs(1) };
        let hysteresis = Hysteresis { alarm_below: 1.5, clear_above: 1.8 };
        Tracker::new(hysteresis, holds, Some(Duration::from_millis(300)), Duration::ZERO, Duration::from_secs(5))
    }

    /// The frame (3.7 a second, each 0.6 s ahead) an alarm starts on, for a forklift braking
    /// to a stop at `stop` from 6 m out.
    fn start_frame(mut tracker: Tracker, stop: f64) -> Option<(usize, f64)> {
        let t0 = Instant::now();
        let period = Duration::from_secs_f64(1.0 / 3.7);
        let gaps: Vec<Option<f64>> = (0..60).map(|i| Some(braking(6.0, stop, i as f64 / 3.7))).collect();
        let out = feed_at(&mut tracker, (t0, period, Duration::from_millis(600)), 0, &gaps);
        out.iter().find_map(|(f, t)| matches!(t, Transition::Start { .. }).then(|| (*f, gaps[*f].unwrap())))
    }

    #[test]
    fn a_leading_rule_raises_before_a_closing_forklift_crosses_and_not_for_one_that_stops_short() {
        // Crossing 1.5 m on its way to 0.8 m: without lead the alarm starts on the first frame
        // below; with it, frames earlier, while the gap still reads more than 1.5 m.
        let mut plain = leading();
        plain.lead = None;
        let (late, _) = start_frame(plain, 0.8).unwrap();
        let (early, gap) = start_frame(leading(), 0.8).unwrap();
        assert!(braking(6.0, 0.8, late as f64 / 3.7) < 1.5);
        assert!(early < late && gap > 1.5, "started at frame {early} ({gap:.2} m), without lead at {late}");
        // Stopping 2.5 m short, braking from 1.2 m/s: no alarm, with or without lead.
        assert_eq!(start_frame(leading(), 2.5), None);
    }

    #[test]
    fn one_wrong_frame_neither_raises_nor_predicts() {
        let (mut t, t0) = (leading(), Instant::now());
        let mut steady: Vec<Option<f64>> = vec![Some(3.0); 20];
        steady[12] = Some(0.5);
        assert!(feed(&mut t, t0, 0, &steady).is_empty(), "one frame at 0.5 m in a steady 3 m");
    }

    #[test]
    fn theil_sen_fits_a_line_through_a_wrong_point() {
        let t0 = Instant::now();
        let at = t0 + Duration::from_millis(400);
        let points: VecDeque<(Instant, f64)> = (0..5)
            .map(|i| (t0 + Duration::from_millis(100 * i), if i == 2 { 9.0 } else { 4.0 - 1.2 * 0.1 * i as f64 }))
            .collect();
        let (slope, now) = theil_sen(&points, at);
        assert!((slope + 1.2).abs() < 1e-9 && (now - 3.52).abs() < 1e-9, "slope {slope}, now {now}");
    }
}
