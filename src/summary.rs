//! The readable summary of a bundle, shared by `git proof show` and the examples.

use std::fmt::Write as _;

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
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return text;
    }
    text.chars()
        .map(|c| match c {
            '\n' => "\n".to_owned(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// The readable summary `git proof show` prints: files with +/-, DoD badges, violations as the
/// trust in force stands them, the scope and the evidence, and the records that do not count.
pub fn render(shown: &ShownProof) -> String {
    let b = &shown.bundle;
    let signature = shown.signature.describe();
    let mut text = String::new();
    let out = &mut text;
    let _ = writeln!(
        out,
        "run {}  {} (exit {})  {}..{}",
        b.run_id,
        b.run_status.as_str(),
        b.exit_code,
        short(&b.base_sha),
        short(&b.head_sha)
    );
    let _ = writeln!(out, "generated {}  signature {}", b.generated_at, signature);
    if let Some(covers) = &shown.covers {
        let _ = writeln!(out, "covers    {covers}");
    }
    if let Some(carried) = &shown.carried {
        let _ = writeln!(out, "on        {} ({carried})", shown.commit);
    }
    if let Some(why) = &shown.elsewhere {
        let _ = writeln!(out, "DOES NOT COUNT for {}: {why}", shown.commit);
    }
    for problem in &shown.problems {
        let _ = writeln!(out, "DOES NOT HOLD: {problem}");
    }
    for unchecked in &shown.unchecked {
        let _ = writeln!(out, "NOT CHECKED: {unchecked}");
    }
    if let Some(prompt) = &b.prompt_hash {
        let _ = writeln!(out, "prompt    {prompt}");
    }
    let s = &b.diff_stat;
    let _ = writeln!(
        out,
        "\nfiles     {} changed, +{} -{}",
        s.files, s.insertions, s.deletions
    );
    for e in &s.entries {
        let counts = if e.binary {
            "binary".to_owned()
        } else {
            format!("+{} -{}", e.insertions, e.deletions)
        };
        let path = match &e.old_path {
            Some(old) => format!("{} -> {}", quoted(old), quoted(&e.path)),
            None => quoted(&e.path).into_owned(),
        };
        let _ = writeln!(out, "  {}  {counts:>12}  {path}", e.status);
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
            let badge = match r.status {
                DodStatus::Passed => "[passed] ",
                DodStatus::Failed => "[FAILED] ",
                DodStatus::Error => "[ERROR]  ",
                DodStatus::Timeout => "[TIMEOUT]",
                DodStatus::Pending => "[pending]",
            };
            let exit = r.exit_code.map(|c| format!(", exit {c}")).unwrap_or_default();
            let _ = writeln!(out, "  {badge} {}  ({} ms{exit})", quoted(&r.name), r.duration_ms);
        }
    }
    let scope = &b.scope_snapshot;
    if scope.source.is_some() {
        let _ = writeln!(
            out,
            "\nscope     allow [{}]  deny [{}]  from {}",
            scope.allow.join(", "),
            scope.deny.join(", "),
            scope.source.as_deref().unwrap_or("-")
        );
    }
    if !b.scope_violations.is_empty() {
        let _ = writeln!(out, "scope violations ({}):", b.scope_violations.len());
        for (v, standing) in b.scope_violations.iter().zip(&shown.standings) {
            let _ = writeln!(
                out,
                "  [{}] {}  ({})",
                standing.word(),
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
        m.event_hash_root,
        if m.completeness.terminal_event_present {
            "present"
        } else {
            "MISSING"
        },
        if m.completeness.all_toolcalls_terminal {
            "all ended"
        } else {
            "SOME OPEN"
        }
    );
    if !shown.ignored.is_empty() {
        let _ = writeln!(out, "\nnot counted ({}):", shown.ignored.len());
        for why in &shown.ignored {
            let _ = writeln!(out, "  {}", quoted(why));
        }
    }
    terminal_safe(text)
}
