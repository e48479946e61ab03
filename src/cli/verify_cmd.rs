//! `git proof verify [REV|RANGE]...`: check the proofs on commits, for people and CI.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use git_proof::coverage;
use git_proof::record::RecordKind;
use git_proof::summary::{Color, Style};
use git_proof::verify::{self, CommitReport, Verdict};

use super::Ctx;

/// Check the proofs of commits: signatures against the allowed signers, subjects against the
/// commits, the facts git can recompute, manifests against their hashes. Exit 0 all valid, 1
/// any invalid (or missing where required), 2 bad input.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Commits or ranges (A..B) to check [default: HEAD].
    #[arg(value_name = "REV|RANGE")]
    revs: Vec<String>,
    #[command(flatten)]
    trust: super::TrustArgs,
    /// Fail commits that carry no proof.
    #[arg(long)]
    require: bool,
    /// Fail only commits that look agent-made (a Co-authored-by trailer naming an agent,
    /// aider's "(aider)" names, or `[verify] agents` patterns in .proof/policy.toml) and carry no
    /// proof; human commits pass.
    #[arg(long, value_enum, value_name = "WHO", conflicts_with = "require")]
    require_for: Option<RequireFor>,
    /// Policy: fail unless every scope violation is approved (by a trusted approval record).
    #[arg(long)]
    deny_pending: bool,
    /// Policy: fail unless every DoD check passed.
    #[arg(long)]
    require_dod: bool,
    /// Apply the team's `[verify]` policy from .proof/policy.toml (deny_pending, require_dod),
    /// read from --trust-ref's tree when given, so a change cannot relax its own policy.
    #[arg(long)]
    policy: bool,
    /// Output: a table, JSON (one object per commit), GitHub workflow annotations, or JUnit XML.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The same as --format json.
    #[arg(long)]
    json: bool,
    /// Read the proofs from this notes commit instead of refs/notes/proof (a pre-receive hook
    /// passes the pushed value of the notes ref).
    #[arg(long, value_name = "REV")]
    notes: Option<String>,
    /// With --require or --require-for: pass a proof whose signature and manifest hold but
    /// whose facts could not be recomputed here (a shallow clone without the run's base, a
    /// partial clone that could not fetch the objects). Without it such a proof fails.
    #[arg(long)]
    allow_unchecked: bool,
    /// No progress on stderr.
    #[arg(short, long)]
    quiet: bool,
    /// Check DSSE envelopes (`git proof export`: a JSON array, one envelope, or one per line)
    /// instead of commits: the envelope's signature by an allowed signer, the statement as a
    /// git-proof record, and, where this repository has the note on its commit, that the note
    /// holds the same statement and it counts. Works outside a repository with
    /// --allowed-signers.
    #[arg(long, value_name = "FILE", conflicts_with = "revs")]
    envelope: Option<std::path::PathBuf>,
}

/// Whose commits must carry a proof.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequireFor {
    Agents,
}

/// How the report is printed.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Github,
    Junit,
}

/// One commit's report, with whether it needed a proof.
struct Checked {
    report: CommitReport,
    required: bool,
    /// Why the commit counts as agent-made (with --require-for agents).
    agent: Option<String>,
    /// `--allow-unchecked`.
    allow_unchecked: bool,
}

impl Checked {
    fn failed(&self) -> bool {
        match self.report.verdict() {
            Verdict::Valid => false,
            Verdict::Unchecked => self.required && !self.allow_unchecked,
            Verdict::Invalid => true,
            Verdict::Missing => self.required,
        }
    }

