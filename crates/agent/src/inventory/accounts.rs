//! Local users and groups (INV-6) from `etc/passwd`, `etc/group` and
//! `etc/shadow`: locked state, and who is an administrator (uid 0 or member
//! of sudo, wheel or admin).

use super::{read_optional, InventoryCollector};
use crate::collect::{read, CollectError};
use leitstand_proto::inventory::{Group, Item, Section, User};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Groups whose members may become root.
pub const ADMIN_GROUPS: [&str; 3] = ["sudo", "wheel", "admin"];

pub struct Users;
pub struct Groups;

impl InventoryCollector for Users {
    fn section(&self) -> Section {
        Section::Users
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Item>, CollectError> {
        let passwd = read("users", root, "etc/passwd")?;
        let group = read_optional("users", root, "etc/group")?.unwrap_or_default();
        // shadow is readable only by root; without it nothing counts as locked.
        let shadow = read_optional("users", root, "etc/shadow").ok().flatten().unwrap_or_default();
        let today = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 86_400) as i64;
        Ok(users(&passwd, &group, &shadow, today).into_iter().map(Item::User).collect())
    }
}

impl InventoryCollector for Groups {
    fn section(&self) -> Section {
        Section::Groups
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Item>, CollectError> {
        let text = read("groups", root, "etc/group")?;
        Ok(groups(&text).into_iter().map(Item::Group).collect())
    }
}

fn groups(text: &str) -> Vec<Group> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let gid = f.get(2)?.parse().ok()?;
            let mut members: Vec<String> =
                f.get(3).unwrap_or(&"").split(',').filter(|m| !m.is_empty()).map(str::to_owned).collect();
            members.sort();
            Some(Group { name: f[0].to_owned(), gid, members })
        })
        .collect()
}

/// Users of a passwd file, with groups, locked state (from shadow: a
/// password starting with `!` or `*`, or an account past its expiry day)
/// and administrator flag. `today` is days since 1970.
pub fn users(passwd: &str, group: &str, shadow: &str, today: i64) -> Vec<User> {
    let groups = groups(group);
    let group_names: BTreeMap<u32, &str> = groups.iter().map(|g| (g.gid, g.name.as_str())).collect();
    let shadow: BTreeMap<&str, Vec<&str>> = shadow
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 2).then(|| (f[0], f))
        })
        .collect();
    passwd
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            let (uid, gid) = (f[2].parse().ok()?, f[3].parse().ok()?);
            let name = f[0];
            let mut member_of: BTreeSet<String> =
                groups.iter().filter(|g| g.members.iter().any(|m| m == name)).map(|g| g.name.clone()).collect();
            if let Some(primary) = group_names.get(&gid) {
                member_of.insert((*primary).to_owned());
            }
            let locked = shadow.get(name).is_some_and(|s| {
                let pw = s[1];
                let expired = s.get(7).and_then(|d| d.parse::<i64>().ok()).is_some_and(|d| d <= today);
                pw.starts_with('!') || pw.starts_with('*') || expired
            });
            let admin = uid == 0 || ADMIN_GROUPS.iter().any(|g| member_of.contains(*g));
            Some(User {
                name: name.to_owned(),
                uid,
                gid,
                home: f[5].to_owned(),
                shell: f[6].to_owned(),
                groups: member_of.into_iter().collect(),
                locked,
                admin,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nanna:x:1000:1000:Anna:/home/anna:/bin/bash\nbernd:x:1001:1001::/home/bernd:/bin/bash\nbroken\n";
    const GROUP: &str = "root:x:0:\nsudo:x:27:anna\nwww-data:x:33:\nanna:x:1000:\nbernd:x:1001:\n";
    const SHADOW: &str = "root:$6$abc:19000:0:99999:7:::\nwww-data:*:19000:0:99999:7:::\nanna:$6$def:19000:0:99999:7:::\nbernd:!$6$ghi:19000:0:99999:7::19500:\n";

    #[test]
    fn admins_and_locked_accounts_are_recognised() {
        let u = users(PASSWD, GROUP, SHADOW, 20_000);
        let by = |n: &str| u.iter().find(|x| x.name == n).expect(n);
        assert_eq!(u.len(), 4, "the broken line is skipped");
        assert!(by("root").admin && !by("root").locked);
        assert!(by("anna").admin, "sudo member");
        assert_eq!(by("anna").groups, ["anna", "sudo"]);
        assert!(!by("bernd").admin && by("bernd").locked);
        assert!(by("www-data").locked, "no password at all counts as locked");
    }

    #[test]
    fn an_account_past_its_expiry_day_is_locked() {
        let shadow = "anna:$6$def:19000:0:99999:7::19999:\n";
        assert!(users(PASSWD, GROUP, shadow, 20_000).iter().any(|u| u.name == "anna" && u.locked));
        assert!(users(PASSWD, GROUP, shadow, 19_000).iter().any(|u| u.name == "anna" && !u.locked));
    }
}
