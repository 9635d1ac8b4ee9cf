//! The real MQTT broker for the daemon tests: `mosquitto` (from PATH or /usr/sbin) on a free
//! port of 127.0.0.1, with its own config and persistence folder, stopped with the test; and
//! a subscriber (rumqttc, persistent session, QoS 1) that records what it receives.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Broker {
    /// The first listener's port.
    pub port: u16,
    pub ports: Vec<u16>,
    dir: PathBuf,
    child: Option<Child>,
}

fn mosquitto() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("mosquitto")).find(|p| p.is_file()))
        .unwrap_or_default();
    on_path.unwrap_or_else(|| {
        let sbin = PathBuf::from("/usr/sbin/mosquitto");
        assert!(sbin.is_file(), "mosquitto is not installed: `apt-get install mosquitto` (tools/test.sh does this)");
        sbin
    })
}

use super::free_port;

impl Broker {
    /// Starts mosquitto in `dir` with one anonymous listener on a free port; `extra` is
    /// appended to its config.
    pub fn start(dir: &Path, extra: &str) -> Broker {
        Self::start_with(dir, 1, |ports| format!("listener {} 127.0.0.1\nallow_anonymous true\n{extra}", ports[0]))
    }

    /// Starts mosquitto in `dir` with `listeners(ports)` (for `n` free ports) as the
    /// listener part of its config.
    pub fn start_with(dir: &Path, n: usize, listeners: impl Fn(&[u16]) -> String) -> Broker {
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        std::fs::create_dir_all(dir).unwrap();
        // Started as root, mosquitto would switch to its own user, who cannot write here.
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        let conf = format!(
            "user {}\npersistence true\npersistence_location {}/\nautosave_interval 1\n\
             log_dest file {}/mosquitto.log\nlog_type all\n{}\n",
            user.trim(),
            dir.display(),
            dir.display(),
            listeners(&ports)
        );
        std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
        let mut broker = Broker { port: ports[0], ports, dir: dir.to_path_buf(), child: None };
        broker.restart();
        broker
    }

    /// (Re)starts the broker on the same port, with the sessions it saved.
    pub fn restart(&mut self) {
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
        // Listening on the port is not enough: it must be this broker that does.
        std::thread::sleep(Duration::from_millis(50));
        let exited = self.child.as_mut().unwrap().try_wait().unwrap();
        assert!(exited.is_none(), "mosquitto exited ({exited:?}); see {}/mosquitto.log", self.dir.display());
    }

    /// Stops the broker gracefully (it saves its sessions and queued messages).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A message as received.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    pub received: std::time::SystemTime,
}

/// The last payload on `topic` among `messages`.
pub trait LastOn {
    fn last_topic_payload(&self, topic: &str) -> Option<&[u8]>;
}

impl LastOn for [Message] {
    fn last_topic_payload(&self, topic: &str) -> Option<&[u8]> {
        self.iter().rev().find(|m| m.topic == topic).map(|m| m.payload.as_slice())
    }
}

impl Message {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// Subscribes to `filter` with a persistent session (it gets what was queued for it while
/// it or the broker was away) and records every message.
pub struct Subscriber {
    pub messages: Arc<Mutex<Vec<Message>>>,
}

impl Subscriber {
    pub fn start(port: u16, id: &str, filter: &str) -> Subscriber {
        use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_clean_session(false).set_keep_alive(Duration::from_secs(5)).set_max_packet_size(16 << 20, 1 << 16);
        let (client, mut connection) = Client::new(options, 64);
        let messages = Arc::new(Mutex::new(Vec::new()));
        let (seen, filter, subscribed) = (messages.clone(), filter.to_string(), Arc::new(Mutex::new(false)));
        let ready = subscribed.clone();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        client.subscribe(filter.clone(), QoS::AtLeastOnce).unwrap();
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => *ready.lock().unwrap() = true,
                    Ok(Event::Incoming(Packet::Publish(p))) => seen.lock().unwrap().push(Message {
                        topic: p.topic.clone(),
                        payload: p.payload.to_vec(),
                        retain: p.retain,
                        received: std::time::SystemTime::now(),
                    }),
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !*subscribed.lock().unwrap() {
            assert!(Instant::now() < deadline, "the subscriber did not get its SUBACK");
            std::thread::sleep(Duration::from_millis(10));
        }
        Subscriber { messages }
    }

    pub fn on(&self, topic: &str) -> Vec<Message> {
        self.messages.lock().unwrap().iter().filter(|m| m.topic == topic).cloned().collect()
    }

    /// Waits until `done` holds for the messages so far, or `timeout`.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Message]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if done(&self.messages.lock().unwrap()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        done(&self.messages.lock().unwrap())
    }
}