    fn verdict_word(&self) -> &'static str {
        match self.report.verdict() {
            Verdict::Valid => "valid",
            Verdict::Unchecked => "unchecked",
            Verdict::Invalid => "invalid",
            Verdict::Missing if self.required => "missing",
            Verdict::Missing => "none",
        }
    }

    fn reasons(&self) -> Vec<String> {
        let mut reasons = self.report.reasons();
        match self.report.verdict() {
            Verdict::Missing => reasons.push(match (&self.agent, self.required) {
                (Some(why), _) => format!("no proof note, and the commit looks agent-made ({why})"),
                (None, true) => "no proof note".into(),
                (None, false) => "no proof note (not required)".into(),
            }),
            Verdict::Unchecked if self.failed() => reasons.push(
                "a required proof whose facts could not be checked here does not pass: get the objects \
                 (see 'not checked'), or pass --allow-unchecked to accept the signature and manifest alone"
                    .into(),
            ),
            _ => {}
        }
        reasons
    }
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let Args {
        revs,
        trust,
        require,
        require_for,
        deny_pending,
        require_dod,
        policy: use_policy,
        format,
        json,
        notes,
        allow_unchecked,
        quiet,
        envelope,
    } = args;
    if let Some(file) = envelope {
        return envelopes::run(&file, &trust, json, ctx);
    }
    let format = if json { Format::Json } else { format };
    let repo = git_proof::git::discover(&ctx.dir)?;
    let revs = if revs.is_empty() { vec!["HEAD".to_owned()] } else { revs };
    let walks = revs
        .iter()
        .map(|rev| git_proof::git::commits_newest_first(&repo, rev))
        .collect::<Result<Vec<_>, _>>()?;
    let trust = trust.load(&repo, ctx)?;
    trust.require_signers()?;
    let team = &trust.policy;
    let policy = verify::Policy {
        deny_pending: deny_pending || (use_policy && team.verify.deny_pending),
        require_dod: require_dod || (use_policy && team.verify.require_dod),
        judge_by: use_policy.then(|| team.clone()),
    };
    let patterns = team.verify.agents.clone();
    let notes_commit = notes
        .as_deref()
        .map(|rev| git_proof::git::resolve_commit(&repo, rev))
        .transpose()?;
    // Each commit once, in the first revision that names it; `from_rev[i]` is the revision of
    // the i-th commit checked.
    let mut seen = HashSet::new();
    let mut from_rev = Vec::new();
    let commits = walks
        .into_iter()
        .enumerate()
        .flat_map(|(rev, walk)| walk.map(move |commit| (rev, commit)))
        .filter(|(rev, commit)| {
            let new = commit.as_ref().map_or(true, |c| seen.insert(*c));
            if new {
                from_rev.push(*rev);
            }
            new
        })
        .map(|(_, commit)| commit);
    let mut reports = with_progress(quiet, |progress| {
        verify::verify_commits(&repo, commits, notes_commit, &trust, &policy, progress)
    })?;
    // The walks run newest first; reports list each revision's commits oldest first.
    let mut start = 0;
    for run in from_rev.chunk_by(|a, b| a == b) {
        reports[start..start + run.len()].reverse();
        start += run.len();
    }
    // A commit without a proof of its own may be one of a run's commits, or a run landed on it.
    coverage::from_reports(&repo, &mut reports)?;
    coverage::from_notes(&repo, &mut reports, notes_commit, &trust, &policy, |r| {
        require || (require_for.is_some() && verify::agent_signal(&repo, r.commit, &patterns).is_some())
    })?;
    let checked: Vec<Checked> = reports
        .into_iter()
        .map(|report| {
            let agent = match require_for {
                Some(RequireFor::Agents) if matches!(report.verdict(), Verdict::Missing | Verdict::Unchecked) => {
                    verify::agent_signal(&repo, report.commit, &patterns)
                }
                _ => None,
            };
            Checked {
                required: require || agent.is_some(),
                report,
                agent,
                allow_unchecked,
            }
        })
        .collect();
    let failed = checked.iter().any(Checked::failed);
    let verdict = if failed { super::EXIT_INVALID } else { super::EXIT_OK };
    // A reader that stops early (a pager quit, `| head`) does not change the verdict: CI
    // with pipefail must still see a failing verify fail.
    match print_report(&checked, format, ctx) {
        Err(e) if !super::is_broken_pipe(&e) => Err(e),
        _ => Ok(verdict),
    }
}

/// The report in `format`, on stdout.
fn print_report(checked: &[Checked], format: Format, ctx: &Ctx) -> anyhow::Result<()> {
    match format {
        Format::Table => {
            let style = ctx.page();
            let mut out = std::io::stdout().lock();
            for c in checked {
                out.write_all(table_entry(c, style).as_bytes())?;
            }
            writeln!(out, "{}", summary_line(checked, style))?;
        }
        Format::Json => super::print_json(&checked.iter().map(json_object).collect::<Vec<_>>())?,
        Format::Github => write!(std::io::stdout(), "{}", github(checked))?,
        Format::Junit => write!(std::io::stdout(), "{}", junit(checked))?,
    }
    Ok(())
}

/// Runs `work`, showing "verified N/M commits" on stderr while it runs (M grows while the walk
/// finds commits), when stderr is a terminal and the range is long enough to wait for;
/// nothing in CI or in pipes.
fn with_progress<T>(quiet: bool, work: impl FnOnce(Option<&verify::Progress>) -> T) -> T {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return work(None);
    }
    let progress = verify::Progress::default();
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut shown = false;
            loop {
                let end = finished.load(Ordering::Acquire);
                let found = progress.found.load(Ordering::Relaxed);
                if shown || found >= 500 {
                    shown = true;
                    let checked = progress.checked.load(Ordering::Relaxed);
                    eprint!("\rgit-proof: verified {checked}/{found} commits");
                }
                if end {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            if shown {
                eprintln!();
            }
        });
        let result = work(Some(&progress));
        finished.store(true, Ordering::Release);
        result
    })
}

