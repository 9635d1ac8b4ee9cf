//! rumqttc's connection options from the `[mqtt]` section: broker, client id, keep-alive,
//! the last will (`offline` on the availability topic), credentials and TLS (rustls with the
//! ring provider; the CA file or the system's roots; an optional client certificate).
//! The password is read here and never logged.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use dinoedge_config::Config;
use rumqttc::{LastWill, MqttOptions, QoS, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::topics::{OFFLINE, Topics};

/// Largest message dinoedge sends (a snapshot JPEG).
const MAX_OUTGOING_PACKET: usize = 8 << 20;

pub fn mqtt_options(config: &Config, topics: &Topics) -> Result<MqttOptions> {
    let m = &config.mqtt;
    let mut options = MqttOptions::new(config.client_id(), m.url.host.clone(), m.url.port);
    options
        .set_keep_alive(m.keep_alive)
        .set_clean_session(true)
        .set_inflight(super::publisher::WINDOW as u16 + 16)
        .set_request_channel_capacity(super::publisher::WINDOW * 4)
        .set_max_packet_size(1 << 20, MAX_OUTGOING_PACKET)
        .set_last_will(LastWill::new(topics.availability(), OFFLINE, QoS::AtLeastOnce, true));
    if let Some(user) = &m.username {
        options.set_credentials(user.clone(), password(config)?.unwrap_or_default());
    }
    if m.url.tls {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(tls_config(config)?))));
    }
    Ok(options)
}

fn password(config: &Config) -> Result<Option<String>> {
    let m = &config.mqtt;
    if let Some(file) = &m.password_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the MQTT password file {}", file.display()))?;
        if let Some(mode) = shared(file) {
            log::warn!(
                "the MQTT password file {} can be read by every user of this machine (mode {mode:o}): \
                 `chmod o-rwx` it (the packages' service reads it as user dinoedge)",
                file.display()
            );
        }
        return Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()));
    }
    if let Some(var) = &m.password_env {
        let value = std::env::var(var).with_context(|| format!("the MQTT password variable {var} is not set"))?;
        return Ok(Some(value));
    }
    Ok(None)
}

/// The permission bits of `file` when others (not its owner, not its group) may read it.
fn shared(file: &std::path::Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file).ok()?.permissions().mode() & 0o7777;
    (mode & 0o004 != 0).then_some(mode)
}

fn tls_config(config: &Config) -> Result<rustls::ClientConfig> {
    let m = &config.mqtt;
    let mut roots = rustls::RootCertStore::empty();
    match &m.ca_file {
        Some(file) => {
            for cert in
                CertificateDer::pem_file_iter(file).with_context(|| format!("reading CA file {}", file.display()))?
            {
                let cert = cert.with_context(|| format!("{}: not a PEM certificate", file.display()))?;
                roots.add(cert).with_context(|| format!("{}: unusable CA certificate", file.display()))?;
            }
            if roots.is_empty() {
                bail!("{}: no certificate in the CA file", file.display());
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                bail!("no system CA certificates found for mqtts://; set mqtt.ca_file");
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots);
    Ok(match (&m.client_cert, &m.client_key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("{}: not a PEM certificate chain", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .with_context(|| format!("{}: not a PEM private key", key.display()))?;
            builder.with_client_auth_cert(chain, key).context("the client certificate and key do not match")?
        }
        _ => builder.with_no_client_auth(),
    })
}
