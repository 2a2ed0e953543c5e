//! The local control channel of a running drill. `firedrill run` writes a session file
//! (`drills/<session>.json` in the state folder, readable by its owner only) naming its Unix
//! socket and a random token, and serves the socket; the trainee's verbs (`firedrill ack`,
//! `diagnose`, `note`, `hint`, `status`, `abort`) find the session file, connect, and send one
//! JSON request line carrying the token. A request with another token is refused, so one
//! drill's verbs never reach another drill.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// What a running drill tells about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionFile {
    pub session: String,
    pub scenario: String,
    pub sandbox: String,
    pub socket: PathBuf,
    pub token: String,
    pub pid: u32,
}

/// A trainee verb.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "snake_case")]
pub enum Verb {
    Ack,
    Diagnose { runbook: String },
    Note { text: String },
    Hint,
    Status,
    Abort,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Request {
    token: String,
    #[serde(flatten)]
    verb: Verb,
}

/// The drill's answer to a verb: a line for the trainee, and for `status` the state as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

impl Reply {
    pub fn ok(message: impl Into<String>) -> Reply {
        Reply {
            ok: true,
            message: message.into(),
            status: None,
        }
    }

    pub fn refused(message: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            message: message.into(),
            status: None,
        }
    }
}

/// A verb for the drill loop to handle, with where its reply goes.
pub struct Command {
    pub verb: Verb,
    pub reply: oneshot::Sender<Reply>,
}

#[derive(Debug, Error)]
pub enum ControlError {
    #[error("no drill is running (no session file in {})", dir.display())]
    NoDrill { dir: PathBuf },
    #[error("several drills are running ({}); say which with --session", sessions.join(", "))]
    Ambiguous { sessions: Vec<String> },
    #[error("no running drill with session '{session}'; running: {}", running.join(", "))]
    UnknownSession {
        session: String,
        running: Vec<String>,
    },
    #[error("drill {session} does not answer on {}: {detail} (if it was killed, run `firedrill cleanup`)", socket.display())]
    Unreachable {
        session: String,
        socket: PathBuf,
        detail: String,
    },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The folder of session files.
pub fn sessions_dir() -> PathBuf {
    crate::state::dir().join("drills")
}

/// A fresh random token (what `firedrill run` puts in its session file).
pub fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Binds the socket of `session`, writes its session file (mode 0600) and serves verbs until
/// the returned handle's task is aborted. Verbs arrive on the receiver.
pub async fn serve(
    session: SessionFile,
) -> Result<(mpsc::Receiver<Command>, tokio::task::JoinHandle<()>), ControlError> {
    let dir = sessions_dir();
    std::fs::create_dir_all(&dir).map_err(|source| ControlError::Io {
        action: "creating",
        path: dir.clone(),
        source,
    })?;
    let _ = std::fs::remove_file(&session.socket);
    let listener = UnixListener::bind(&session.socket).map_err(|source| ControlError::Io {
        action: "listening on",
        path: session.socket.clone(),
        source,
    })?;
    write_session_file(&dir, &session)?;
    let (sender, receiver) = mpsc::channel(16);
    let token = session.token.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sender = sender.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let _ = answer(stream, &token, &sender).await;
            });
        }
    });
    Ok((receiver, task))
}

/// Removes the session file and the socket of a drill that ended.
pub fn withdraw(session: &SessionFile) {
    let _ = std::fs::remove_file(session_file_path(&sessions_dir(), &session.session));
    let _ = std::fs::remove_file(&session.socket);
}

async fn answer(
    stream: UnixStream,
    token: &str,
    drill: &mpsc::Sender<Command>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    let reply = match serde_json::from_str::<Request>(&line) {
        Err(error) => Reply::refused(format!("malformed request: {error}")),
        Ok(request) if request.token != token => {
            Reply::refused("wrong session token: this verb is not for this drill")
        }
        Ok(request) => {
            let (reply, answer) = oneshot::channel();
            if drill
                .send(Command {
                    verb: request.verb,
                    reply,
                })
                .await
                .is_err()
            {
                Reply::refused("the drill is ending")
            } else {
                answer
                    .await
                    .unwrap_or_else(|_| Reply::refused("the drill is ending"))
            }
        }
    };
    let mut text = serde_json::to_string(&reply).expect("a reply serialises");
    text.push('\n');
    write.write_all(text.as_bytes()).await
}

/// Sends `verb` to the drill of `session` (the only running one when `None`).
pub async fn send(session: Option<&str>, verb: Verb) -> Result<Reply, ControlError> {
    let file = find_session(&sessions_dir(), session)?;
    send_to(&file, &file.token, verb).await
}

