//! The readable summary of a bundle, shared by `git proof show` and the examples.

use std::fmt::Write as _;
use std::path::Path;

use crate::model::DodStatus;
use crate::proofs::ShownProof;

fn short(sha: &str) -> &str {
    crate::model::short_sha(sha)
}

/// A name from a bundle as a terminal may show it: with a control character in it (an escape
/// sequence that could rewrite the lines above, a newline that could fake one), quoted and
/// escaped the way git quotes such paths (`"a\033[2Jb"`); otherwise as it is.
pub fn quoted(name: &str) -> std::borrow::Cow<'_, str> {
    // A name the bundle recorded quoted (not UTF-8) is safe as it is.
    if !name.chars().any(char::is_control) {
        return name.into();
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\{b:03o}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out.into()
}

/// Whatever else came from a bundle or a note, made safe for a terminal: control characters but
/// the line breaks this summary writes itself are shown escaped.
pub fn terminal_safe(text: String) -> String {
    Style::default().safe(text)
}

/// A time as a person's clock shows it: local time (`TZ` if set, else the system's zone) with
/// its offset, to the minute, as git shows dates: `2026-12-01 21:03 +01:00`.
pub fn local_time(at: jiff::Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M %:z")
        .to_string()
}

/// How text for a person is written: with colour or without.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

/// The colours git-proof uses, as SGR codes; the only escape sequences its output may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Green,
    Red,
    Yellow,
    Bold,
}

const RESET: &str = "\x1b[m";

impl Color {
    const ALL: [Color; 4] = [Color::Green, Color::Red, Color::Yellow, Color::Bold];

    fn code(self) -> &'static str {
        match self {
            Self::Green => "\x1b[32m",
            Self::Red => "\x1b[31m",
            Self::Yellow => "\x1b[33m",
            Self::Bold => "\x1b[1m",
        }
    }
}

impl Style {
    /// `text` in `color`, when this style has colour.
    pub fn paint(self, color: Color, text: impl std::fmt::Display) -> String {
        if self.color {
            format!("{}{text}{RESET}", color.code())
        } else {
            text.to_string()
        }
    }

    /// The colour a status word is shown in: good news green, bad news red, waiting yellow.
    pub fn status(self, word: &str) -> String {
        let color = match word {
            "succeeded" | "passed" | "approved" | "valid" | "landed" => Color::Green,
            "pending" | "active" | "unverified" | "conflicting" | "sealed" => Color::Yellow,
            _ => Color::Red,
        };
        self.paint(color, word)
    }

