//! Version order of the two package managers (shared by the agent, for
//! pending updates, and the vulnerability matcher): dpkg (`epoch:upstream-revision`
//! with `~` sorting before everything) and rpm (`epoch:version-release`,
//! rpmvercmp with `~` and `^`).

use std::cmp::Ordering;

/// The package manager whose version order applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Manager {
    Dpkg,
    Rpm,
}

impl Manager {
    /// `dpkg` or `rpm`, as the inventory names them; anything else is dpkg.
    pub fn from_name(name: &str) -> Manager {
        if name == "rpm" {
            Manager::Rpm
        } else {
            Manager::Dpkg
        }
    }

    /// Compares two versions; `None` when one is not a version of this
    /// manager (a dpkg version with spaces, say), so callers can tell "no
    /// answer" from "older".
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Manager::Dpkg => dpkg_cmp(a, b),
            Manager::Rpm => Some(rpm_evr_cmp(a, b)),
        }
    }

    /// `a < b`; false when either cannot be read.
    pub fn below(self, a: &str, b: &str) -> bool {
        self.compare(a, b) == Some(Ordering::Less)
    }
}

/// dpkg's order of `[epoch:]upstream[-revision]`, without allocating (a
/// scan compares tens of thousands of versions; parsing each into
/// `debversion::Version` first made matching three times slower). The tests
/// hold it to `debversion`'s answers. `None` when either is not a version.
pub fn dpkg_cmp(a: &str, b: &str) -> Option<Ordering> {
    let (ea, ua, ra) = split_dpkg(a)?;
    let (eb, ub, rb) = split_dpkg(b)?;
    Some(ea.cmp(&eb).then_with(|| verrevcmp(ua, ub)).then_with(|| verrevcmp(ra, rb)))
}

fn split_dpkg(v: &str) -> Option<(u64, &str, &str)> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '~' | ':');
    if v.is_empty() || !v.chars().all(ok) {
        return None;
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) => (e.parse().ok()?, rest),
        None => (0, v),
    };
    let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
    if upstream.is_empty() || !upstream.starts_with(|c: char| c.is_ascii_digit()) || rest.ends_with('-') {
        return None;
    }
    Some((epoch, upstream, revision))
}

/// dpkg's comparison of one part: non-digits by `order` (`~` first, then
/// the end, letters, other characters), then digit runs as numbers.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => i32::from(c),
            Some(b'~') => -1,
            Some(c) => i32::from(c) + 256,
        }
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (x, y) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if x != y {
                return x.cmp(&y);
            }
            i += usize::from(i < a.len());
            j += usize::from(j < b.len());
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// rpm's order of `[epoch:]version[-release]`: epoch (missing = 0), then
/// version, then release, each with rpmvercmp. A release missing on one side
/// is not compared (`1.0` matches `1.0-3`), as rpm does for dependencies.
pub fn rpm_evr_cmp(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split_evr(a);
    let (eb, vb, rb) = split_evr(b);
    ea.cmp(&eb).then_with(|| rpmvercmp(va, vb)).then_with(|| match (ra, rb) {
        (Some(x), Some(y)) => rpmvercmp(x, y),
        _ => Ordering::Equal,
    })
}

fn split_evr(v: &str) -> (u64, &str, Option<&str>) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), rest),
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((ver, rel)) => (epoch, ver, Some(rel)),
        None => (epoch, rest, None),
    }
}