async fn send_to(file: &SessionFile, token: &str, verb: Verb) -> Result<Reply, ControlError> {
    let unreachable = |detail: String| ControlError::Unreachable {
        session: file.session.clone(),
        socket: file.socket.clone(),
        detail,
    };
    let stream = UnixStream::connect(&file.socket)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let (read, mut write) = stream.into_split();
    let mut request = serde_json::to_string(&Request {
        token: token.to_string(),
        verb,
    })
    .expect("a request serialises");
    request.push('\n');
    write
        .write_all(request.as_bytes())
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let mut line = String::new();
    BufReader::new(read)
        .read_line(&mut line)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    serde_json::from_str(&line).map_err(|e| unreachable(format!("unreadable reply: {e}")))
}

/// The running drills' session files.
pub fn running(dir: &Path) -> Vec<SessionFile> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut sessions: Vec<SessionFile> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "json"))
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .filter_map(|text| serde_json::from_str(&text).ok())
        .collect();
    sessions.sort_by(|a, b| a.session.cmp(&b.session));
    sessions
}

/// `sessions` split into the drills still running, whose socket answers, and the files killed
/// processes left behind, whose socket nobody listens on (their pid could have been reused).
pub async fn split_live(sessions: Vec<SessionFile>) -> (Vec<SessionFile>, Vec<SessionFile>) {
    let (mut live, mut stale) = (Vec::new(), Vec::new());
    for session in sessions {
        if UnixStream::connect(&session.socket).await.is_ok() {
            live.push(session);
        } else {
            stale.push(session);
        }
    }
    (live, stale)
}

fn find_session(dir: &Path, session: Option<&str>) -> Result<SessionFile, ControlError> {
    let mut all = running(dir);
    let names = |all: &[SessionFile]| all.iter().map(|s| s.session.clone()).collect::<Vec<_>>();
    match session {
        Some(wanted) => {
            let running = names(&all);
            all.into_iter()
                .find(|s| s.session == wanted)
                .ok_or_else(|| ControlError::UnknownSession {
                    session: wanted.to_string(),
                    running,
                })
        }
        None => match all.len() {
            0 => Err(ControlError::NoDrill {
                dir: dir.to_path_buf(),
            }),
            1 => Ok(all.remove(0)),
            _ => Err(ControlError::Ambiguous {
                sessions: names(&all),
            }),
        },
    }
}

fn session_file_path(dir: &Path, session: &str) -> PathBuf {
    dir.join(format!("{session}.json"))
}

/// Writes the session file readable by its owner only: the token in it is the drill's key.
fn write_session_file(dir: &Path, session: &SessionFile) -> Result<(), ControlError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let path = session_file_path(dir, &session.session);
    let io = |action| {
        let path = path.clone();
        move |source| ControlError::Io {
            action,
            path,
            source,
        }
    };
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io("creating"))?;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io("protecting"))?;
    file.write_all(
        serde_json::to_string_pretty(session)
            .expect("a session file serialises")
            .as_bytes(),
    )
    .map_err(io("writing"))?;
    file.persist(&path).map_err(|e| io("writing")(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(dir: &Path, name: &str) -> SessionFile {
        SessionFile {
            session: name.to_string(),
            scenario: "high-cpu-usage".to_string(),
            sandbox: format!("{name}-sbx"),
            socket: dir.join(format!("{name}.sock")),
            token: new_token(),
            pid: std::process::id(),
        }
    }

    #[tokio::test]
    async fn verbs_with_the_token_reach_the_drill_and_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let drill = session(dir.path(), "drill-a");
        let listener = UnixListener::bind(&drill.socket).unwrap();
        let (sender, mut receiver) = mpsc::channel(4);
        let token = drill.token.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = answer(stream, &token, &sender).await;
            }
        });
        tokio::spawn(async move {
            while let Some(command) = receiver.recv().await {
                let _ = command.reply.send(Reply::ok(format!("{:?}", command.verb)));
            }
        });
        let reply = send_to(
            &drill,
            &drill.token,
            Verb::Diagnose {
                runbook: "high-cpu-usage".to_string(),
            },
        )
        .await
        .unwrap();
        assert_eq!(reply, Reply::ok("Diagnose { runbook: \"high-cpu-usage\" }"));
        let refused = send_to(&drill, "not-the-token", Verb::Abort).await.unwrap();
        assert!(!refused.ok);
        assert!(
            refused.message.contains("wrong session token"),
            "{refused:?}"
        );
    }

    #[test]
    fn the_session_is_found_by_name_or_as_the_only_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            find_session(dir.path(), None),
            Err(ControlError::NoDrill { .. })
        ));
        write_session_file(dir.path(), &session(dir.path(), "drill-a")).unwrap();
        assert_eq!(find_session(dir.path(), None).unwrap().session, "drill-a");
        write_session_file(dir.path(), &session(dir.path(), "drill-b")).unwrap();
        let ambiguous = find_session(dir.path(), None).unwrap_err().to_string();
        assert!(ambiguous.contains("drill-a, drill-b"), "{ambiguous}");
        assert_eq!(
            find_session(dir.path(), Some("drill-b")).unwrap().session,
            "drill-b"
        );
        let unknown = find_session(dir.path(), Some("drill-z"))
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("no running drill with session 'drill-z'"),
            "{unknown}"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(session_file_path(dir.path(), "drill-a"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
