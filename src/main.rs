use std::process::ExitCode;

use optimizer_agent::AgentProgram;

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    // Inside a sandbox image this same executable is the agent, agentctl and trivy.
    if let Some(program) = AgentProgram::from_argv0(&argv0.to_string_lossy()) {
        return optimizer_agent::run_multicall(program, args.collect());
    }
    firedrill::cli::main()
}