fn short(c: &Checked) -> String {
    c.report.commit.to_string()[..10].to_owned()
}

/// The bundles that count for the commit.
fn bundles(c: &Checked) -> impl Iterator<Item = &verify::RecordReport> {
    c.report
        .records
        .iter()
        .flatten()
        .filter(|r| r.kind == RecordKind::Bundle && r.ignored.is_none())
}

/// A commit in the table: one line with its verdict and what vouches for it, and beneath it,
/// indented, only what there is to say (further runs, reasons, what was not checked or not
/// counted).
fn table_entry(c: &Checked, style: Style) -> String {
    let word = c.verdict_word();
    let color = match c.report.verdict() {
        Verdict::Valid => Some(Color::Green),
        Verdict::Unchecked if !c.failed() => Some(Color::Yellow),
        Verdict::Missing if !c.required => None,
        Verdict::Invalid | Verdict::Unchecked | Verdict::Missing => Some(Color::Red),
    };
    // Padded before painting, so that colour codes do not count as width.
    let padded = format!("{word:<9}");
    let painted = color.map_or_else(|| padded.clone(), |color| style.paint(color, &padded));
    let mut vouching: Vec<String> = bundles(c).map(describe_bundle).collect();
    if let Some(covered) = &c.report.covered {
        vouching.insert(0, git_proof::summary::quoted(&covered.describe()).into_owned());
    }
    let mut beneath = Vec::new();
    let first = if vouching.len() > 1 {
        beneath.append(&mut vouching);
        ""
    } else {
        vouching.first().map_or("", String::as_str)
    };
    let mut text = format!("{}  {painted}  {first}", short(c)).trim_end().to_owned();
    text.push('\n');
    // A commit nobody asked a proof of has nothing to explain.
    if c.verdict_word() != "none" {
        beneath.extend(c.reasons());
    }
    let unchecked = c.report.unchecked();
    if !unchecked.is_empty() {
        beneath.push(format!("not checked: {}", unchecked.join("; ")));
    }
    // A valid proof says what it did not count, so an ignored record is never silent.
    if c.report.verdict() == Verdict::Valid {
        beneath.extend(
            c.report
                .ignored()
                .map(|r| {
                    format!(
                        "not counted: {} record: {}",
                        r.kind.as_str(),
                        r.ignored.as_deref().unwrap_or_default()
                    )
                })
                .chain(c.report.junk.iter().map(|junk| format!("not counted: {junk}"))),
        );
    }
    for line in beneath {
        // Each detail is one line: a newline from a note is quoted, never a line of its own.
        let _ = writeln!(text, "    {}", git_proof::summary::quoted(&line));
    }
    text
}

/// "run ID signed by NAME", and how the proof came to this commit when it was carried.
fn describe_bundle(record: &verify::RecordReport) -> String {
    let mut text = String::new();
    if let Some(run) = &record.run_id {
        let _ = write!(text, "run {}", git_proof::summary::quoted(run));
    }
    if let Some(signer) = &record.signer {
        let _ = write!(text, " signed by {}", git_proof::summary::quoted(&signer.principals));
    }
    if let Some(carried) = record.carried.as_ref().filter(|_| record.problems.is_empty()) {
        let _ = write!(text, " ({}, same patch-id)", git_proof::summary::quoted(carried));
    }
    text.trim_start().to_owned()
}

/// The table's last line: how many commits, and how many of each verdict.
fn summary_line(checked: &[Checked], style: Style) -> String {
    let count = |word: &str| checked.iter().filter(|c| c.verdict_word() == word).count();
    let parts: Vec<String> = [
        ("valid", Color::Green),
        ("invalid", Color::Red),
        ("missing", Color::Red),
        ("unchecked", Color::Yellow),
    ]
    .into_iter()
    .filter_map(|(word, color)| {
        let n = count(word);
        (n > 0).then(|| style.paint(color, format!("{n} {word}")))
    })
    .chain((count("none") > 0).then(|| format!("{} without a proof (not required)", count("none"))))
    .collect();
    let failing = checked.iter().filter(|c| c.failed()).count();
    let verdict = if failing == 0 {
        style.paint(Color::Green, "ok")
    } else {
        style.paint(Color::Red, format!("{failing} failing"))
    };
    let commits = if checked.len() == 1 { "commit" } else { "commits" };
    if parts.is_empty() {
        return format!("{} {commits}; {verdict}", checked.len());
    }
    format!("{} {commits}: {}; {verdict}", checked.len(), parts.join(", "))
}

