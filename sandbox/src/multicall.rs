//! Dispatch on the name the binary was started under.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

/// The programs the image carries, all of them this one binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentProgram {
    /// `optimizer-agent [serve|traffic] ...`
    Agent,
    /// `agentctl ...`
    Agentctl,
    /// `trivy ...`
    Trivy,
}

impl AgentProgram {
    /// Every program, with the file name it has in the image's `/usr/local/bin`.
    pub const ALL: [(AgentProgram, &'static str); 3] = [
        (AgentProgram::Agent, "optimizer-agent"),
        (AgentProgram::Agentctl, "agentctl"),
        (AgentProgram::Trivy, "trivy"),
    ];

    /// The program an `argv[0]` names, if any (only its file name counts).
    pub fn from_argv0(argv0: &str) -> Option<AgentProgram> {
        let name = Path::new(argv0).file_name()?.to_str()?;
        Self::ALL
            .iter()
            .find(|(_, file)| *file == name)
            .map(|(program, _)| *program)
    }

    /// The file name of this program in the image.
    pub fn file_name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(program, _)| *program == self)
            .map(|(_, file)| *file)
            .expect("every program is listed in ALL")
    }
}

/// Runs `program` with `args` (without `argv[0]`) and returns its exit code.
pub fn run_multicall(program: AgentProgram, args: Vec<OsString>) -> ExitCode {
    match program {
        AgentProgram::Agent => {
            if args.first().is_some_and(|a| a == "traffic") {
                crate::traffic::main(args[1..].to_vec())
            } else {
                crate::server::main(args)
            }
        }
        AgentProgram::Agentctl => crate::agentctl::main(args),
        AgentProgram::Trivy => crate::scanner::cli::main(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv0_picks_the_program_by_file_name() {
        assert_eq!(
            AgentProgram::from_argv0("/usr/local/bin/agentctl"),
            Some(AgentProgram::Agentctl)
        );
        assert_eq!(AgentProgram::from_argv0("trivy"), Some(AgentProgram::Trivy));
        assert_eq!(
            AgentProgram::from_argv0("./optimizer-agent"),
            Some(AgentProgram::Agent)
        );
        assert_eq!(AgentProgram::from_argv0("/usr/bin/firedrill"), None);
    }
}
