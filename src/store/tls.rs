//! TLS to the stores, with rustls and ring (no OpenSSL): Postgres' `sslmode` and `sslrootcert` read as libpq reads
//! them, and `rediss://` with an optional CA file. Certificates are loaded when the configuration is read, so a
//! missing CA file is a configuration error before anything is probed; the handshake happens at connect time,
//! and its failures are put in words here ([`PgConfig::explain`], [`explain`]).
//!
//! Not here: client certificates (`sslcert`/`sslkey`), certificate revocation lists, `sslmode=allow`.

mod params;

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// libpq's `sslmode`, less `allow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, plain otherwise; the certificate is not checked (libpq's default).
    Prefer,
    /// TLS or no connection; the certificate is not checked unless `sslrootcert` is given.
    Require,
    /// TLS, and the certificate chain must lead to a trusted CA; the host name is not checked.
    VerifyCa,
    /// TLS, a trusted chain, and a certificate for the host connected to.
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return Err(format!("has sslmode={s:?}: use disable, prefer, require, verify-ca or verify-full")),
        })
    }
}

/// What certificates are checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Roots {
    /// Not checked (`prefer` and `require` without `sslrootcert`).
    Unchecked,
    /// The operating system's CA certificates.
    System,
    /// The CA certificates in this PEM file.
    File(PathBuf),
}

impl fmt::Display for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Roots::Unchecked => f.write_str("nothing"),
            Roots::System => f.write_str("the system's CA certificates"),
            Roots::File(p) => write!(f, "the CA certificates in {}", p.display()),
        }
    }
}

/// A Postgres to connect to: the `postgres` crate's configuration and how TLS is done.
#[derive(Clone, Debug)]
pub struct PgConfig {
    pub config: postgres::Config,
    pub mode: SslMode,
    pub roots: Roots,
    /// `None` for `sslmode=disable`.
    tls: Option<Arc<ClientConfig>>,
}

impl PgConfig {
    /// Reads a connection string (URL or `key=value`). An error reads after the name of where the string came from
    /// ("DATABASE_URL is not a valid ...") and never repeats the string.
    pub fn parse(s: &str) -> Result<PgConfig, String> {
        let taken = params::take(s);
        let config: postgres::Config =
            taken.rest.parse().map_err(|_| "is not a valid Postgres connection string or URL".to_string())?;
        let roots = match taken.sslrootcert.as_deref() {
            None | Some("") => None,
            Some("system") => Some(Roots::System),
            Some(p) => Some(Roots::File(PathBuf::from(p))),
        };
        let mode = match taken.sslmode.as_deref() {
            Some(m) => SslMode::parse(m)?,
            // As libpq: the system's roots mean the host name is checked too.
            None if roots == Some(Roots::System) => SslMode::VerifyFull,
            None => SslMode::Prefer,
        };
        if roots == Some(Roots::System) && mode != SslMode::VerifyFull {
            return Err(format!(
                "has sslrootcert=system with sslmode={}: the system's CAs sign certificates for anyone, so use \
                 sslmode=verify-full",
                mode.as_str()
            ));
        }
        PgConfig::new(config, mode, roots)
    }

    /// `config` with `mode`; `roots` as `sslrootcert` gives them (`None`: not given).
    pub fn new(mut config: postgres::Config, mode: SslMode, roots: Option<Roots>) -> Result<PgConfig, String> {
        let roots = match (mode, roots) {
            (SslMode::Disable, _) => Roots::Unchecked,
            // As libpq: with a root certificate, prefer and require check the chain as verify-ca does.
            (_, Some(r)) => r,
            (SslMode::Prefer | SslMode::Require, None) => Roots::Unchecked,
            (SslMode::VerifyCa | SslMode::VerifyFull, None) => Roots::System,
        };
        config.ssl_mode(match mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        });
        let tls = match mode {
            SslMode::Disable => None,
            _ => Some(Arc::new(client_config(mode, &roots)?)),
        };
        Ok(PgConfig { config, mode, roots, tls })
    }

    pub fn connect(&self) -> Result<postgres::Client, postgres::Error> {
        match &self.tls {
            None => self.config.connect(postgres::NoTls),
            Some(c) => self.config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(ClientConfig::clone(c))),
        }
    }

    /// A connection failure that TLS caused, in words ("certificate not trusted (sslmode=verify-full): ...").
    pub fn explain(&self, e: &postgres::Error) -> Option<String> {
        let mode = format!("sslmode={}", self.mode.as_str());
        if let Some(r) = find_rustls(e) {
            return Some(describe(r, &mode, &self.roots.to_string()));
        }
        e.to_string().contains("server does not support TLS").then(|| format!("the server does not offer TLS ({mode})"))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes ring the process' rustls provider, for the Redis crate, which asks rustls for the default.
pub fn install_provider() {
    // An error means one is installed already; that one is used.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn client_config(mode: SslMode, roots: &Roots) -> Result<ClientConfig, String> {
    let p = provider();
    let builder = ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match roots {
        Roots::Unchecked => Arc::new(Unchecked(p)),
        _ => {
            let store = Arc::new(root_store(roots)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(store, p)
                .build()
                .map_err(|e| format!("cannot use {roots}: {e}"))?;
            match mode {
                SslMode::VerifyFull => webpki,
                _ => Arc::new(ChainOnly(webpki)),
            }
        }
    };
    Ok(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth())
}

fn root_store(roots: &Roots) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::Unchecked => {}
        Roots::System => {
            store.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            if store.is_empty() {
                return Err("found no system CA certificates: give a CA file with sslrootcert=FILE".into());
            }
        }
        Roots::File(path) => {
            for cert in read_certs(path).map_err(|e| format!("sslrootcert {e}"))? {
                store
                    .add(cert)
                    .map_err(|e| format!("sslrootcert {}: not a usable CA certificate: {e}", path.display()))?;
            }
        }
    }
    Ok(store)
}

