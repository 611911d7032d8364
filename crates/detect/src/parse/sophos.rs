//! Sophos Firewall (SFOS / XG) syslog: `key=value` pairs with `log_type`,
//! `log_component` and `log_subtype` (Sophos "Log file details" guide).
//! Firewall logs become network events; admin and user logins
//! authentication events; IPS logs intrusion events.

use super::{firewall_action, ip, kv};
use crate::event::{Category, LogSource, Outcome, SecEvent};

pub fn looks_like(msg: &str) -> bool {
    msg.contains("log_type=") && msg.contains("log_component=")
}

pub fn parse(mut e: SecEvent) -> Option<SecEvent> {
    let p = kv::pairs(&e.message);
    let kind = kv::get(&p, "log_type")?.to_string();
    // The device's own time, in the zone it names (German devices: CET/CEST).
    let offset = match kv::get(&p, "timezone") {
        Some("CET") => Some(3600),
        Some("CEST") => Some(7200),
        Some("UTC" | "GMT") => Some(0),
        Some(other) => super::offset_of(other),
        None => None,
    };
    if let (Some(offset), Some(date), Some(time)) = (offset, kv::get(&p, "date"), kv::get(&p, "time")) {
        if let Some(at) = super::local_time(date, time, offset) {
            e.at_ms = at;
        }
    }
    let component = kv::get(&p, "log_component").unwrap_or_default().to_string();
    let subtype = kv::get(&p, "log_subtype").unwrap_or_default().to_string();
    e.source_ip = kv::get(&p, "src_ip").and_then(ip);
    e.destination_ip = kv::get(&p, "dst_ip").and_then(ip);
    e.source_port = kv::get(&p, "src_port").and_then(|v| v.parse().ok());
    e.destination_port = kv::get(&p, "dst_port").and_then(|v| v.parse().ok());
    e.transport = kv::get(&p, "protocol").map(str::to_ascii_lowercase);
    e.interface = kv::get(&p, "in_interface").map(str::to_string);
    e.rule = kv::get(&p, "fw_rule_id").map(str::to_string);
    e.user = kv::get(&p, "user_name").map(str::to_string);
    let status = kv::get(&p, "status").unwrap_or_default().to_ascii_lowercase();
    match (kind.as_str(), subtype.as_str()) {
        ("Firewall", _) => {
            e.category = Category::Network;
            let decision = if status.is_empty() { subtype.as_str() } else { status.as_str() };
            e.action = Some(firewall_action(decision).to_string());
        }
        ("IDP", _) => {
            e.category = Category::IntrusionDetection;
            e.action = Some(format!("ips_{}", firewall_action(&subtype)));
        }
        (_, "Authentication") | ("Event", _) if component.contains("Admin") || subtype == "Authentication" => {
            e.category = Category::Authentication;
            e.action = Some("login".into());
            e.outcome =
                Some(if status == "successful" || status == "success" { Outcome::Success } else { Outcome::Failure });
        }
        _ => e.action = Some(subtype.to_ascii_lowercase()).filter(|s| !s.is_empty()),
    }
    for key in ["device_name", "log_id", "message", "signature_msg"] {
        if let Some(v) = kv::get(&p, key) {
            e.labels.push((key.to_string(), v.to_string()));
        }
    }
    e.labels.push(("log_type".into(), kind));
    e.labels.push(("log_component".into(), component));
    e.dataset = "sophos".into();
    e.observer = Some("sophos".into());
    let category = (e.category == Category::Network).then(|| "firewall".to_string());
    e.logsource = LogSource { category, product: Some("sophos".into()), service: None };
    Some(e)
}
