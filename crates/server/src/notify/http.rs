//! The HTTP channels: an SMS gateway (URL, method, body template,
//! authorization header) and webhooks (JSON, signed with HMAC-SHA256).

use crate::config::SmsConfig;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header with the Unix time the webhook was signed at.
pub const TIMESTAMP_HEADER: &str = "x-leitstand-timestamp";
/// Header with `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>").
pub const SIGNATURE_HEADER: &str = "x-leitstand-signature";

/// The signature a receiver recomputes to check a webhook.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Fills `{to}` and `{text}` into the gateway's body, escaped for its
/// content type.
pub fn sms_body(c: &SmsConfig, to: &str, text: &str) -> String {
    let escape = |v: &str| -> String {
        if c.content_type.contains("json") {
            let quoted = serde_json::to_string(v).unwrap_or_default();
            quoted[1..quoted.len() - 1].to_owned()
        } else if c.content_type.contains("x-www-form-urlencoded") {
            serde_urlencoded::to_string([("", v)]).unwrap_or_default()[1..].to_owned()
        } else {
            v.to_owned()
        }
    };
    c.body.replace("{to}", &escape(to)).replace("{text}", &escape(text))
}

fn answer(r: reqwest::Result<reqwest::Response>) -> Result<(), String> {
    match r {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(format!("HTTP {}", resp.status())),
        Err(e) => Err(format!("HTTP: {e}")),
    }
}

pub async fn send_sms(client: &reqwest::Client, c: &SmsConfig, to: &str, text: &str) -> Result<(), String> {
    let method = reqwest::Method::from_bytes(c.method.as_bytes()).map_err(|_| format!("sms.method {:?}", c.method))?;
    let mut req = client.request(method, &c.url).header("content-type", &c.content_type).body(sms_body(c, to, text));
    if let Some(a) = &c.authorization {
        req = req.header("authorization", a);
    }
    answer(req.send().await)
}

pub async fn send_webhook(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    body: &serde_json::Value,
    now: i64,
) -> Result<(), String> {
    let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let req = client
        .post(url)
        .header("content-type", "application/json")
        .header(TIMESTAMP_HEADER, now.to_string())
        .header(SIGNATURE_HEADER, signature(secret, now, &bytes))
        .body(bytes);
    answer(req.send().await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_escaped_for_the_content_type() {
        let mut c = SmsConfig {
            url: "http://gw".into(),
            method: "POST".into(),
            body: r#"{"to":"{to}","text":"{text}"}"#.into(),
            content_type: "application/json".into(),
            authorization: None,
        };
        assert_eq!(sms_body(&c, "+49170", "a \"b\"\n"), r#"{"to":"+49170","text":"a \"b\"\n"}"#);
        c.body = "to={to}&msg={text}".into();
        c.content_type = "application/x-www-form-urlencoded".into();
        assert_eq!(sms_body(&c, "+49170", "Disk 100 %"), "to=%2B49170&msg=Disk+100+%25");
    }

    #[test]
    fn the_signature_covers_time_and_body() {
        let a = signature("k", 1, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, signature("k", 2, b"{}"));
        assert_ne!(a, signature("k", 1, b"{ }"));
    }
}
