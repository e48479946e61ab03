//! `git proof man`: the manual pages, generated from the command definitions.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::CommandFactory as _;

use super::{BadInput, Ctx, NotFound};

/// Print the manual page of git-proof (or of one command), or install every page where `man`
/// finds them, which makes `git proof --help` and `git help proof` work.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The command whose page to print (e.g. verify) [default: git-proof's own].
    #[arg(value_name = "COMMAND")]
    command: Option<String>,
    /// Write git-proof.1 and a page per command (git-proof-verify.1, ...) into
    /// <prefix>/share/man/man1, where man looks for the pages of <prefix>/bin.
    #[arg(long, conflicts_with = "command")]
    install: bool,
    /// With --install: the prefix [default: the directory above the one this binary is in].
    #[arg(long, value_name = "DIR", requires = "install")]
    prefix: Option<PathBuf>,
}

pub fn run(args: Args, _ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        command,
        install,
        prefix,
    } = args;
    let mut cli = super::Cli::command().disable_help_subcommand(true);
    cli.build();
    if install {
        return install_pages(cli, prefix);
    }
    let page = match &command {
        None => cli,
        Some(name) => cli
            .get_subcommands()
            .find(|c| !c.is_hide_set() && (c.get_name() == name || c.get_all_aliases().any(|a| a == name)))
            .cloned()
            .ok_or_else(|| NotFound(format!("no command '{name}': `git proof --help` lists them")))?,
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(super::EXIT_OK)
}

/// Writes every page into `<prefix>/share/man/man1`. man derives its search path from PATH
/// (`<dir>/../share/man` for each `<dir>` on it), so pages beside this binary's `bin/` are
/// found with no MANPATH set.
fn install_pages(cli: clap::Command, prefix: Option<PathBuf>) -> anyhow::Result<u8> {
    let prefix = match prefix {
        Some(prefix) => prefix,
        None => {
            let exe = std::env::current_exe().context("cannot tell where this binary is; pass --prefix DIR")?;
            exe.parent()
                .and_then(|bin| bin.parent())
                .map(PathBuf::from)
                .ok_or_else(|| BadInput(format!("{} has no parent directory; pass --prefix DIR", exe.display())))?
        }
    };
    let dir = prefix.join("share").join("man").join("man1");
    std::fs::create_dir_all(&dir)
        .map_err(|e| BadInput(format!("cannot create {}: {e}; pass --prefix DIR", dir.display())))?;
    let pages = std::iter::once(cli.clone())
        .chain(cli.get_subcommands().filter(|c| !c.is_hide_set()).cloned())
        .collect::<Vec<_>>();
    for page in &pages {
        let man = clap_mangen::Man::new(page.clone());
        man.generate_to(&dir)
            .map_err(|e| BadInput(format!("cannot write {}: {e}", dir.join(man.get_filename()).display())))?;
    }
    outln!("installed {} manual pages into {}", pages.len(), dir.display())?;
    let bin = prefix.join("bin");
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|p| std::fs::canonicalize(&p).ok() == std::fs::canonicalize(&bin).ok())
    });
    if !on_path {
        eprintln!(
            "note: {} is not on PATH, so man will not look there; add it, or add {} to MANPATH",
            bin.display(),
            prefix.join("share").join("man").display()
        );
    }
    Ok(super::EXIT_OK)
}
