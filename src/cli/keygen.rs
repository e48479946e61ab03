//! `git proof keygen`: a new OpenSSH ed25519 key pair and its allowed_signers line.

use std::io::IsTerminal as _;
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
    /// The principal of the allowed_signers line [default: git config user.email (the
    /// repository's, else your global one), else "git-proof"].
    #[arg(long)]
    principal: Option<String>,
    /// Print the key's paths and allowed_signers line as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args { out, principal, json } = args;
    let principal = principal
        .or_else(|| {
            let [email] = git_proof::git::config_strings(&ctx.dir, ["user.email"]);
            email
        })
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "git-proof".to_owned());
    // An allowed_signers principal is one field: a blank, quote or control character in it
    // would split the line ssh-keygen and git-proof read back.
    if principal
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '"')
    {
        Err(super::BadInput(format!(
            "principal '{}' has a blank, quote or control character; use one word, e.g. an email address",
            principal.escape_debug()
        )))?;
    }
    let out = match out {
        Some(path) => path,
        None => std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".ssh").join("git_proof_ed25519"))
            .context("HOME is not set; pass --out PATH")?,
    };
    let key = signing::generate_key(&out, &principal)?;
    let line = signing::allowed_signers_line(&principal, &key.public_key);
    if json {
        super::print_json(&serde_json::json!({
            "private_key": key.private_path,
            "public_key": key.public_path,
            "principal": principal,
            "allowed_signers_line": line,
        }))?;
        return Ok(super::EXIT_OK);
    }
    outln!("{line}")?;
    // "Above" only where the line is: on the terminal, right above these lines.
    let where_line = if std::io::stdout().is_terminal() {
        "the line above"
    } else {
        "the line written to stdout"
    };
    eprintln!(
        "wrote {} (private, 0600) and {}\nuse it: git config proof.signingKey {}\ntrust it: add {where_line} to .proof/allowed_signers",
        key.private_path.display(),
        key.public_path.display(),
        key.private_path.display()
    );
    Ok(super::EXIT_OK)
}