    /// `text` with every control character escaped but line breaks and, with colour on, the
    /// exact colour codes [`Style::paint`] writes: text from a note can at most change a colour,
    /// never move the cursor, clear the screen or fake a line.
    pub fn safe(self, text: String) -> String {
        if !text.chars().any(|c| c.is_control() && c != '\n') {
            return text;
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(c) = rest.chars().next() {
            let sgr = self
                .color
                .then(|| {
                    Color::ALL
                        .iter()
                        .map(|c| c.code())
                        .chain([RESET])
                        .find(|code| rest.starts_with(code))
                })
                .flatten();
            if let Some(code) = sgr {
                out.push_str(code);
                rest = &rest[code.len()..];
                continue;
            }
            match c {
                '\n' => out.push('\n'),
                c if c.is_control() => out.extend(c.escape_default()),
                c => out.push(c),
            }
            rest = &rest[c.len_utf8()..];
        }
        out
    }
}

/// The readable summary `git proof show` prints: files with +/-, DoD badges (a failed check
/// with where its output is, when `common_dir` keeps it), violations as the trust in force
/// stands them, the scope and the evidence, and the records that do not count.
pub fn render(shown: &ShownProof, style: Style, common_dir: Option<&Path>) -> String {
    let b = &shown.bundle;
    let color = match &shown.signature {
        crate::proofs::Signature::Valid { .. } => Color::Green,
        crate::proofs::Signature::Unverified => Color::Yellow,
        crate::proofs::Signature::Invalid(_) => Color::Red,
    };
    let signature = style.paint(color, shown.signature.describe());
    let mut text = String::new();
    let out = &mut text;
    let _ = writeln!(
        out,
        "run {}  {} (exit {})  {}..{}",
        style.paint(Color::Bold, quoted(&b.run_id)),
        style.status(b.run_status.as_str()),
        b.exit_code,
        short(&b.base_sha),
        short(&b.head_sha)
    );
    // Every field from a note is quoted when it holds a control character: a newline in one
    // must not fake a line (a "valid" signature line), nor an escape sequence a colour.
    let _ = writeln!(out, "generated {}  signature {}", quoted(&b.generated_at), signature);
    if let Some(covers) = &shown.covers {
        let _ = writeln!(out, "covers    {}", quoted(covers));
    }
    if let Some(carried) = &shown.carried {
        let _ = writeln!(out, "on        {} ({})", shown.commit, quoted(carried));
    }
    if let Some(why) = &shown.elsewhere {
        let _ = writeln!(
            out,
            "{} for {}: {}",
            style.paint(Color::Red, "DOES NOT COUNT"),
            shown.commit,
            quoted(why)
        );
    }
    for problem in &shown.problems {
        let _ = writeln!(out, "{}: {}", style.paint(Color::Red, "DOES NOT HOLD"), quoted(problem));
    }
    for unchecked in &shown.unchecked {
        let _ = writeln!(
            out,
            "{}: {}",
            style.paint(Color::Yellow, "NOT CHECKED"),
            quoted(unchecked)
        );
    }
    if let Some(prompt) = &b.prompt_hash {
        let _ = writeln!(out, "prompt    {}", quoted(prompt));
    }
    let s = &b.diff_stat;
    let _ = writeln!(
        out,
        "\nfiles     {} changed, +{} -{}",
        s.files, s.insertions, s.deletions
    );
    for e in &s.entries {
        let counts = if e.binary {
            format!("{:>12}", "binary")
        } else {
            // Padded before painting, so that colour codes do not count as width.
            let plus = format!("+{}", e.insertions);
            let minus = format!("-{}", e.deletions);
            let pad = 12usize.saturating_sub(plus.len() + 1 + minus.len());
            format!(
                "{:pad$}{} {}",
                "",
                style.paint(Color::Green, plus),
                style.paint(Color::Red, minus)
            )
        };
        let path = match &e.old_path {
            Some(old) => format!("{} -> {}", quoted(old), quoted(&e.path)),
            None => quoted(&e.path).into_owned(),
        };
        let _ = writeln!(out, "  {}  {counts}  {path}", e.status);
    }
    if !b.dirty_files.is_empty() {
        let _ = writeln!(out, "\nuncommitted at finish ({}):", b.dirty_files.len());
        for path in &b.dirty_files {
            let _ = writeln!(out, "  {}", quoted(path));
        }
    }
    if !b.dod_results.is_empty() {
        let _ = writeln!(out, "\ndefinition of done");
        for r in &b.dod_results {
            let (badge, color) = match r.status {
                DodStatus::Passed => ("[passed] ", Color::Green),
                DodStatus::Failed => ("[FAILED] ", Color::Red),
                DodStatus::Error => ("[ERROR]  ", Color::Red),
                DodStatus::Timeout => ("[TIMEOUT]", Color::Red),
                DodStatus::Pending => ("[pending]", Color::Yellow),
            };
            let exit = r.exit_code.map(|c| format!(", exit {c}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} {}  ({} ms{exit})",
                style.paint(color, badge),
                quoted(&r.name),
                r.duration_ms
            );
            if !matches!(r.status, DodStatus::Passed | DodStatus::Pending)
                && let Some(digest) = &r.log_digest
            {
                let _ = writeln!(
                    out,
                    "             output: {}",
                    quoted(&log_location(common_dir, digest))
                );
            }
        }
    }
    let scope = &b.scope_snapshot;
    if scope.source.is_some() {
        let _ = writeln!(
            out,
            "\nscope     allow [{}]  deny [{}]  from {}",
            quoted(&scope.allow.join(", ")),
            quoted(&scope.deny.join(", ")),
            quoted(scope.source.as_deref().unwrap_or("-"))
        );
    }
    if !b.scope_violations.is_empty() {
        let _ = writeln!(out, "scope violations ({}):", b.scope_violations.len());
        for (v, standing) in b.scope_violations.iter().zip(&shown.standings) {
            let _ = writeln!(
                out,
                "  [{}] {}  ({})",
                style.status(standing.word()),
                quoted(&v.path),
                quoted(&v.rule)
            );
        }
    }
    let m = &b.evidence;
    let _ = writeln!(
        out,
        "\nevidence  {} events, root {}, terminal event {}, tool calls {}",
        m.event_count,
        quoted(&m.event_hash_root),
        if m.completeness.terminal_event_present {
            "present".to_owned()
        } else {
            style.paint(Color::Red, "MISSING")
        },
        if m.completeness.all_toolcalls_terminal {
            "all ended".to_owned()
        } else {
            style.paint(Color::Red, "SOME OPEN")
        }
    );
    if !shown.ignored.is_empty() {
        let _ = writeln!(out, "\nnot counted ({}):", shown.ignored.len());
        for why in &shown.ignored {
            let _ = writeln!(out, "  {}", quoted(why));
        }
    }
    style.safe(text)
}

/// Where a check's output is: the log file, when this clone ran the check and keeps it, else
/// its digest (the log stays in the clone that ran it).
pub fn log_location(common_dir: Option<&Path>, digest: &str) -> String {
    match common_dir.and_then(|dir| crate::dod::log_path(dir, digest)) {
        Some(path) if path.is_file() => path.display().to_string(),
        _ => format!("{digest} (kept by the clone that ran the check)"),
    }
}
