//! `git proof keygen`: a new OpenSSH ed25519 key pair and its allowed_signers line.

use std::path::PathBuf;

use anyhow::Context as _;
use git_proof::signing;

use super::Ctx;

/// Make a new OpenSSH ed25519 signing key (private key 0600) and print its allowed_signers line.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to write the private key; the public key goes to PATH.pub
    /// [default: ~/.ssh/git_proof_ed25519].
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// The principal of the allowed_signers line [default: git config user.email, else "git-proof"].
    #[arg(long)]
    principal: Option<String>,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { out, principal } = args;
    let repo = git_proof::git::discover(&ctx.dir).ok();
    let principal = principal
        .or_else(|| {
            let repo = repo.as_ref()?;
            repo.config_snapshot().string("user.email").map(|e| e.to_string())
        })
        .unwrap_or_else(|| "git-proof".to_owned());
    let out = match out {
        Some(path) => path,
        None => std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".ssh").join("git_proof_ed25519"))
            .context("HOME is not set; pass --out PATH")?,
    };
    let key = signing::generate_key(&out, &principal)?;
    outln!("{}", signing::allowed_signers_line(&principal, &key.public_key))?;
    eprintln!(
        "wrote {} (private, 0600) and {}\nuse it: git config proof.signingKey {}\ntrust it: add the line above to .proof/allowed_signers",
        key.private_path.display(),
        key.public_path.display(),
        key.private_path.display()
    );
    Ok(super::EXIT_OK)
}
