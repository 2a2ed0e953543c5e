//! The sandbox image's root filesystem, assembled from what this host already has.
//!
//! The engine has no registry, so the image is `FROM scratch`: it carries this very executable
//! (which is also the agent, `agentctl` and `trivy`, see `optimizer_agent::AgentProgram`), the
//! shared libraries it links as `ldd` lists them, the agent's asset files and, when the host has
//! one, busybox for shell tools. Every tar entry has fixed owner and time, so the same inputs give
//! the same bytes and the same content hash.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use optimizer_agent::paths;
use optimizer_agent::AgentProgram;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The unprivileged user the agent runs as inside the sandbox.
pub const AGENT_UID: u64 = 10001;
/// Where the executables go; the agent's programs are links to the first one.
const BIN_DIR: &str = "/usr/local/bin";
/// Where busybox and its applet links go.
const BUSYBOX_DIR: &str = "/bin";
/// Places a host busybox is looked for, after `FIREDRILL_BUSYBOX`.
const BUSYBOX_CANDIDATES: [&str; 3] = ["/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"];
/// Fixed modification time of every entry (reproducible bytes).
const ENTRY_MTIME: u64 = 1_700_000_000;

/// The Dockerfile of the image; `ADD` of a local tar keeps owners, modes and links.
const DOCKERFILE: &str = "FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/bin:/bin
USER 10001:10001
WORKDIR /var/lib/docker-optimizer
EXPOSE 8080 8443
ENTRYPOINT [\"/usr/local/bin/optimizer-agent\"]
CMD [\"serve\"]
";

/// A ready build context: a tar with the Dockerfile and `rootfs.tar`, and its digest.
pub struct BuildContext {
    pub tar: Vec<u8>,
    /// sha256 of `tar`, hex.
    pub content_hash: String,
}

/// The host files an image is made of, found once per command.
pub struct ImageInputs {
    exe: PathBuf,
    busybox: Option<PathBuf>,
    libraries: Vec<PathBuf>,
}

impl ImageInputs {
    /// Finds this executable, the host's busybox and the shared libraries both load.
    pub fn discover() -> Result<ImageInputs> {
        let exe = std::env::current_exe().map_err(|source| Error::Io {
            action: "finding the running executable",
            path: PathBuf::from("/proc/self/exe"),
            source,
        })?;
        let busybox = host_busybox();
        let elves: Vec<PathBuf> = [Some(exe.clone()), busybox.clone()]
            .into_iter()
            .flatten()
            .collect();
        let libraries = shared_libraries(&elves)?;
        Ok(ImageInputs {
            exe,
            busybox,
            libraries,
        })
    }

    /// Whether the image will have busybox shell tools.
    pub fn has_busybox(&self) -> bool {
        self.busybox.is_some()
    }

    /// A cheap fingerprint of the inputs (paths, sizes, modification times), like `make` uses:
    /// it changes whenever cargo rebuilds the program or the host's libraries change, without
    /// reading the tens of megabytes a full content hash needs.
    pub fn fingerprint(&self, release: &str) -> String {
        let mut digest = Sha256::new();
        digest.update(env!("CARGO_PKG_VERSION"));
        digest.update(release);
        digest.update(DOCKERFILE);
        let files = [Some(&self.exe), self.busybox.as_ref()]
            .into_iter()
            .flatten()
            .chain(&self.libraries);
        for file in files {
            digest.update(file.to_string_lossy().as_bytes());
            if let Ok(meta) = std::fs::metadata(file) {
                use std::os::unix::fs::MetadataExt;
                digest.update(meta.len().to_le_bytes());
                digest.update(meta.mtime().to_le_bytes());
                digest.update(meta.mtime_nsec().to_le_bytes());
                digest.update(meta.ino().to_le_bytes());
            }
        }
        hex::encode(digest.finalize())
    }

    /// Assembles the build context of the image for agent `release`.
    pub fn build_context(&self, release: &str) -> Result<BuildContext> {
        let mut fs = Rootfs::default();
        fs.add_base_layout();
        let agent = AgentProgram::Agent.file_name();
        fs.add_host_file(&self.exe, &format!("{BIN_DIR}/{agent}"), 0o755)?;
        for (program, name) in AgentProgram::ALL {
            if program != AgentProgram::Agent {
                fs.symlink(&format!("{BIN_DIR}/{name}"), agent);
            }
        }
        if let Some(busybox) = &self.busybox {
            fs.add_host_file(busybox, &format!("{BUSYBOX_DIR}/busybox"), 0o755)?;
            for applet in busybox_applets(busybox) {
                fs.symlink(&format!("{BUSYBOX_DIR}/{applet}"), "busybox");
            }
        }
        for library in &self.libraries {
            let target = library.to_string_lossy().into_owned();
            fs.add_host_file(library, &target, 0o755)?;
        }
        let files: Vec<PathBuf> = [Some(self.exe.clone()), self.busybox.clone()]
            .into_iter()
            .flatten()
            .chain(self.libraries.iter().cloned())
            .collect();
        let base = super::base_layer::discover(&files);
        for asset in optimizer_agent::assets::image_files(release, &base) {
            // State under /var/lib is the agent's to rewrite (e.g. `agentctl scanner db update`).
            let owner = if asset.path.starts_with("/var/lib/") {
                AGENT_UID
            } else {
                0
            };
            fs.add_file(&asset.path, asset.contents, asset.mode, owner);
        }
        let rootfs = fs.into_tar()?;
        let tar = context_tar(&rootfs)?;
        let content_hash = hex::encode(Sha256::digest(&tar));
        Ok(BuildContext { tar, content_hash })
    }
}

/// The host's busybox: `FIREDRILL_BUSYBOX`, or the first of the usual places.
pub fn host_busybox() -> Option<PathBuf> {
    let configured = std::env::var_os("FIREDRILL_BUSYBOX").map(PathBuf::from);
    configured
        .into_iter()
        .chain(BUSYBOX_CANDIDATES.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

/// The applets a busybox binary provides (`busybox --list`), minus the shell-breaking ones.
fn busybox_applets(busybox: &Path) -> Vec<String> {
    let Ok(output) = Command::new(busybox).arg("--list").output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
        .map(str::to_string)
        .collect()
}

/// Every shared library the given ELF files load, as absolute host paths (deduplicated).
fn shared_libraries(elves: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut libraries = BTreeMap::new();
    for elf in elves {
        let output = Command::new("ldd")
            .arg(elf)
            .output()
            .map_err(|source| Error::Io {
                action: "running ldd (from Debian's libc-bin) on",
                path: elf.clone(),
                source,
            })?;
        for library in parse_ldd(&String::from_utf8_lossy(&output.stdout)) {
            libraries.insert(library.clone(), library);
        }
    }
    Ok(libraries.into_values().collect())
}

/// The library paths in `ldd` output; a static binary ("not a dynamic executable") lists none.
fn parse_ldd(output: &str) -> Vec<PathBuf> {
    output
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.trim(),
                None => line,
            };
            let path = path.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// The outer build context: the Dockerfile beside the root filesystem tar.
fn context_tar(rootfs: &[u8]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    append(&mut builder, "Dockerfile", DOCKERFILE.as_bytes(), 0o644, 0)?;
    append(&mut builder, "rootfs.tar", rootfs, 0o644, 0)?;
    builder.into_inner().map_err(tar_error)
}

fn append(
    builder: &mut tar::Builder<Vec<u8>>,
    path: &str,
    contents: &[u8],
    mode: u32,
    uid: u64,
) -> Result<()> {
    let mut header = header(tar::EntryType::Regular, mode, uid);
    header.set_size(contents.len() as u64);
    builder
        .append_data(&mut header, path, contents)
        .map_err(tar_error)
}

fn header(kind: tar::EntryType, mode: u32, uid: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(uid);
    header.set_gid(uid);
    header.set_mtime(ENTRY_MTIME);
    header.set_size(0);
    header
}

fn tar_error(source: std::io::Error) -> Error {
    Error::Io {
        action: "assembling the image build context",
        path: PathBuf::from("rootfs.tar"),
        source,
    }
}

/// One entry of the root filesystem.
enum Entry {
    Dir {
        mode: u32,
        uid: u64,
    },
    File {
        contents: Vec<u8>,
        mode: u32,
        uid: u64,
    },
    Symlink {
        target: String,
    },
}

/// The root filesystem being assembled, keyed by absolute path (sorted: parents first).
#[derive(Default)]
struct Rootfs {
    entries: BTreeMap<String, Entry>,
}

impl Rootfs {
    /// Directories, users and links every sandbox image has.
    fn add_base_layout(&mut self) {
        for dir in ["/etc", "/usr/local/bin", "/bin", "/root", "/var/log"] {
            self.dir(dir, 0o755, 0);
        }
        self.dir("/tmp", 0o1777, 0);
        // The agent writes its state, its scanner DB and its config reloads as its own user.
        for dir in [
            paths::DATA_DIR,
            "/var/lib/docker-optimizer/logs",
            "/var/lib/docker-optimizer/tmp",
            "/var/lib/docker-optimizer/cache",
            "/var/lib/docker-optimizer/tls",
            "/var/lib/trivy/db",
        ] {
            self.dir(dir, 0o755, AGENT_UID);
        }
        // The agent reads its configuration but cannot change it; root (an operator) can.
        self.dir("/etc/docker-optimizer", 0o755, 0);
        // Logs live on the data volume so they count against its quota, as on a real host disk.
        self.symlink(paths::LOG_DIR, "/var/lib/docker-optimizer/logs");
        self.add_file(
            "/etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\n\
              optimizer:x:10001:10001:Docker Optimizer Agent:/var/lib/docker-optimizer:/bin/sh\n"
                .to_vec(),
            0o644,
            0,
        );
        self.add_file(
            "/etc/group",
            b"root:x:0:\noptimizer:x:10001:\n".to_vec(),
            0o644,
            0,
        );
    }

    fn dir(&mut self, path: &str, mode: u32, uid: u64) {
        self.entries
            .insert(path.to_string(), Entry::Dir { mode, uid });
    }

    fn symlink(&mut self, path: &str, target: &str) {
        self.ensure_parents(path);
        self.entries.insert(
            path.to_string(),
            Entry::Symlink {
                target: target.to_string(),
            },
        );
    }

    fn add_file(&mut self, path: &str, contents: Vec<u8>, mode: u32, uid: u64) {
        self.ensure_parents(path);
        self.entries.insert(
            path.to_string(),
            Entry::File {
                contents,
                mode,
                uid,
            },
        );
    }

    /// Copies a host file (following links, as the loader will) to `path` in the image.
    fn add_host_file(&mut self, host: &Path, path: &str, mode: u32) -> Result<()> {
        let contents = std::fs::read(host).map_err(|source| Error::Io {
            action: "reading",
            path: host.to_path_buf(),
            source,
        })?;
        self.add_file(path, contents, mode, 0);
        Ok(())
    }

    /// Adds root-owned directories for every missing parent of `path`.
    fn ensure_parents(&mut self, path: &str) {
        let mut parent = Path::new(path).parent();
        while let Some(dir) = parent.filter(|d| *d != Path::new("/")) {
            let dir_name = dir.to_string_lossy().into_owned();
            self.entries.entry(dir_name).or_insert(Entry::Dir {
                mode: 0o755,
                uid: 0,
            });
            parent = dir.parent();
        }
    }

    fn into_tar(self) -> Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, entry) in self.entries {
            let relative = path.trim_start_matches('/');
            match entry {
                Entry::Dir { mode, uid } => {
                    let mut header = header(tar::EntryType::Directory, mode, uid);
                    builder
                        .append_data(&mut header, format!("{relative}/"), std::io::empty())
                        .map_err(tar_error)?;
                }
                Entry::File {
                    contents,
                    mode,
                    uid,
                } => append(&mut builder, relative, &contents, mode, uid)?,
                Entry::Symlink { target } => {
                    let mut header = header(tar::EntryType::Symlink, 0o777, 0);
                    builder
                        .append_link(&mut header, relative, target)
                        .map_err(tar_error)?;
                }
            }
        }
        builder.into_inner().map_err(tar_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_yields_library_paths_only() {
        let output = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                      \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f)\n\
                      \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                      \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(output),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }

    #[test]
    fn a_static_binary_has_no_libraries() {
        assert!(parse_ldd("\tnot a dynamic executable\n").is_empty());
        assert!(parse_ldd("\tstatically linked\n").is_empty());
    }

    #[test]
    fn the_same_inputs_give_the_same_bytes() {
        let inputs = ImageInputs::discover().unwrap();
        let first = inputs.build_context("1.4.2").unwrap();
        let second = inputs.build_context("1.4.2").unwrap();
        assert_eq!(first.content_hash, second.content_hash);
        let other_release = inputs.build_context("1.3.0").unwrap();
        assert_ne!(first.content_hash, other_release.content_hash);
    }

    #[test]
    fn the_fingerprint_follows_the_release_and_is_stable() {
        let inputs = ImageInputs::discover().unwrap();
        assert_eq!(inputs.fingerprint("1.4.2"), inputs.fingerprint("1.4.2"));
        assert_ne!(inputs.fingerprint("1.4.2"), inputs.fingerprint("1.3.0"));
    }

    #[test]
    fn rootfs_lists_parents_before_children_and_links_the_programs() {
        let mut fs = Rootfs::default();
        fs.add_base_layout();
        fs.symlink("/usr/local/bin/agentctl", "optimizer-agent");
        let tar = fs.into_tar().unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        let position = |name: &str| names.iter().position(|n| n == name).unwrap();
        assert!(position("usr/") < position("usr/local/bin/"));
        assert!(position("usr/local/bin/") < position("usr/local/bin/agentctl"));
        assert!(names.contains(&"var/log/docker-optimizer".to_string()));
    }
}
