//! The `git-proof` binary: argument parsing, presentation and exit codes live in `cli`; all
//! behaviour lives in the `git_proof` library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
