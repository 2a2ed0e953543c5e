//! Running commands and copying files inside a sandbox container, the way `docker exec` and
//! `docker cp` do. Every exec firedrill starts is reported to an [`ExecJournal`], so the action
//! audit can tell firedrill's own `exec_start` events from a trainee's.

use std::sync::Mutex;

use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a finished exec printed and how it ended.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

/// One action firedrill took on a container: the audit leaves these out of the trainee's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OwnAction {
    /// Unix seconds.
    pub at: f64,
    /// The engine's exec id, for an exec.
    pub exec_id: Option<String>,
    /// What was run or copied, as the engine's event shows it (`agentctl jobs list`).
    pub command: String,
}

/// Collects firedrill's own actions on a container.
#[derive(Debug, Default)]
pub struct ExecJournal {
    actions: Mutex<Vec<OwnAction>>,
}

impl ExecJournal {
    fn record(&self, exec_id: Option<String>, command: String) {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        self.actions
            .lock()
            .expect("the journal lock is never poisoned")
            .push(OwnAction {
                at,
                exec_id,
                command,
            });
    }

    /// Records an engine action that is not an exec (a restart, a stop, an update, a deploy), in
    /// the words of its `docker` command, so the audit can leave it out of the trainee's.
    pub fn record_engine_action(&self, command: impl Into<String>) {
        self.record(None, command.into());
    }

    /// Everything recorded so far.
    pub fn actions(&self) -> Vec<OwnAction> {
        self.actions
            .lock()
            .expect("the journal lock is never poisoned")
            .clone()
    }
}

/// Runs `cmd` in `container` as `user` (a name or uid) and waits for it to end.
pub async fn run(
    docker: &Docker,
    journal: &ExecJournal,
    container: &str,
    user: &str,
    cmd: &[&str],
) -> Result<ExecOutput> {
    let exec_id = create(docker, container, user, cmd, true).await?;
    journal.record(Some(exec_id.clone()), cmd.join(" "));
    let started = docker
        .start_exec(&exec_id, None::<StartExecOptions>)
        .await
        .map_err(Error::docker(format!(
            "running `{}` in {container}",
            cmd.join(" ")
        )))?;
    let (mut stdout, mut stderr) = (String::new(), String::new());
    if let StartExecResults::Attached { mut output, .. } = started {
        while let Some(chunk) = output.next().await {
            match chunk.map_err(Error::docker(format!("reading `{}` output", cmd.join(" "))))? {
                bollard::container::LogOutput::StdErr { message } => {
                    stderr.push_str(&String::from_utf8_lossy(&message))
                }
                other => stdout.push_str(&other.to_string()),
            }
        }
    }
    let inspect = docker
        .inspect_exec(&exec_id)
        .await
        .map_err(Error::docker(format!("inspecting exec {exec_id}")))?;
    Ok(ExecOutput {
        exit_code: inspect.exit_code.unwrap_or(-1),
        stdout,
        stderr,
    })
}

/// Starts `cmd` in `container` as `user` and leaves it running (`docker exec -d`).
pub async fn spawn(
    docker: &Docker,
    journal: &ExecJournal,
    container: &str,
    user: &str,
    cmd: &[&str],
) -> Result<()> {
    let exec_id = create(docker, container, user, cmd, false).await?;
    journal.record(Some(exec_id.clone()), cmd.join(" "));
    docker
        .start_exec(
            &exec_id,
            Some(StartExecOptions {
                detach: true,
                ..Default::default()
            }),
        )
        .await
        .map_err(Error::docker(format!(
            "starting `{}` in {container}",
            cmd.join(" ")
        )))?;
    Ok(())
}

async fn create(
    docker: &Docker,
    container: &str,
    user: &str,
    cmd: &[&str],
    attach: bool,
) -> Result<String> {
    let config = ExecConfig {
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        user: Some(user.to_string()),
        attach_stdout: Some(attach),
        attach_stderr: Some(attach),
        ..Default::default()
    };
    Ok(docker
        .create_exec(container, config)
        .await
        .map_err(Error::docker(format!(
            "creating exec `{}` in {container}",
            cmd.join(" ")
        )))?
        .id)
}

/// Writes `contents` to `path` in `container` (a `docker cp`), owned by `uid` with `mode`.
/// Works on a stopped or restarting container too, as `docker cp` does.
pub async fn write_file(
    docker: &Docker,
    journal: &ExecJournal,
    container: &str,
    path: &str,
    contents: &[u8],
    mode: u32,
    uid: u64,
) -> Result<()> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(mode);
    header.set_uid(uid);
    header.set_gid(uid);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
    );
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_data(&mut header, name, contents)
        .and_then(|()| builder.finish())
        .map_err(|source| Error::Io {
            action: "packing a file for",
            path: path.into(),
            source,
        })?;
    let tar = builder.into_inner().map_err(|source| Error::Io {
        action: "packing a file for",
        path: path.into(),
        source,
    })?;
    let dir = if dir.is_empty() { "/" } else { dir };
    journal.record(None, format!("copy to {path}"));
    let options = UploadToContainerOptionsBuilder::default().path(dir).build();
    docker
        .upload_to_container(container, Some(options), bollard::body_full(tar.into()))
        .await
        .map_err(Error::docker(format!("copying {path} into {container}")))
}

/// Reads the file at `path` in `container` (a `docker cp` out); `None` when it does not exist.
pub async fn read_file(docker: &Docker, container: &str, path: &str) -> Result<Option<Vec<u8>>> {
    let options = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let mut stream = docker.download_from_container(container, Some(options));
    let mut tar = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => tar.extend_from_slice(&bytes),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(error) => {
                return Err(Error::Docker {
                    action: format!("copying {path} out of {container}"),
                    source: error,
                })
            }
        }
    }
    let mut archive = tar::Archive::new(tar.as_slice());
    let io_error = |source| Error::Io {
        action: "unpacking",
        path: path.into(),
        source,
    };
    let mut entries = archive.entries().map_err(io_error)?;
    let Some(entry) = entries.next() else {
        return Ok(None);
    };
    let mut entry = entry.map_err(io_error)?;
    let mut contents = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut contents).map_err(io_error)?;
    Ok(Some(contents))
}
