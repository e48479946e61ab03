//! `git proof completions SHELL`: tab completion scripts, generated from the command definitions.

use clap::CommandFactory as _;

use super::Ctx;

/// Print a completion script for bash, zsh, fish, elvish or PowerShell. Bash: `git-proof
/// completions bash > ~/.local/share/bash-completion/completions/git-proof` (it completes
/// `git proof ...` too, through git's own completion); zsh: into a directory on `$fpath` as
/// `_git-proof`; fish: `~/.config/fish/completions/git-proof.fish`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(value_enum, value_name = "SHELL")]
    shell: clap_complete::Shell,
}

/// git's bash completion completes `git proof ...` with a function named `_git_proof` when one
/// exists; this one hands the words after `proof` to the generated `_git__proof`.
const GIT_BASH_BRIDGE: &str = r#"
# `git proof <TAB>`: git's completion (git-completion.bash) calls _git_proof.
_git_proof() {
    local cmd_idx=${__git_cmd_idx:-1}
    local -a COMP_WORDS=("git-proof" "${words[@]:cmd_idx+1}")
    local COMP_CWORD=$((cword - cmd_idx))
    local COMP_LINE="${COMP_WORDS[*]}"
    local COMP_POINT=${#COMP_LINE}
    _git__proof git-proof "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
}
"#;

pub fn run(args: Args, _ctx: &Ctx) -> anyhow::Result<u8> {
    let mut cli = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "git-proof", &mut out);
    if args.shell == clap_complete::Shell::Bash {
        // clap_complete spells a hyphenated binary's states two ways (clap issue #6421): the
        // loop that walks the words arrives at `git__proof__subcmd__verify`, the case arms
        // say `git__subcmd__proof__subcmd__verify`, so no command's options would complete.
        let text = String::from_utf8_lossy(&out).replace("git__subcmd__proof", "git__proof");
        out = text.into_bytes();
        out.extend_from_slice(GIT_BASH_BRIDGE.as_bytes());
    }
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(super::EXIT_OK)
}
