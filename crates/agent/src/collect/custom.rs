//! Custom metrics (MON-2): Prometheus text files (`*.prom`) and executables
//! that print Prometheus text, in the agent's `metrics.d` directory. Any
//! figure with a time course can be added this way: database sizes, backup
//! ages, sensor readings.

use super::{CollectError, Collector};
use leitstand_proto::Sample;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bounds, so one script cannot flood the spool or hang the agent.
pub const MAX_SAMPLES_PER_SOURCE: usize = 1000;
pub const MAX_OUTPUT_BYTES: u64 = 1024 * 1024;
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Custom {
    pub dir: PathBuf,
    /// How long a script may run.
    pub timeout: Duration,
}

/// Parses the Prometheus text format: `name{label="value",…} value [time]`;
/// comments and blank lines are skipped. Errors name the line.
pub fn parse_prometheus(text: &str) -> Result<Vec<Sample>, String> {
    let mut out = vec![];
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |what: &str| format!("line {}: {what}: {raw:?}", n + 1);
        let name_end = line.find(|c: char| c == '{' || c.is_whitespace()).unwrap_or(line.len());
        let name = &line[..name_end];
        if name.is_empty()
            || !name
                .bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || b == b':' || (i > 0 && b.is_ascii_digit()))
        {
            return Err(err("not a metric name"));
        }
        let mut sample = Sample::new(name, 0.0);
        let mut rest = &line[name_end..];
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let mut end = None;
            loop {
                // label name
                while chars.peek().is_some_and(|(_, c)| *c == ',' || c.is_whitespace()) {
                    chars.next();
                }
                match chars.peek() {
                    Some((i, '}')) => {
                        end = Some(*i);
                        break;
                    }
                    None => break,
                    _ => {}
                }
                let mut key = String::new();
                while let Some((_, c)) = chars.peek().copied() {
                    if c == '=' || c.is_whitespace() {
                        break;
                    }
                    key.push(c);
                    chars.next();
                }
                if chars.next().map(|(_, c)| c) != Some('=') || chars.next().map(|(_, c)| c) != Some('"') {
                    return Err(err("labels must look like key=\"value\""));
                }
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, c)) => value.push(c),
                            None => return Err(err("unfinished escape")),
                        },
                        Some((_, '"')) => break,
                        Some((_, c)) => value.push(c),
                        None => return Err(err("unclosed label value")),
                    }
                }
                sample.labels.insert(key, value);
            }
            let Some(end) = end else { return Err(err("unclosed {")) };
            rest = &body[end + 1..];
        }
        let value = rest.split_whitespace().next().ok_or_else(|| err("no value"))?;
        sample.value = match value {
            "+Inf" | "Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| err("the value is not a number"))?,
        };
        out.push(sample);
        if out.len() > MAX_SAMPLES_PER_SOURCE {
            return Err(format!("more than {MAX_SAMPLES_PER_SOURCE} samples"));
        }
    }
    Ok(out)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs a script with a deadline and an output bound.
fn run_script(p: &Path, timeout: Duration) -> Result<String, String> {
    let mut child = Command::new(p)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let mut out = child.stdout.take().ok_or("no output")?;
    let reader = std::thread::spawn(move || {
        let mut buf = String::new();
        let _ = (&mut out).take(MAX_OUTPUT_BYTES).read_to_string(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let text = reader.join().unwrap_or_default();
                return if status.success() { Ok(text) } else { Err(format!("exited with {status}")) };
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("killed after {} s", timeout.as_secs_f64()));
            }
        }
    }
}

impl Collector for Custom {
    fn name(&self) -> &'static str {
        "custom"
    }

    /// Reads every source; a broken one is reported and skipped, the others
    /// still count. (`root` does not apply: the directory is configured.)
    fn collect(&mut self, _root: &Path) -> Result<Vec<Sample>, CollectError> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Ok(vec![]) };
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        let mut out = vec![];
        let mut first_error = None;
        for p in paths {
            let text = if p.extension().is_some_and(|e| e == "prom") {
                std::fs::read_to_string(&p).map_err(|e| e.to_string())
            } else if is_executable(&p) {
                run_script(&p, self.timeout)
            } else {
                continue;
            };
            match text.and_then(|t| parse_prometheus(&t)) {
                Ok(samples) => out.extend(samples),
                Err(message) => {
                    first_error.get_or_insert(CollectError { collector: "custom", path: p, message });
                }
            }
        }
        match first_error {
            // Samples of the good sources still go; the error is logged.
            Some(e) if out.is_empty() => Err(e),
            Some(e) => {
                tracing::warn!(error = %e, "custom metric source skipped");
                Ok(out)
            }
            None => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_is_parsed() {
        let s = parse_prometheus(
            "# HELP backup_age_seconds Age of the last backup\n# TYPE backup_age_seconds gauge\n\
             backup_age_seconds{job=\"nightly\",target=\"db \\\"main\\\"\"} 3600\npostgres_connections 17 1700000000000\n\
             temperature_celsius{sensor=\"rack1\"} -3.5\n",
        )
        .unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].labels["target"], "db \"main\"");
        assert_eq!(s[1].value, 17.0);
        assert_eq!(s[2].value, -3.5);
    }

    #[test]
    fn bad_lines_are_named() {
        assert!(parse_prometheus("ok 1\n9bad 2\n").unwrap_err().starts_with("line 2: not a metric name"));
        assert!(parse_prometheus("x{a=1} 2\n").unwrap_err().contains("key=\"value\""));
        assert!(parse_prometheus("x{a=\"1\" 2\n").unwrap_err().contains("line 1"));
        assert!(parse_prometheus("x one\n").unwrap_err().contains("not a number"));
    }

    #[test]
    fn files_and_scripts_in_the_directory_are_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("backup.prom"), "backup_age_seconds 120\n").expect("prom");
        let script = dir.path().join("queue.sh");
        std::fs::write(&script, "#!/bin/sh\necho 'mail_queue_length{queue=\"deferred\"} 4'\n").expect("script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::write(dir.path().join("README"), "not a source").expect("readme");
        let broken = dir.path().join("broken.prom");
        std::fs::write(&broken, "what is this\n").expect("broken");
        let mut c = Custom { dir: dir.path().to_owned(), timeout: SCRIPT_TIMEOUT };
        let s = c.collect(Path::new("/")).expect("collect");
        let names: Vec<&str> = s.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, vec!["backup_age_seconds", "mail_queue_length"], "the broken file is skipped");
    }

    #[test]
    fn a_hanging_script_is_killed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let script = dir.path().join("hang.sh");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 60\n").expect("script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let started = Instant::now();
        let e = run_script(&script, Duration::from_millis(500)).unwrap_err();
        assert!(e.contains("killed after"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}
