//! A self-signed certificate for `localhost` and 127.0.0.1, made at start; or, for
//! tests of what a client says, one that has expired or names another host.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// An acceptor with a fresh certificate of `kind`, and that certificate in PEM for
/// clients to trust.
pub(crate) fn self_signed(kind: crate::CertKind) -> Result<(TlsAcceptor, String), String> {
    let names = match kind {
        crate::CertKind::OtherName => vec!["other.example".to_owned()],
        _ => vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
    };
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| e.to_string())?;
    if kind == crate::CertKind::Expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key_pair = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let c = params.self_signed(&key_pair).map_err(|e| e.to_string())?;
    let pem = c.pem();
    let cert = CertificateDer::from(c.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .map_err(|e| e.to_string())?;
    Ok((TlsAcceptor::from(Arc::new(config)), pem))
}
