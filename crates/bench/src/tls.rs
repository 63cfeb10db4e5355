//! Certificates and the HTTPS listeners: a throwaway CA and a server
//! certificate it signs for the loopback hosts (rcgen), the CA as a PEM
//! file for the function to trust, and the HTTPS endpoints (one per AWS
//! service, so the function makes one TLS handshake per service as it does
//! in AWS): three for the event benchmark, a fourth (STS) for the sweep.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use hyper::service::service_fn;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::fake_aws::FakeAws;
use crate::server::{self, Journal, Server, Tls};

/// The loopback hosts of EKS, GuardDuty, SNS and STS, in that order (the
/// event benchmark serves the first three: its function has no STS client).
pub const HOSTS: [Ipv4Addr; 4] = [
    Ipv4Addr::new(127, 0, 0, 1),
    Ipv4Addr::new(127, 0, 0, 2),
    Ipv4Addr::new(127, 0, 0, 3),
    Ipv4Addr::new(127, 0, 0, 4),
];

/// The CA (as a PEM file on disk) and the server side of TLS.
pub struct Pki {
    pub ca_pem_path: PathBuf,
    /// The system's CA bundle with the throwaway CA appended: what the
    /// function's system trust store scans, as large as on Lambda.
    pub system_bundle_path: PathBuf,
    acceptor: TlsAcceptor,
    // Holds the PEM file; removed when the harness ends.
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("ca_pem_path", &self.ca_pem_path)
            .field("system_bundle_path", &self.system_bundle_path)
            .finish_non_exhaustive()
    }
}

/// Where Linux distributions keep the CA bundle (Debian, then Amazon Linux).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// The system CA bundle. A store of one certificate would make the system
/// store look cheaper than it is on Lambda (about 140 certificates there).
fn system_bundle() -> Result<Vec<u8>> {
    SYSTEM_BUNDLES
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .with_context(|| format!("no system CA bundle found (looked for {SYSTEM_BUNDLES:?})"))
}

impl Pki {
    /// A fresh CA and server certificate (ECDSA P-256, rcgen's default).
    pub fn generate() -> Result<Pki> {
        let ca_key = KeyPair::generate().context("cannot generate the CA key")?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "lambda-bench throwaway CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .context("cannot sign the CA certificate")?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().context("cannot generate the server key")?;
        let mut names: Vec<String> = HOSTS.iter().map(ToString::to_string).collect();
        names.push("localhost".to_owned());
        // `new` turns names that parse as IP addresses into IP SANs: the
        // endpoints are `https://127.0.0.x:port`, verified by IP.
        let mut server_params = CertificateParams::new(names)?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "lambda-bench fake AWS");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .context("cannot sign the server certificate")?;

        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        // The provider is named explicitly: no dependence on which rustls
        // crypto features other crates turn on for the process default.
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .context("rustls rejected its default protocol versions")?
                .with_no_client_auth()
                .with_single_cert(vec![server_cert.der().clone(), ca_cert.der().clone()], key)
                .context("rustls rejected the server certificate")?;
        // Only HTTP/1.1 is served; the SDK falls back to it without h2 in ALPN.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];

        let dir = tempfile::Builder::new()
            .prefix("lambda-bench-")
            .tempdir()
            .context("cannot create a temporary directory for the CA")?;
        let ca_pem_path = dir.path().join("ca.pem");
        write(&ca_pem_path, &ca_cert.pem())?;
        let system_bundle_path = dir.path().join("system-bundle-plus-ca.pem");
        let mut bundle = system_bundle()?;
        bundle.push(b'\n');
        bundle.extend_from_slice(ca_cert.pem().as_bytes());
        write(&system_bundle_path, &String::from_utf8_lossy(&bundle))?;
        Ok(Pki {
            ca_pem_path,
            system_bundle_path,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            _dir: dir,
        })
    }

    /// One HTTPS listener per host of the first `hosts` in `HOSTS` (free
    /// ports), all answering with `fake`.
    pub async fn serve_fake_aws(
        &self,
        fake: &Arc<FakeAws>,
        journal: &Arc<Journal>,
        hosts: usize,
    ) -> Result<Vec<Server>> {
        let mut servers = Vec::new();
        for host in HOSTS.into_iter().take(hosts) {
            let fake = fake.clone();
            let service = service_fn(move |request| {
                let fake = fake.clone();
                async move { Ok::<_, Infallible>(fake.handle(request).await) }
            });
            let addr = SocketAddr::new(IpAddr::V4(host), 0);
            let tls = Tls {
                acceptor: self.acceptor.clone(),
                journal: journal.clone(),
            };
            servers.push(server::serve(addr, Some(tls), service).await?);
        }
        Ok(servers)
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
