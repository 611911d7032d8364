//! HTTPS served by Leitstand itself (AGT-2 identity): either a private CA
//! made on first start (`tls = "auto"`), which agents pin, or the provider's
//! own certificate (`tls = "files"`). `tls = "off"` serves plain HTTP, for a
//! reverse proxy in front.
//!
//! With `auto`, `<data_dir>/tls/` keeps the CA key and certificate and the
//! server key; the server certificate is signed afresh at each start for the
//! names in `base_url` (plus localhost), so a changed name needs only a
//! restart. Agents trust the CA certificate alone (`ca_file`), and the
//! install command pins the server key (`curl --pinnedpubkey`), so neither
//! ever trusts a certificate someone else issued.

use anyhow::Context;
use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// What the pages and scripts need to know about the server's TLS.
#[derive(Clone, Debug)]
pub struct TlsInfo {
    /// The private CA's certificate (PEM), served at `/downloads/ca.pem`;
    /// `None` with the provider's own certificate.
    pub ca_pem: Option<String>,
    /// `sha256//<base64>` of the server key, for `curl --pinnedpubkey`.
    pub pin: Option<String>,
}

/// The server's TLS set-up, or `None` for plain HTTP.
pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    pub info: TlsInfo,
}

/// Reads or makes what the configured mode needs.
pub fn prepare(config: &crate::config::Config) -> anyhow::Result<Option<Tls>> {
    match config.tls.as_str() {
        "off" => Ok(None),
        "auto" => auto(&config.data_dir.join("tls"), &config.base_url()).map(Some),
        "files" => {
            let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
                anyhow::bail!("tls = \"files\" needs tls_cert and tls_key (PEM files)");
            };
            files(cert, key).map(Some)
        }
        other => anyhow::bail!("tls = {other:?}: use \"off\", \"auto\" or \"files\""),
    }
}

fn server_config(chain: Vec<Vec<u8>>, key_der: Vec<u8>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain = chain.into_iter().map(rustls::pki_types::CertificateDer::from).collect();
    let key = rustls::pki_types::PrivateKeyDer::try_from(key_der).map_err(|e| anyhow::anyhow!("server key: {e}"))?;
    let mut c = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate does not fit the key")?;
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(c))
}

fn files(cert: &Path, key: &Path) -> anyhow::Result<Tls> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let chain: Vec<Vec<u8>> = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: not PEM certificates", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{}: no certificate in it", cert.display());
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .with_context(|| format!("{}: not a PEM key", key.display()))?
        .with_context(|| format!("{}: no private key in it", key.display()))?;
    Ok(Tls { config: server_config(chain, key.secret_der().to_vec())?, info: TlsInfo { ca_pem: None, pin: None } })
}

/// The CA's fixed parameters: the same key and these make the same issuer,
/// so the certificate object can be made again at each start.
fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Leitstand agent CA");
    dn.push(DnType::OrganizationName, "Leitstand");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2125, 1, 1);
    p
}

/// A key kept in `path` (0600), made when missing.
fn key_in(path: &Path) -> anyhow::Result<KeyPair> {
    if path.exists() {
        let pem = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        return KeyPair::from_pem(&pem).with_context(|| format!("{}: not a key", path.display()));
    }
    let key = KeyPair::generate()?;
    crate::cli::write_private(path, &key.serialize_pem())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(key)
}

fn auto(dir: &Path, base_url: &str) -> anyhow::Result<Tls> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let ca_key = key_in(&dir.join("ca.key"))?;
    let ca = ca_params().self_signed(&ca_key)?;
    let ca_path = dir.join("ca.pem");
    if !ca_path.exists() {
        std::fs::write(&ca_path, ca.pem()).with_context(|| format!("cannot write {}", ca_path.display()))?;
    }
    let ca_pem = std::fs::read_to_string(&ca_path)?;
    let server_key = key_in(&dir.join("server.key"))?;
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    if let Some(host) = host_of(base_url) {
        if !names.contains(&host) {
            names.insert(0, host);
        }
    }
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names[0].clone());
    p.distinguished_name = dn;
    p.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => n.clone().try_into().map(SanType::DnsName),
        })
        .collect::<Result<_, _>>()?;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2035, 1, 1);
    let cert = p.signed_by(&server_key, &ca, &ca_key)?;
    let pin = pin_of(&server_key.public_key_der());
    Ok(Tls {
        config: server_config(vec![cert.der().to_vec(), ca.der().to_vec()], server_key.serialize_der())?,
        info: TlsInfo { ca_pem: Some(ca_pem), pin: Some(pin) },
    })
}

/// `sha256//<base64 of SHA-256 of the SubjectPublicKeyInfo>`, curl's form.
pub fn pin_of(spki_der: &[u8]) -> String {
    format!("sha256//{}", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(spki_der)))
}

/// The host part of a URL like `https://leitstand.example.de:8443/x`.
pub(crate) fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    (!host.is_empty()).then(|| host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_and_server_key_are_made_once_and_the_names_follow_the_base_url() {
        let dir = tempfile::tempdir().expect("dir");
        let a = auto(dir.path(), "https://leitstand.example.de:8443").expect("first");
        let b = auto(dir.path(), "https://other.example.de").expect("again");
        assert_eq!(a.info.ca_pem, b.info.ca_pem, "the CA stays");
        assert_eq!(a.info.pin, b.info.pin, "the server key stays, so the pin does");
        assert!(a.info.pin.as_deref().is_some_and(|p| p.starts_with("sha256//")));
        assert_eq!(host_of("https://[::1]:9/x").as_deref(), Some("::1"));
        assert_eq!(host_of("http://127.0.0.1:8080").as_deref(), Some("127.0.0.1"));
    }
}