/// The stable JSON schema README documents.
fn json_object(c: &Checked) -> serde_json::Value {
    serde_json::json!({
        "commit": c.report.commit.to_string(),
        "verdict": c.verdict_word(),
        "required": c.required,
        "agent_signal": c.agent,
        "records": c.report.records.iter().flatten().map(|rec| serde_json::json!({
            "kind": rec.kind.as_str(),
            "run_id": rec.run_id,
            "signer": rec.signer.as_ref().map(|s| serde_json::json!({"principals": s.principals, "fingerprint": s.fingerprint})),
            "counts": rec.ignored.is_none(),
            "ignored": rec.ignored,
            "problems": rec.problems,
            "unchecked": rec.unchecked,
            "carried": rec.carried,
        })).collect::<Vec<_>>(),
        "junk": c.report.junk,
        "covered": c.report.covered.as_ref().map(|cov| serde_json::json!({
            "run_id": cov.run_id,
            "by": cov.by.to_string(),
            "how": match &cov.how {
                verify::Coverage::RunCommit => "run-commit",
                verify::Coverage::Landed { .. } => "landed",
                verify::Coverage::LandedWith { .. } => "landed-with",
            },
            "description": cov.describe(),
        })),
        "unchecked": c.report.unchecked(),
        "reasons": c.reasons(),
    })
}

