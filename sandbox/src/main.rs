use std::process::ExitCode;

use optimizer_agent::{run_multicall, AgentProgram};

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let program = AgentProgram::from_argv0(&argv0.to_string_lossy()).unwrap_or(AgentProgram::Agent);
    run_multicall(program, args.collect())
}