/// rpmvercmp: compares alternating runs of digits and letters; other
/// characters separate; `~` sorts before anything (pre-releases), `^` after
/// the end but before a further segment (post-release snapshots); digits
/// win over letters; more segments win.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    let skip =
        |s: &[u8]| -> usize { s.iter().take_while(|&&c| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^').count() };
    loop {
        x = &x[skip(x)..];
        y = &y[skip(y)..];
        // Tilde: the side with it is older, even against the end.
        match (x.first() == Some(&b'~'), y.first() == Some(&b'~')) {
            (true, true) => {
                x = &x[1..];
                y = &y[1..];
                continue;
            }
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        // Caret: newer than the end, older than any further segment.
        match (x.first() == Some(&b'^'), y.first() == Some(&b'^')) {
            (true, true) => {
                x = &x[1..];
                y = &y[1..];
                continue;
            }
            (true, false) => return if y.is_empty() { Ordering::Greater } else { Ordering::Less },
            (false, true) => return if x.is_empty() { Ordering::Less } else { Ordering::Greater },
            _ => {}
        }
        if x.is_empty() || y.is_empty() {
            break;
        }
        let digits = x[0].is_ascii_digit();
        let run = |s: &[u8]| -> usize {
            s.iter().take_while(|c| if digits { c.is_ascii_digit() } else { c.is_ascii_alphabetic() }).count()
        };
        let (nx, ny) = (run(x), run(y));
        let (sx, sy) = (&x[..nx], &y[..ny]);
        if sy.is_empty() {
            // Segments of different types: a number is newer than letters.
            return if digits { Ordering::Greater } else { Ordering::Less };
        }
        let o = if digits {
            let (tx, ty) = (trim_zeros(sx), trim_zeros(sy));
            tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
        } else {
            sx.cmp(sy)
        };
        if o != Ordering::Equal {
            return o;
        }
        x = &x[nx..];
        y = &y[ny..];
    }
    match (x.is_empty(), y.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn rpmvercmp_agrees_with_rpms_own_table() {
        // Cases from rpm's rpmvercmp test table (rpmio/tests), restated.
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0.1a", Less),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("8", "xyz.4", Greater),
            ("1b.fc17", "1.fc17", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0^20160101^git1", "1.0^20160101", Greater),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0~rc1^git1", "1.0", Less),
            ("20101121", "20101121.0", Less),
            ("2_0", "2_0", Equal),
            ("2.0", "2_0", Equal),
            ("a", "a", Equal),
            ("a+", "a_", Equal),
            ("+a", "_a", Equal),
            ("00100", "100", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn rpm_epoch_and_release_count() {
        assert_eq!(rpm_evr_cmp("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(rpm_evr_cmp("3.0.7-25.el9_3", "1:3.0.7-24.el9"), Less);
        assert_eq!(rpm_evr_cmp("8.7p1-38.el9_4.1", "8.7p1-38.el9"), Greater);
        assert_eq!(rpm_evr_cmp("8.7p1-38.el9", "8.7p1-38.el9_4.1"), Less);
        assert_eq!(rpm_evr_cmp("1.0", "1.0-3"), Equal);
    }

    #[test]
    fn dpkg_order_agrees_with_debversion() {
        let versions = [
            "1.0",
            "1.0-1",
            "1.0-0",
            "1.0-1+b1",
            "1.0~rc1-1",
            "1.0~~-1",
            "1.0~",
            "1.0+dfsg-1",
            "1.0.1-1",
            "1.00-1",
            "1:0.9-1",
            "2:1.0",
            "1.0a-1",
            "1.0-1ubuntu0.1",
            "1.0-1~deb12u1",
            "1.0-1+deb12u1",
            "9.2p1-2+deb12u3",
            "1:9.2p1-2+deb12u3",
            "1:9.2p1-2+deb12u10",
            "5.6.1+really5.4.5-1",
            "3.0.11-1~deb12u2",
            "10",
            "9.99",
            "1.2.3.4-5.6",
            "0.0",
            "0",
            "1.0-a",
            "1.0-A",
            "1.0-1.1",
            "1.0-1.10",
            "1.0-1.9",
            "2.36-9+deb12u4+b1",
            "7.88.1-10+deb12u8",
            "7.88.1-10+deb12u10",
            "1.0+git20240101-1",
            "1.0+git20231231-1",
            "1.0-1~bpo12+1",
        ];
        for a in versions {
            for b in versions {
                let want = a.parse::<debversion::Version>().expect(a).cmp(&b.parse().expect(b));
                assert_eq!(dpkg_cmp(a, b), Some(want), "{a} vs {b}");
            }
        }
        for bad in ["", "not a version!", "a:1.0", "1.0 beta", "-1", ":1.0"] {
            assert_eq!(dpkg_cmp(bad, "1.0"), None, "{bad:?}");
        }
    }

    #[test]
    fn dpkg_order_with_epoch_and_tilde() {
        let d = Manager::Dpkg;
        assert!(d.below("1:9.2p1-2+deb12u2", "1:9.2p1-2+deb12u3"));
        assert!(d.below("9.9", "1:1.0"), "epoch wins");
        assert!(d.below("5.6.1+really5.4.5-1~bpo", "5.6.1+really5.4.5-1"));
        assert!(d.below("3.0.11-1~deb12u2", "3.0.11-1"));
        assert_eq!(d.compare("2.36-9+deb12u3", "2.36-9+deb12u3"), Some(Equal));
        assert_eq!(d.compare("not a version!", "1.0"), None);
        assert!(!d.below("not a version!", "1.0"));
    }
}