/// GitHub Actions workflow commands: an error annotation per failing commit, then a summary.
fn github(checked: &[Checked]) -> String {
    let escape =
        |s: &str| git_proof::summary::terminal_safe(s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A"));
    let mut out = String::new();
    for c in checked.iter().filter(|c| c.failed()) {
        let _ = writeln!(
            out,
            "::error title=git proof verify: {} {}::{}",
            short(c),
            c.verdict_word(),
            escape(&c.reasons().join("; "))
        );
    }
    let failed = checked.iter().filter(|c| c.failed()).count();
    let valid = checked.iter().filter(|c| c.report.verdict() == Verdict::Valid).count();
    let _ = writeln!(
        out,
        "git proof verify: {} commits, {valid} with a valid proof, {failed} failing",
        checked.len()
    );
    out
}

/// JUnit XML: a test case per commit, a failure per failing commit.
fn junit(checked: &[Checked]) -> String {
    // XML 1.0 has no control characters but tab and line breaks, even as references.
    let escape = |s: &str| {
        git_proof::summary::terminal_safe(s.to_owned())
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let failures = checked.iter().filter(|c| c.failed()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"git proof verify\" tests=\"{}\" failures=\"{failures}\">",
        checked.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"proofs\" tests=\"{}\" failures=\"{failures}\">",
        checked.len()
    );
    for c in checked {
        let name = format!("{} {}", c.report.commit, c.verdict_word());
        if c.failed() {
            let reasons = escape(&c.reasons().join("; "));
            let _ = writeln!(
                out,
                "    <testcase classname=\"git-proof\" name=\"{}\"><failure message=\"{reasons}\">{reasons}</failure></testcase>",
                escape(&name)
            );
        } else {
            let _ = writeln!(
                out,
                "    <testcase classname=\"git-proof\" name=\"{}\"/>",
                escape(&name)
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// `verify --envelope`: DSSE envelopes read back under the same trust rule.
mod envelopes {
    use std::path::Path;

    use git_proof::dsse::{self, Envelope};
    use git_proof::record::Record;

    use super::super::{BadInput, Ctx, TrustArgs};

    /// Reads a file of envelopes: a JSON array of them, one envelope, or one per line.
    fn read(file: &Path) -> anyhow::Result<Vec<Envelope>> {
        let text = super::super::read_input(file)?;
        let bad = |e: serde_json::Error| BadInput(format!("{} holds no DSSE envelope: {e}", file.display()));
        let value: Result<serde_json::Value, _> = serde_json::from_slice(&text);
        Ok(match value {
            Ok(serde_json::Value::Array(items)) => items
                .into_iter()
                .map(serde_json::from_value)
                .collect::<Result<_, _>>()
                .map_err(bad)?,
            Ok(one) => vec![serde_json::from_value(one).map_err(bad)?],
            Err(_) => serde_json::Deserializer::from_slice(&text)
                .into_iter::<Envelope>()
                .collect::<Result<_, _>>()
                .map_err(bad)?,
        })
    }

    pub fn run(file: &Path, trust: &TrustArgs, json: bool, ctx: &Ctx) -> anyhow::Result<u8> {
        let envelopes = read(file)?;
        let repo = git_proof::git::discover(&ctx.dir).ok();
        let trust = trust.load_anywhere(repo.as_ref(), ctx)?;
        let signers = trust.require_signers()?;
        // One reader for every envelope: they are mostly about the same few notes.
        let mut reader = repo.as_ref().map(git_proof::notes::NotesReader::new).transpose()?;
        let mut reports = Vec::new();
        for envelope in &envelopes {
            reports.push(check(envelope, signers, reader.as_mut(), &trust)?);
        }
        let failed = reports.iter().any(|r| !r.problems.is_empty());
        if json {
            let items: Vec<_> = reports
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "valid": r.problems.is_empty(),
                        "kind": r.kind,
                        "run_id": r.run_id,
                        "commit": r.commit,
                        "signed_by": r.signer,
                        "checked_against": r.against,
                        "problems": r.problems,
                    })
                })
                .collect();
            super::super::print_json(&items)?;
        } else {
            for r in &reports {
                let what = format!(
                    "{} of run {} on {}",
                    r.kind.unwrap_or("record"),
                    r.run_id.as_deref().unwrap_or("?"),
                    r.commit.as_deref().map(git_proof::model::short_sha).unwrap_or("?")
                );
                let line = if r.problems.is_empty() {
                    let against = match r.against {
                        "note" => "the note holds it and it counts",
                        _ => "the note itself was not read",
                    };
                    format!(
                        "valid: {what}, envelope signed by {} ({against})",
                        r.signer.as_deref().unwrap_or_default()
                    )
                } else {
                    format!("invalid: {what}: {}", r.problems.join("; "))
                };
                outln!("{}", git_proof::summary::terminal_safe(line))?;
            }
        }
        Ok(if failed {
            super::super::EXIT_INVALID
        } else {
            super::super::EXIT_OK
        })
    }

    /// What became of one envelope.
    struct Report {
        kind: Option<&'static str>,
        run_id: Option<String>,
        commit: Option<String>,
        signer: Option<String>,
        /// `note` when the commit's note was read, else `envelope`.
        against: &'static str,
        problems: Vec<String>,
    }

    fn check(
        envelope: &Envelope,
        signers: &git_proof::signing::AllowedSigners,
        reader: Option<&mut git_proof::notes::NotesReader<'_>>,
        trust: &git_proof::trust::Trust,
    ) -> anyhow::Result<Report> {
        let mut report = Report {
            kind: None,
            run_id: None,
            commit: None,
            signer: None,
            against: "envelope",
            problems: Vec::new(),
        };
        let (payload, signer) = match dsse::open(envelope, signers, trust.now) {
            Ok(opened) => opened,
            Err(rejected) => {
                report.problems.push(rejected.to_string());
                return Ok(report);
            }
        };
        report.signer = Some(signer.principals);
        let Ok(payload) = String::from_utf8(payload) else {
            report.problems.push("the payload is not UTF-8 text".into());
            return Ok(report);
        };
        let record = Record {
            payload,
            signature: String::new(),
        };
        let content = match record.parse() {
            Ok(content) => content,
            Err(invalid) => {
                report
                    .problems
                    .push(format!("the payload is not a git-proof record: {invalid}"));
                return Ok(report);
            }
        };
        report.kind = Some(content.kind().as_str());
        report.run_id = Some(content.run_id().to_owned());
        let commit = content.subject_commits().first().map(|c| c.to_string());
        report.commit = commit.clone();
        // Where the note is here, the envelope must be one of its records that counts: the
        // envelope's signer vouches for bytes, the note's rule says whether they count.
        let (Some(reader), Some(commit)) = (reader, commit) else {
            return Ok(report);
        };
        let Ok(id) = gix::ObjectId::from_hex(commit.as_bytes()) else {
            report
                .problems
                .push(format!("the statement's subject '{commit}' is not a commit id"));
            return Ok(report);
        };
        // A note that cannot be read is an error, never "not read here".
        let Some(view) = git_proof::proofs::view_of(reader, id, trust)? else {
            return Ok(report);
        };
        report.against = "note";
        match view.records.iter().find(|r| r.record.payload == record.payload) {
            Some(r) if r.ignored.is_none() => {}
            Some(r) => report.problems.push(format!(
                "the note holds this statement, but it does not count: {}",
                r.ignored.as_deref().unwrap_or_default()
            )),
            None => report
                .problems
                .push(format!("the note on {commit} holds no record with this statement")),
        }
        Ok(report)
    }
}
