//! The HTTPS client the AWS SDK uses: rustls with aws-lc, trusting either
//! the system's certificate store (scanned at the first request) or the
//! Amazon Trust Services roots compiled into the binary, plus any extra CA
//! named by `AWS_CA_BUNDLE` (local endpoints in tests and benchmarks).

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

/// The roots every AWS endpoint in the `aws` partition chains to: Amazon
/// Root CA 1-4 and the Starfield Services G2 root that cross-signs them.
pub const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// Where trusted root certificates come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrustStoreSource {
    /// The system's store (what the SDK does by default): about 140
    /// certificates parsed at start-up. For the China partition or a
    /// TLS-inspecting proxy.
    System,
    /// The Amazon Trust Services roots compiled in. The default: every AWS
    /// endpoint this function calls chains to them, and skipping the system
    /// store saves about 2 ms of init (about 28 ms at 128 MB) and 0.25 MB.
    #[default]
    Embedded,
}

/// Build the HTTP client. `extra_ca_pem` is added to the chosen store.
pub fn https_client(
    source: TrustStoreSource,
    extra_ca_pem: Option<&[u8]>,
) -> Result<
    aws_smithy_runtime_api::client::http::SharedHttpClient,
    aws_smithy_http_client::HttpClientError,
> {
    let mut store = match source {
        TrustStoreSource::System => TrustStore::default(),
        TrustStoreSource::Embedded => TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS),
    };
    if let Some(pem) = extra_ca_pem {
        store.add_pem_certificate(pem);
    }
    let context = TlsContext::builder().with_trust_store(store).build()?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_roots_are_five_pem_certificates() {
        let text = std::str::from_utf8(AMAZON_TRUST_SERVICES_ROOTS).unwrap();
        assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        assert!(https_client(TrustStoreSource::Embedded, None).is_ok());
        assert!(https_client(TrustStoreSource::System, Some(AMAZON_TRUST_SERVICES_ROOTS)).is_ok());
    }
}
