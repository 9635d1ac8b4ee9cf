//! Brokers that want credentials: a password (from a file, or from an environment variable),
//! and TLS with a CA made in the test and a client certificate. The daemon's events arrive
//! through each; a wrong password or an unknown CA is a clear log line, never a crash.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use support::broker::{Broker, Subscriber};
use support::{path, run_ok};

/// A clip of the forklift standing within 1.5 m of the dock, and a config `name` whose one
/// camera plays it (sim-truth depth) with a plane_distance rule; `mqtt` is the `[mqtt]` body.
/// At 160 × 120 the fork tines are under a pixel, too small a part to count: the rule measures
/// the forklift's body, 2 m from the dock, and alarms below 2.5 m.
fn site(dir: &Path, name: &str, mqtt: &str) -> std::path::PathBuf {
    let clip = dir.join("clip");
    if !clip.join("truth.json").exists() {
        run_ok(
            &["sim", "clip", "--scenario", "forklift-cross", "--out", path(&clip), "--width", "160", "--height", "120"],
            dir,
        );
    }
    let config = format!(
        r#"device_id = "auth"
state_dir = "state"

[model]
kind = "sim-truth"

[mqtt]
{mqtt}

[[camera]]
name = "dock1"
calibration = "clip/calibration.toml"

[camera.source]
kind = "images"
path = "clip/rgb/00009*.png"
fps = 20

[[rule]]
name = "forks"
camera = "dock1"
kind = "plane_distance"
plane = "dock_face"
zone = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
margin_m = 0.1
alarm_below = 2.5
clear_above = 3.0
"#
    );
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, config).unwrap();
    file
}

fn password_file(dir: &Path, user: &str, password: &str) -> std::path::PathBuf {
    let file = dir.join("passwd");
    let ok = Command::new("mosquitto_passwd").arg("-b").arg("-c").arg(&file).args([user, password]).status().unwrap();
    assert!(ok.success(), "mosquitto_passwd (from the mosquitto package) makes the broker's password file");
    file
}

/// A broker with a listener that needs `auth` (the first port) and a plain one for the
/// test's subscriber (the second).
fn broker(dir: &Path, auth: &str) -> Broker {
    Broker::start_with(&dir.join("broker"), 2, |ports| {
        format!(
            "per_listener_settings true\nlistener {} 127.0.0.1\n{auth}\nlistener {} 127.0.0.1\nallow_anonymous true\n",
            ports[0], ports[1]
        )
    })
}

fn start_event_arrives(broker: &Broker, config: &Path) -> String {
    let sub = Subscriber::start(broker.ports[1], "auth-sub", "dinoedge/auth/events");
    let log = support::finish(support::spawn_daemon(config), Duration::from_secs(30));
    let arrived = sub.wait_for(Duration::from_secs(5), |m| m.iter().any(|m| m.json()["type"] == "start"));
    assert!(arrived, "the alarm start arrives through the authenticated listener: {log}");
    log
}

#[test]
fn a_password_from_a_file_or_the_environment_is_accepted_and_a_wrong_one_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let users = password_file(dir, "dinoedge", "s3cret-pw");
    let broker = broker(dir, &format!("allow_anonymous false\npassword_file {}", users.display()));
    std::fs::write(dir.join("mqtt-password"), "s3cret-pw\n").unwrap();
    let url = format!("mqtt://127.0.0.1:{}", broker.ports[0]);

    let from_file =
        site(dir, "from-file", &format!("url = \"{url}\"\nusername = \"dinoedge\"\npassword_file = \"mqtt-password\""));
    let log = start_event_arrives(&broker, &from_file);
    assert!(!log.contains("s3cret-pw"), "the password is never logged");
    // Written with the usual umask: every user of the machine can read it.
    assert!(log.contains("mqtt-password can be read by every user of this machine (mode 644)"), "{log}");

    let from_env = site(
        dir,
        "from-env",
        &format!("url = \"{url}\"\nusername = \"dinoedge\"\npassword_env = \"DINOEDGE_TEST_PW\""),
    );
    let sub = Subscriber::start(broker.ports[1], "auth-sub-env", "dinoedge/auth/events");
    let daemon = Command::new(env!("CARGO_BIN_EXE_dinoedge"))
        .args(["run", "--config", path(&from_env)])
        .env("DINOEDGE_TEST_PW", "s3cret-pw")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    support::finish(daemon, Duration::from_secs(30));
    assert!(
        sub.wait_for(Duration::from_secs(5), |m| !m.is_empty()),
        "events arrive with the password from the environment"
    );

    std::fs::write(dir.join("mqtt-password"), "wrong\n").unwrap();
    std::fs::set_permissions(dir.join("mqtt-password"), std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let log = support::finish(support::spawn_daemon(&from_file), Duration::from_secs(30));
    assert!(!log.contains("can be read by every user"), "owner and group only: {log}");
    assert!(log.contains("the broker refused the connection"), "{log}");
    assert!(!log.contains("wrong"), "the password is never logged: {log}");
}

#[test]
fn tls_with_the_sites_ca_and_a_client_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A CA, a server certificate for 127.0.0.1 and a client certificate, all made here.
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "dinoedge test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |name: &str, file: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{file}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
    };
    leaf("127.0.0.1", "server");
    leaf("dinoedge-client", "client");
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let d = dir.display();
    let broker = broker(
        dir,
        &format!(
            "allow_anonymous true\ncafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\nrequire_certificate true"
        ),
    );
    let url = format!("mqtts://127.0.0.1:{}", broker.ports[0]);

    let good = site(
        dir,
        "tls",
        &format!("url = \"{url}\"\nca_file = \"ca.pem\"\nclient_cert = \"client.pem\"\nclient_key = \"client.key\""),
    );
    start_event_arrives(&broker, &good);

    // Without the site's CA, the system roots do not know the broker's certificate.
    let unknown =
        site(dir, "no-ca", &format!("url = \"{url}\"\nclient_cert = \"client.pem\"\nclient_key = \"client.key\""));
    let log = support::finish(support::spawn_daemon(&unknown), Duration::from_secs(30));
    assert!(log.contains("cannot reach the MQTT broker") && log.contains("UnknownIssuer"), "{log}");
}
