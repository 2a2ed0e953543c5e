//! Which distribution packages the image's base is made of: the packages that own the host
//! files the image copies (the C libraries, busybox), as the host's dpkg knows them. They are
//! the base layer of the image's SBOM, so a base-image advisory can name a real package at its
//! real version. Without dpkg (a host that is not Debian-like) the base layer is empty.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use optimizer_agent::sbom::{BaseLayer, BasePackage};

/// The base layer of an image made of the host files `files`.
pub fn discover(files: &[PathBuf]) -> BaseLayer {
    BaseLayer {
        distro: std::fs::read_to_string("/etc/os-release")
            .map(|text| distro(&text))
            .unwrap_or_default(),
        packages: packages_owning(files),
    }
}

/// `debian-12`, `ubuntu-22.04` from the text of os-release; empty when it names neither.
fn distro(os_release: &str) -> String {
    let field = |key: &str| {
        os_release.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix('=')?;
            Some(value.trim_matches('"').to_string())
        })
    };
    match (field("ID"), field("VERSION_ID")) {
        (Some(id), Some(version)) => format!("{id}-{version}"),
        _ => String::new(),
    }
}

fn packages_owning(files: &[PathBuf]) -> Vec<BasePackage> {
    // With a merged /usr, dpkg may know a file under the other spelling of its path.
    let mut candidates: Vec<PathBuf> = Vec::new();
    for file in files {
        candidates.push(file.clone());
        if let Ok(real) = std::fs::canonicalize(file) {
            candidates.push(real);
        }
    }
    let owners = dpkg_query(&["-S"], &candidates).map_or_else(BTreeSet::new, |out| owners(&out));
    if owners.is_empty() {
        return Vec::new();
    }
    let names: Vec<PathBuf> = owners.iter().map(PathBuf::from).collect();
    dpkg_query(&["-W", "-f", "${Package} ${Version}\\n"], &names)
        .map(|out| versions(&out))
        .unwrap_or_default()
}

/// Runs dpkg-query; its stdout even when it exits 1 because some path belongs to no package.
fn dpkg_query(args: &[&str], operands: &[PathBuf]) -> Option<String> {
    let output = Command::new("dpkg-query")
        .args(args)
        .args(operands.iter().map(|p| p.as_path()).map(Path::as_os_str))
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Package names from `dpkg-query -S` lines (`libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6`).
fn owners(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter_map(|line| line.split_once(": "))
        .flat_map(|(packages, _)| packages.split(", "))
        .map(|package| package.split(':').next().unwrap_or(package).to_string())
        .filter(|package| !package.is_empty() && !package.starts_with("diversion by"))
        .collect()
}

fn versions(output: &str) -> Vec<BasePackage> {
    let mut packages: Vec<BasePackage> = output
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(name, version)| BasePackage {
            name: name.to_string(),
            version: version.trim().to_string(),
        })
        .collect();
    packages.sort();
    packages.dedup();
    packages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distro_from_os_release() {
        let debian =
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n";
        assert_eq!(distro(debian), "debian-12");
        assert_eq!(distro("ID=ubuntu\nVERSION_ID=\"22.04\"\n"), "ubuntu-22.04");
        assert_eq!(distro("NAME=x\n"), "");
    }

    #[test]
    fn owners_and_versions_from_dpkg_query() {
        let found = owners(
            "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6\n\
             libgcc-s1:amd64: /lib/x86_64-linux-gnu/libgcc_s.so.1\n\
             libc6:amd64: /lib64/ld-linux-x86-64.so.2\n\
             busybox-static: /bin/busybox\n",
        );
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["busybox-static", "libc6", "libgcc-s1"]
        );
        assert_eq!(
            versions("libgcc-s1 12.2.0-14+deb12u1\nlibc6 2.36-9+deb12u14\n"),
            vec![
                BasePackage {
                    name: "libc6".to_string(),
                    version: "2.36-9+deb12u14".to_string()
                },
                BasePackage {
                    name: "libgcc-s1".to_string(),
                    version: "12.2.0-14+deb12u1".to_string()
                },
            ]
        );
    }
}
