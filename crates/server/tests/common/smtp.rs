//! A real SMTP server for mail tests: Debian's `python3-aiosmtpd` on a free
//! port, storing what arrives in a Maildir the test reads.

use std::path::PathBuf;
use std::time::Duration;

pub struct Smtp {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl Smtp {
    /// `None` when aiosmtpd is not installed (outside CI the test then returns).
    pub async fn start() -> Option<Smtp> {
        let port = free_port();
        let mut s = Smtp { port, dir: tempfile::tempdir().expect("tempdir"), child: None };
        if !s.run() {
            assert!(std::env::var("CI").is_err(), "python3-aiosmtpd is missing (scripts/test.sh installs it)");
            eprintln!("SKIPPED: python3-aiosmtpd is not installed");
            return None;
        }
        Some(s)
    }

    /// Starts the server (again, on the same port); false when it cannot run.
    pub fn run(&mut self) -> bool {
        let maildir = self.dir.path().join("mail");
        let child = std::process::Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{}", self.port), "-c"])
            .arg("aiosmtpd.handlers.Mailbox")
            .arg(&maildir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else { return false };
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The messages that arrived, as raw text (headers and body).
    pub fn messages(&self) -> Vec<String> {
        let new: PathBuf = self.dir.path().join("mail").join("new");
        let mut files: Vec<_> =
            std::fs::read_dir(&new).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        files.sort();
        files.iter().filter_map(|f| std::fs::read_to_string(f).ok()).collect()
    }

    /// The `[smtp]` settings that reach it.
    pub fn config(&self) -> leitstand_server::config::SmtpConfig {
        leitstand_server::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(self.port),
            security: "none".into(),
            username: None,
            password: None,
            from: "Leitstand <alarm@provider.example>".into(),
            ca_file: None,
        }
    }
}

/// A mail's header value (the first), unfolded.
pub fn header(mail: &str, name: &str) -> String {
    let head = mail.split("\n\n").next().unwrap_or_default().replace("\r\n", "\n").replace("\n ", " ");
    head.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// The subject, with RFC 2047 encoded words (`=?utf-8?b?…?=`) decoded.
pub fn subject(mail: &str) -> String {
    use base64::Engine;
    let raw = header(mail, "Subject");
    let mut out = String::new();
    for word in raw.split(' ') {
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("=?utf-8?b?") && word.ends_with("?=") {
            let b = &word[10..word.len() - 2];
            let bytes = base64::engine::general_purpose::STANDARD.decode(b).unwrap_or_default();
            out.push_str(&String::from_utf8_lossy(&bytes));
        } else {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}
