//! Value types that validate themselves while deserialising: a topic-safe name, a broker
//! URL, a zone polygon and a rule's zone (a polygon or a calibrated zone's name). A wrong value is an error at its own line and column.

use std::fmt;

use serde::Deserialize;

/// A name that is safe in an MQTT topic level and a Home Assistant id: 1 to 64 ASCII letters,
/// digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.0
    }
}

impl TryFrom<String> for Name {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let ok =
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok { Ok(Name(s)) } else { Err(format!("`{s}`: expected 1 to 64 letters, digits, `-` or `_`")) }
    }
}

/// Parses a name given on the command line.
impl std::str::FromStr for Name {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Name::try_from(s.to_owned())
    }
}

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `mqtt://host[:port]` (default port 1883) or `mqtts://host[:port]` (TLS, default 8883).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct BrokerUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Default for BrokerUrl {
    fn default() -> Self {
        Self { tls: false, host: "127.0.0.1".into(), port: 1883 }
    }
}

impl TryFrom<String> for BrokerUrl {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        // A URL with a user (and perhaps a password) is refused below: the error shows neither.
        let shown = match s.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.rsplit_once('@')?.1))) {
            Some((scheme, host)) => format!("{scheme}://…@{host}"),
            None => s.clone(),
        };
        let bad = |why: &str| format!("`{shown}`: {why}; expected mqtt://host[:port] or mqtts://host[:port]");
        let (tls, rest) = match s.split_once("://") {
            Some(("mqtt", rest)) => (false, rest),
            Some(("mqtts", rest)) => (true, rest),
            Some((scheme, _)) => return Err(bad(&format!("unknown scheme `{scheme}`"))),
            None => return Err(bad("no scheme")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('@') {
            return Err(bad("a path or user in the URL is not supported (use `username`)"));
        }
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = match rest.rsplit_once(':') {
            // A bracketed IPv6 address has colons of its own.
            Some((host, port)) if !port.contains(']') => {
                (host, port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad(&format!("port `{port}`")))?)
            }
            _ => (rest, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(BrokerUrl { tls, host: host.into(), port })
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// A simple polygon in normalised image coordinates (x right, y down, both 0..1): at least
/// three points, no two edges crossing, a non-zero area.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(try_from = "Vec<[f64; 2]>")]
pub struct Zone(Vec<[f64; 2]>);

impl TryFrom<Vec<[f64; 2]>> for Zone {
    type Error = String;

    fn try_from(points: Vec<[f64; 2]>) -> Result<Self, String> {
        if points.len() < 3 {
            return Err(format!("a zone needs at least 3 points, found {}", points.len()));
        }
        if let Some((i, p)) = points.iter().enumerate().find(|(_, p)| !p.iter().all(|v| (0.0..=1.0).contains(v))) {
            return Err(format!(
                "zone point {} [{}, {}] is outside the image: coordinates are normalised, 0 to 1",
                i + 1,
                p[0],
                p[1]
            ));
        }
        let n = points.len();
        for i in 0..n {
            for j in i + 1..n {
                // Adjacent edges share a vertex; only edges with no common vertex may not meet.
                if j == i + 1 || (i == 0 && j == n - 1) {
                    continue;
                }
                let (a, b) = (points[i], points[(i + 1) % n]);
                let (c, d) = (points[j], points[(j + 1) % n]);
                if segments_meet(a, b, c, d) {
                    return Err(format!("the zone crosses itself: edge {} meets edge {}", i + 1, j + 1));
                }
            }
        }
        let zone = Zone(points);
        if zone.area() < 1e-9 {
            return Err("the zone has no area (its points are on one line)".into());
        }
        Ok(zone)
    }
}

impl Zone {
    pub fn points(&self) -> &[[f64; 2]] {
        &self.0
    }

    /// Area by the shoelace formula, in normalised units (1 = the whole frame).
    pub fn area(&self) -> f64 {
        let n = self.0.len();
        (0..n)
            .map(|i| {
                let (a, b) = (self.0[i], self.0[(i + 1) % n]);
                a[0] * b[1] - b[0] * a[1]
            })
            .sum::<f64>()
            .abs()
            / 2.0
    }

    /// Whether the normalised point (x, y) is inside (even-odd rule).
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let n = self.0.len();
        let mut inside = false;
        for i in 0..n {
            let (a, b) = (self.0[i], self.0[(i + 1) % n]);
            if (a[1] > y) != (b[1] > y) && x < a[0] + (y - a[1]) / (b[1] - a[1]) * (b[0] - a[0]) {
                inside = !inside;
            }
        }
        inside
    }
}

fn cross(o: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Whether segments ab and cd share a point (touching counts).
fn segments_meet(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let (d1, d2) = (cross(c, d, a), cross(c, d, b));
    let (d3, d4) = (cross(a, b, c), cross(a, b, d));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0)) && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0)) {
        return true;
    }
    let on = |p: [f64; 2], q: [f64; 2], r: [f64; 2]| {
        cross(p, q, r) == 0.0
            && r[0] >= p[0].min(q[0])
            && r[0] <= p[0].max(q[0])
            && r[1] >= p[1].min(q[1])
            && r[1] <= p[1].max(q[1])
    };
    on(c, d, a) || on(c, d, b) || on(a, b, c) || on(a, b, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(points: &[[f64; 2]]) -> Result<Zone, String> {
        Zone::try_from(points.to_vec())
    }

    #[test]
    fn a_square_zone_has_its_area_and_contains_its_centre_only() {
        let z = zone(&[[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]]).unwrap();
        assert!((z.area() - 0.16).abs() < 1e-12);
        assert!(z.contains(0.4, 0.4));
        assert!(!z.contains(0.1, 0.4) && !z.contains(0.7, 0.4) && !z.contains(0.4, 0.9));
    }

    #[test]
    fn a_bow_tie_a_line_and_two_points_are_refused() {
        let bow_tie = zone(&[[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]).unwrap_err();
        assert!(bow_tie.contains("crosses itself"), "{bow_tie}");
        let line = zone(&[[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]]).unwrap_err();
        assert!(line.contains("no area"), "{line}");
        assert!(zone(&[[0.1, 0.1], [0.5, 0.5]]).unwrap_err().contains("at least 3 points"));
        assert!(zone(&[[0.1, 0.1], [1.5, 0.5], [0.2, 0.9]]).unwrap_err().contains("point 2 [1.5, 0.5]"));
    }

    #[test]
    fn broker_urls_take_default_ports_and_refuse_other_schemes() {
        let url = |s: &str| BrokerUrl::try_from(s.to_string());
        assert_eq!(url("mqtt://broker").unwrap(), BrokerUrl { tls: false, host: "broker".into(), port: 1883 });
        assert_eq!(url("mqtts://broker:9000").unwrap(), BrokerUrl { tls: true, host: "broker".into(), port: 9000 });
        assert_eq!(url("mqtt://[::1]:1884").unwrap().host, "::1");
        assert!(url("http://broker").unwrap_err().contains("unknown scheme `http`"));
        assert!(url("mqtt://broker:0").unwrap_err().contains("port `0`"));
        assert!(url("broker:1883").unwrap_err().contains("no scheme"));
        let secret = url("mqtt://dock:hunter2@broker:1883").unwrap_err();
        assert!(secret.contains("`mqtt://…@broker:1883`: a path or user") && !secret.contains("hunter2"), "{secret}");
    }

    #[test]
    fn names_are_topic_safe() {
        assert!(Name::try_from("dock-1_a".to_string()).is_ok());
        for bad in ["", "dock/1", "dock 1", "dock#", "+"] {
            assert!(Name::try_from(bad.to_string()).is_err(), "{bad:?}");
        }
    }
}

/// A rule's zone: a polygon written in the rule, or the name of a zone drawn at calibration
/// (a `[[zone]]` of the camera's calibration file), resolved when the calibration is loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum ZoneRef {
    Polygon(Zone),
    Named(Name),
}