/// The certificates of a PEM file, at least one; the error starts with the path.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// `prefer` and `require` without a root certificate: any certificate, but the handshake's signatures are still
/// checked against it, so the connection is encrypted to whoever holds its key.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: webpki's full check less the host name. webpki checks the chain before the name, so a name
/// mismatch is reported only for a certificate whose chain is trusted.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The rustls error somewhere in `e`'s chain. `io::Error` and `Arc` (the Redis crate's wrapper) hide the error
/// they wrap from `source()`, so they are opened here.
fn find_rustls<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        let inner: Option<&(dyn StdError + 'static)> = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|e| e as _),
            None => err.downcast_ref::<Arc<dyn StdError + Send + Sync>>().map(|a| &**a as _),
        };
        if let Some(r) = inner.and_then(find_rustls) {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

fn describe(r: &rustls::Error, mode: &str, roots: &str) -> String {
    match r {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature) => {
            format!("certificate not trusted ({mode}): not signed by {roots}")
        }
        rustls::Error::InvalidCertificate(
            e @ (CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }),
        ) => format!("certificate is not for this host ({mode}): {e}"),
        rustls::Error::InvalidCertificate(e) => format!("certificate refused ({mode}): {e}"),
        e => format!("TLS failed ({mode}): {e}"),
    }
}

/// A Redis failure that TLS caused, in words.
pub fn explain_redis(e: &redis::RedisError) -> Option<String> {
    let roots = "the CA certificates of REDIS_CA_CERT (the system's when it is not set)";
    find_rustls(e).map(|r| describe(r, "rediss://", roots))
}

/// A `rediss://` connection whose certificate is checked against the CA certificates in `ca` rather than the
/// system's.
pub fn redis_with_ca(info: redis::ConnectionInfo, ca: &Path) -> Result<redis::ConnectionInfo, String> {
    if !matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }) {
        return Err(format!("REDIS_CA_CERT is {} but the Redis URL is not rediss:// (TLS)", ca.display()));
    }
    read_certs(ca).map_err(|e| format!("REDIS_CA_CERT {e}"))?;
    let pem = std::fs::read(ca).map_err(|e| format!("REDIS_CA_CERT {}: cannot read: {e}", ca.display()))?;
    let certs = redis::TlsCertificates { client_tls: None, root_cert: Some(pem) };
    let client =
        redis::Client::build_with_tls(info, certs).map_err(|e| format!("REDIS_CA_CERT {}: {e}", ca.display()))?;
    Ok(client.get_connection_info().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_prefer_without_checks_as_libpq() {
        let c = PgConfig::parse("postgres://u:pw@db/pinger").unwrap();
        assert_eq!((c.mode, &c.roots), (SslMode::Prefer, &Roots::Unchecked));
        assert_eq!(c.config.get_ssl_mode(), postgres::config::SslMode::Prefer);
    }

    #[test]
    fn every_sslmode_maps_to_what_the_postgres_crate_understands() {
        for (m, want) in [
            ("disable", postgres::config::SslMode::Disable),
            ("prefer", postgres::config::SslMode::Prefer),
            ("require", postgres::config::SslMode::Require),
            ("verify-ca", postgres::config::SslMode::Require),
            ("verify-full", postgres::config::SslMode::Require),
        ] {
            let c = PgConfig::parse(&format!("host=db user=u sslmode={m}")).unwrap();
            assert_eq!((c.mode.as_str(), c.config.get_ssl_mode()), (m, want));
            assert_eq!(c.tls.is_some(), m != "disable");
        }
        let ca = PgConfig::parse("postgres://db/x?sslmode=verify-ca").unwrap();
        assert_eq!(ca.roots, Roots::System, "verify-* without sslrootcert uses the system's CAs");
    }

    #[test]
    fn bad_tls_parameters_are_clear_errors_that_never_echo_the_password() {
        let e = PgConfig::parse("postgres://u:s3cret@db/x?sslmode=verify").unwrap_err();
        assert!(e.contains("sslmode=\"verify\"") && e.contains("verify-full") && !e.contains("s3cret"), "{e}");
        let e =
            PgConfig::parse("postgres://u:s3cret@db/x?sslmode=require&sslrootcert=/nonexistent/ca.pem").unwrap_err();
        assert!(e.starts_with("sslrootcert /nonexistent/ca.pem: cannot read") && !e.contains("s3cret"), "{e}");
        let e = PgConfig::parse("postgres://u:s3cret@db/x?sslmode=require&sslrootcert=system").unwrap_err();
        assert!(e.contains("verify-full") && !e.contains("s3cret"), "{e}");
        let e = PgConfig::parse("postgres://u:s3cret@db:port/x").unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
    }
}
