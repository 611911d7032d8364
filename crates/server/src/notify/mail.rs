//! E-mail over SMTP (lettre): STARTTLS, implicit TLS or plain on a trusted
//! network, with or without authentication.

use crate::config::SmtpConfig;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// Checks the settings; says what is wrong.
    pub fn new(c: &SmtpConfig) -> anyhow::Result<Mailer> {
        let from: Mailbox = c.from.parse().map_err(|e| anyhow::anyhow!("smtp.from {:?}: {e}", c.from))?;
        let tls = || -> anyhow::Result<TlsParameters> {
            let mut b = TlsParameters::builder(c.host.clone());
            if let Some(path) = &c.ca_file {
                let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("smtp.ca_file {}: {e}", path.display()))?;
                b = b.add_root_certificate(Certificate::from_pem(&pem)?);
            }
            Ok(b.build_rustls()?)
        };
        let (default_port, mode) = match c.security.as_str() {
            "starttls" => (587, Tls::Required(tls()?)),
            "tls" => (465, Tls::Wrapper(tls()?)),
            "none" => (25, Tls::None),
            other => anyhow::bail!("smtp.security {other:?}: use starttls, tls or none"),
        };
        let mut t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
            .port(c.port.unwrap_or(default_port))
            .tls(mode)
            .timeout(Some(std::time::Duration::from_secs(20)));
        if let (Some(user), Some(pass)) = (&c.username, &c.password) {
            t = t.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(Mailer { transport: t.build(), from })
    }

    /// Sends a plain-text mail; the error says what the server answered.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("address {to:?}: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            // 8bit keeps the text readable as it is, umlauts included; lines
            // end in CRLF and stay short, as 8bit requires.
            .body(
                Body::new_with_encoding(body.replace('\n', "\r\n"), ContentTransferEncoding::EightBit)
                    .or_else(|b| Body::new_with_encoding(b, ContentTransferEncoding::QuotedPrintable))
                    .map_err(|_| "the mail body cannot be encoded")?,
            )
            .map_err(|e| e.to_string())?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| format!("smtp: {e}"))
    }
}