impl<'de> Deserialize<'de> for ZoneRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ZoneRef;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a polygon [[x, y], …] or the name of a zone in the camera's calibration")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ZoneRef, E> {
                Name::try_from(v.to_string()).map(ZoneRef::Named).map_err(E::custom)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ZoneRef, A::Error> {
                let mut points = Vec::new();
                while let Some(p) = seq.next_element::<[f64; 2]>()? {
                    points.push(p);
                }
                Zone::try_from(points).map(ZoneRef::Polygon).map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// What a depth model's output means, as a model's metadata and a calibration record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DepthKind {
    /// Metres along the optical axis.
    #[default]
    Metric,
    /// Affine-invariant inverse depth: `a · value + b` is 1 / metres for a scale `a` and a
    /// shift `b` that only a calibration on site can tell.
    Relative,
}

impl DepthKind {
    /// The farthest depth a relative model's aligned output gives (metres): where its inverse
    /// depth is this close to zero or below, the model sees no nearer surface (the sky, a far
    /// wall).
    pub const RELATIVE_MAX_DEPTH_M: f64 = 1000.0;

    /// Metres from `line`, the model's output through an affine alignment `a · output + b`:
    /// the line itself for a metric model; for a relative one the line is inverse depth,
    /// capped at [`Self::RELATIVE_MAX_DEPTH_M`].
    pub fn metres(self, line: f64) -> f64 {
        match self {
            DepthKind::Metric => line,
            DepthKind::Relative => 1.0 / line.max(1.0 / Self::RELATIVE_MAX_DEPTH_M),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            DepthKind::Metric => "metric",
            DepthKind::Relative => "relative",
        }
    }
}

impl std::fmt::Display for DepthKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DepthKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "metric" => Ok(DepthKind::Metric),
            "relative" => Ok(DepthKind::Relative),
            other => Err(format!("`{other}` is not a depth kind (metric or relative)")),
        }
    }
}
