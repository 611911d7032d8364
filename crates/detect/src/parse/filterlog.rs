//! pfSense and OPNsense `filterlog`: one CSV line per packet decision
//! (rule, interface, reason, action, direction, IP version, then the IPv4 or
//! IPv6 header fields and the ports), as the pfSense documentation "Raw
//! Filter Log Format" describes it.

use super::{firewall_action, ip};
use crate::event::{Category, LogSource, SecEvent};

pub fn parse(mut e: SecEvent) -> Option<SecEvent> {
    let f: Vec<&str> = e.message.split(',').collect();
    if f.len() < 9 {
        return None;
    }
    let (proto, src, dst, ports) = match f[8] {
        "4" if f.len() >= 20 => (f[16], f[18], f[19], 20),
        "6" if f.len() >= 17 => (f[12], f[15], f[16], 17),
        _ => return None,
    };
    let transport = proto.to_ascii_lowercase();
    let has_ports = matches!(transport.as_str(), "tcp" | "udp");
    e.source_ip = Some(ip(src)?);
    e.destination_ip = Some(ip(dst)?);
    if has_ports {
        e.source_port = f.get(ports).and_then(|p| p.parse().ok());
        e.destination_port = f.get(ports + 1).and_then(|p| p.parse().ok());
    }
    e.dataset = "filterlog".into();
    e.category = Category::Network;
    e.action = Some(firewall_action(f[6]).to_string());
    e.transport = Some(transport);
    e.interface = Some(f[4].to_string()).filter(|s| !s.is_empty());
    e.rule = Some(if f[3].is_empty() { f[0] } else { f[3] }.to_string());
    e.labels.push(("direction".into(), f[7].to_string()));
    e.observer = Some("pfsense".into());
    e.logsource = LogSource { category: Some("firewall".into()), product: Some("pfsense".into()), service: None };
    Some(e)
}
