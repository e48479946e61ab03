//! The signed record: the unit a proof note is made of, and the one place its bytes are read.
//!
//! A record is a payload (an in-toto statement as pretty JSON, ending in a newline) followed by
//! an armored OpenSSH signature over exactly those bytes, the layout of a signed git tag. A note
//! holds records one after another; [`split`] cuts a note into them, keeping whatever text is
//! not a record apart so that it can be reported without hiding the records around it.
//!
//! [`Record::parse`] reads a payload into one of the kinds git-proof writes, strictly: a
//! duplicate key anywhere, an unknown field, a wrong `_type` or an unknown predicate type make
//! the record invalid, here and nowhere else. Whether a valid record *counts* is not decided
//! here but by the read model ([`crate::view`]), from its signature and the trust in force.

use std::cell::Cell;

use gix::bstr::ByteSlice;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::canon;
use crate::model::{
    APPROVAL_PREDICATE_TYPE, ApprovalRecord, BUNDLE_PREDICATE_TYPE, Bundle, LANDING_PREDICATE_TYPE, LandingRecord,
    REWRITE_PREDICATE_TYPE, RewriteRecord, STATEMENT_TYPE, Statement, Subject,
};
use crate::signing::{self, AllowedSigners, Rejection, Signer, SigningKey};

const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const END: &str = "-----END SSH SIGNATURE-----";

/// One signed record of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The exact signed bytes.
    pub payload: String,
    /// The armored signature, from BEGIN to END line inclusive.
    pub signature: String,
}

impl Record {
    /// The record as it is stored: payload immediately followed by the signature.
    pub fn to_text(&self) -> String {
        let mut text = self.payload.clone();
        text.push_str(&self.signature);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text
    }

    /// `sha256:<hex>` of the payload, the exact signed bytes: the name later records (approvals,
    /// rewrites) use for a bundle, computable by anyone from the note alone.
    pub fn digest(&self) -> String {
        canon::prefixed_sha256(self.payload.as_bytes())
    }

    /// Whether two records are the same record: the same payload and the same signature, however
    /// the armor's lines were wrapped or ended.
    pub fn same_as(&self, other: &Record) -> bool {
        self.payload == other.payload && squeeze(&self.signature).eq(squeeze(&other.signature))
    }

    /// Checks the signature against `signers` at Unix time `now`.
    pub fn check_signature(&self, signers: &AllowedSigners, now: i64) -> Result<Signer, Rejection> {
        signing::verify(self.payload.as_bytes(), &self.signature, signers, now)
    }

    /// Reads the payload as one of the statements git-proof writes.
    pub fn parse(&self) -> Result<Content, Invalid> {
        parse_payload(&self.payload)
    }
}

fn squeeze(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().filter(|c| !c.is_whitespace())
}

/// What a record says, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Bundle(Box<Statement<Bundle>>),
    Approval(Statement<ApprovalRecord>),
    Rewrite(Statement<RewriteRecord>),
    Landing(Statement<LandingRecord>),
}

impl Content {
    /// Its kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Self::Bundle(_) => RecordKind::Bundle,
            Self::Approval(_) => RecordKind::Approval,
            Self::Rewrite(_) => RecordKind::Rewrite,
            Self::Landing(_) => RecordKind::Landing,
        }
    }

    /// The commits the statement is about.
    pub fn subject_commits(&self) -> Vec<&str> {
        match self {
            Self::Bundle(s) => s.subject_commits(),
            Self::Approval(s) => s.subject_commits(),
            Self::Rewrite(s) => s.subject_commits(),
            Self::Landing(s) => s.subject_commits(),
        }
    }

    /// The run it is about.
    pub fn run_id(&self) -> &str {
        match self {
            Self::Bundle(s) => &s.predicate.run_id,
            Self::Approval(s) => &s.predicate.run_id,
            Self::Rewrite(s) => &s.predicate.run_id,
            Self::Landing(s) => &s.predicate.run_id,
        }
    }
}

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Bundle,
    Approval,
    Rewrite,
    Landing,
    /// Not a record git-proof can read (see [`Invalid`]).
    Unknown,
}

impl RecordKind {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bundle => "bundle",
            Self::Approval => "approval",
            Self::Rewrite => "rewrite",
            Self::Landing => "landing",
            Self::Unknown => "unknown",
        }
    }
}

/// Why a payload is not a record git-proof can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("the payload is not an in-toto statement ({0})")]
    NotStatement(String),
    #[error("the payload's _type is '{0}', not {STATEMENT_TYPE}")]
    WrongType(String),
    #[error("unknown record kind '{0}'")]
    UnknownPredicate(String),
    #[error("the {} record does not have its shape ({error})", kind.as_str())]
    Shape { kind: RecordKind, error: String },
}

fn parse_payload(payload: &str) -> Result<Content, Invalid> {
    let failed_kind = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(payload);
    let read = StatementVisitor {
        failed_kind: &failed_kind,
    };
    let frame = serde::Deserializer::deserialize_map(&mut deserializer, read)
        .and_then(|frame| deserializer.end().map(|()| frame))
        .map_err(|e| match failed_kind.get() {
            Some(kind) => Invalid::Shape {
                kind,
                error: e.to_string(),
            },
            None => Invalid::NotStatement(e.to_string()),
        })?;
    if frame.statement_type != STATEMENT_TYPE {
        return Err(Invalid::WrongType(frame.statement_type));
    }
    let predicate = match frame.predicate {
        Predicate::Read(content) => *content,
        Predicate::Unknown => return Err(Invalid::UnknownPredicate(frame.predicate_type)),
        // `predicate` came before `predicateType`: read now that the type is known.
        Predicate::Raw(raw) => {
            let Some(kind) = kind_of(&frame.predicate_type) else {
                return Err(Invalid::UnknownPredicate(frame.predicate_type));
            };
            let mut deserializer = serde_json::Deserializer::from_str(raw.get());
            read_predicate(kind, &mut deserializer).map_err(|e| Invalid::Shape {
                kind,
                error: e.to_string(),
            })?
        }
    };
    let subject = frame.subject;
    let predicate_type = frame.predicate_type;
    let statement_type = frame.statement_type;
    Ok(match predicate {
        Typed::Bundle(predicate) => Content::Bundle(Box::new(Statement {
            statement_type,
            subject,
            predicate_type,
            predicate: *predicate,
        })),
        Typed::Approval(predicate) => Content::Approval(Statement {
            statement_type,
            subject,
            predicate_type,
            predicate,
        }),
        Typed::Rewrite(predicate) => Content::Rewrite(Statement {
            statement_type,
            subject,
            predicate_type,
            predicate,
        }),
        Typed::Landing(predicate) => Content::Landing(Statement {
            statement_type,
            subject,
            predicate_type,
            predicate,
        }),
    })
}

/// The kind a predicate type names, if git-proof writes it.
fn kind_of(predicate_type: &str) -> Option<RecordKind> {
    match predicate_type {
        BUNDLE_PREDICATE_TYPE => Some(RecordKind::Bundle),
        APPROVAL_PREDICATE_TYPE => Some(RecordKind::Approval),
        REWRITE_PREDICATE_TYPE => Some(RecordKind::Rewrite),
        LANDING_PREDICATE_TYPE => Some(RecordKind::Landing),
        _ => None,
    }
}

/// A predicate read into its type.
enum Typed {
    Bundle(Box<Bundle>),
    Approval(ApprovalRecord),
    Rewrite(RewriteRecord),
    Landing(LandingRecord),
}

fn read_predicate<'de, D: serde::Deserializer<'de>>(kind: RecordKind, d: D) -> Result<Typed, D::Error> {
    // serde's derive fails on a repeated field, and every predicate type is a derived struct
    // all the way down (no maps, no `Value`): a repeated key anywhere is an error.
    Ok(match kind {
        RecordKind::Bundle => Typed::Bundle(Box::new(Bundle::deserialize(d)?)),
        RecordKind::Approval => Typed::Approval(ApprovalRecord::deserialize(d)?),
        RecordKind::Rewrite => Typed::Rewrite(RewriteRecord::deserialize(d)?),
        RecordKind::Landing => Typed::Landing(LandingRecord::deserialize(d)?),
        RecordKind::Unknown => {
            serde::de::IgnoredAny::deserialize(d)?;
            return Err(serde::de::Error::custom("unknown record kind"));
        }
    })
}

/// The statement as read in one pass.
struct Frame {
    statement_type: String,
    subject: Vec<Subject>,
    predicate_type: String,
    predicate: Predicate,
}

enum Predicate {
    /// Read into its type: `predicateType` came first, as git-proof writes it.
    Read(Box<Typed>),
    /// Of a type git-proof does not write (skipped).
    Unknown,
    /// Kept as text until `predicateType` is known.
    Raw(Box<RawValue>),
}

/// Reads the statement's four keys in one pass over the payload, the predicate straight into
/// its type when `predicateType` precedes it. A repeated or unknown key is an error, as serde's
/// derive makes it for the predicate's own fields.
struct StatementVisitor<'a> {
    /// Set when the predicate itself failed to read, so the error names its kind.
    failed_kind: &'a Cell<Option<RecordKind>>,
}

const FIELDS: &[&str] = &["_type", "subject", "predicateType", "predicate"];

impl<'de> serde::de::Visitor<'de> for StatementVisitor<'_> {
    type Value = Frame;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an in-toto statement")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Frame, A::Error> {
        use serde::de::Error;
        let (mut statement_type, mut subject, mut predicate_type, mut predicate) = (None, None, None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let seen = match key.as_ref() {
                "_type" => statement_type.replace(map.next_value::<String>()?).is_some(),
                "subject" => subject.replace(map.next_value::<Vec<Subject>>()?).is_some(),
                "predicateType" => predicate_type.replace(map.next_value::<String>()?).is_some(),
                "predicate" => {
                    let read = match predicate_type.as_deref().map(kind_of) {
                        Some(Some(kind)) => {
                            self.failed_kind.set(Some(kind));
                            let typed = map.next_value_seed(PredicateSeed(kind))?;
                            self.failed_kind.set(None);
                            Predicate::Read(Box::new(typed))
                        }
                        Some(None) => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            Predicate::Unknown
                        }
                        None => Predicate::Raw(map.next_value()?),
                    };
                    predicate.replace(read).is_some()
                }
                other => return Err(A::Error::unknown_field(other, FIELDS)),
            };
            if seen {
                let field = FIELDS.iter().find(|f| **f == key.as_ref()).copied().unwrap_or("?");
                return Err(A::Error::duplicate_field(field));
            }
        }
        Ok(Frame {
            statement_type: statement_type.ok_or_else(|| A::Error::missing_field("_type"))?,
            subject: subject.ok_or_else(|| A::Error::missing_field("subject"))?,
            predicate_type: predicate_type.ok_or_else(|| A::Error::missing_field("predicateType"))?,
            predicate: predicate.ok_or_else(|| A::Error::missing_field("predicate"))?,
        })
    }
}

struct PredicateSeed(RecordKind);

impl<'de> serde::de::DeserializeSeed<'de> for PredicateSeed {
    type Value = Typed;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Typed, D::Error> {
        read_predicate(self.0, d)
    }
}

/// A record: the statement as note JSON ([`note_json`]) ending in a newline, signed over exactly
/// those bytes.
pub fn sign<P: serde::Serialize>(statement: &Statement<P>, key: &SigningKey) -> Result<Record, signing::Error> {
    let mut payload = note_json(statement).map_err(signing::Error::Encode)?;
    payload.push('\n');
    let signature = key.sign(payload.as_bytes())?;
    Ok(Record { payload, signature })
}

/// `value` as a note shows it: pretty JSON (two-space indents, as `serde_json`'s pretty printer)
/// except that each element of an array that is itself an object or array is written on one
/// line, so an event pointer or a changed file is one line of `git notes show` instead of six
/// (a third of a large note was indentation). Readers accept any JSON layout.
pub fn note_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(4096);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, NoteFormatter::default());
    value.serialize(&mut serializer)?;
    // The serializer writes only what serde_json escaped: valid UTF-8.
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// The formatter of [`note_json`]: a stack of open containers, and where one-line output began.
#[derive(Default)]
struct NoteFormatter {
    /// For each open container, whether it is an array.
    open: Vec<bool>,
    /// The depth of the container written on one line, while inside one.
    one_line_from: Option<usize>,
    /// Whether the innermost pretty container has a value yet (as serde_json's pretty printer).
    has_value: bool,
}

impl NoteFormatter {
    fn one_line(&self) -> bool {
        self.one_line_from.is_some()
    }

    fn begin<W: ?Sized + std::io::Write>(&mut self, w: &mut W, is_array: bool) -> std::io::Result<()> {
        if !self.one_line() && self.open.last() == Some(&true) {
            self.one_line_from = Some(self.open.len());
        }
        self.open.push(is_array);
        self.has_value = false;
        w.write_all(if is_array { b"[" } else { b"{" })
    }

    fn end<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        let is_array = self.open.pop().unwrap_or(false);
        let close: &[u8] = if is_array { b"]" } else { b"}" };
        if self.one_line() {
            if self.one_line_from == Some(self.open.len()) {
                self.one_line_from = None;
            }
            return w.write_all(close);
        }
        if self.has_value {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(close)
    }

    fn indent<W: ?Sized + std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        for _ in 0..self.open.len() {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn separate<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if self.one_line() {
            return if first { Ok(()) } else { w.write_all(b", ") };
        }
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }
}

impl serde_json::ser::Formatter for NoteFormatter {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.begin(w, true)
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.end(w)
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.separate(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.begin(w, false)
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.end(w)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.separate(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// A note cut into its records and the text between them that is not one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    /// The records, in note order.
    pub records: Vec<Record>,
    /// Text that is not part of a record, in note order.
    pub junk: Vec<Junk>,
}

/// A stretch of a note that is not a signed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Junk {
    /// Where it starts in the note, in bytes.
    pub offset: usize,
    /// How long it is, in bytes.
    pub len: usize,
    pub why: JunkKind,
}

/// Why a stretch of a note is not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JunkKind {
    #[error("text that is not UTF-8")]
    NotText,
    #[error("text that is not a signed record (no '{BEGIN}' after it)")]
    Unsigned,
    #[error("a signature block with no '{END}' line")]
    Unterminated,
    #[error("a signature block with no payload before it")]
    EmptyPayload,
}

impl Junk {
    /// A sentence for reports.
    pub fn describe(&self) -> String {
        format!("{} ({} bytes at offset {})", self.why, self.len, self.offset)
    }
}

/// Cuts a note into records. Text that is not a record (a comment someone appended, a
/// damaged block) is kept apart in [`Split::junk`]; it never swallows the records around it.
///
/// A record's payload starts at the first line of its JSON: the last line before the armor that
/// is exactly `{` (how a pretty-printed statement begins; nested objects are indented), else
/// the first line that starts with `{`, else the whole text since the previous record. The
/// armor is the last BEGIN line before an END line: a BEGIN line on its own is junk. Blank
/// lines between records (`git notes merge -s union`, `notes.rewriteMode=concatenate` join
/// notes with one) belong to no record and are not junk. One pass over the note.
pub fn split(note: &[u8]) -> Split {
    let mut out = Split::default();
    // Where the text since the last record starts, and where its payload may start.
    let mut segment = 0;
    let mut outside = PayloadStart::after(0);
    // An open armor: its BEGIN line, and where a payload may start in the lines after it (they
    // hold the next record's payload if this BEGIN turns out to stand alone).
    let mut armor: Option<(Line<'_>, PayloadStart)> = None;
    for line in Lines::new(note) {
        match &mut armor {
            None if line.is(BEGIN) => armor = Some((line, PayloadStart::after(line.end))),
            None => outside.see(&line),
            Some((begin, _)) if line.is(END) => {
                let begin = *begin;
                push_record(
                    &mut out,
                    note,
                    segment,
                    outside.start(note, segment),
                    begin.start,
                    line.end,
                );
                segment = line.end;
                outside = PayloadStart::after(line.end);
                armor = None;
            }
            Some((begin, inside)) if line.is(BEGIN) => {
                push_junk(&mut out, note, begin.start, begin.end, JunkKind::Unterminated);
                outside = std::mem::replace(inside, PayloadStart::after(line.end));
                *begin = line;
            }
            Some((_, inside)) => inside.see(&line),
        }
    }
    match armor {
        Some(_) => push_junk(&mut out, note, segment, note.len(), JunkKind::Unterminated),
        None => push_junk(&mut out, note, segment, note.len(), JunkKind::Unsigned),
    }
    out
}

/// Where a payload may start, as the lines before an armor are seen.
#[derive(Clone, Copy)]
struct PayloadStart {
    /// Nothing before this offset can be payload (it is a previous record or a stray line).
    after: usize,
    /// The last line that is exactly `{`.
    exact: Option<usize>,
    /// The first line that starts with `{`.
    first: Option<usize>,
}

impl PayloadStart {
    fn after(offset: usize) -> Self {
        Self {
            after: offset,
            exact: None,
            first: None,
        }
    }

    fn see(&mut self, line: &Line<'_>) {
        if line.bytes.get(line.start) == Some(&b'{') {
            self.first.get_or_insert(line.start);
            if line.is("{") {
                self.exact = Some(line.start);
            }
        }
    }

    /// The payload's first byte: the brace line, else the first non-blank byte after `after`.
    fn start(&self, note: &[u8], segment: usize) -> usize {
        self.exact.or(self.first).unwrap_or_else(|| {
            let from = self.after.max(segment);
            from + note[from..]
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(note.len() - from)
        })
    }
}

/// A record from `payload_at` to the armor `begin..end`, or junk when it is not one; text of the
/// segment before the payload is junk too.
fn push_record(out: &mut Split, note: &[u8], segment: usize, payload_at: usize, begin: usize, end: usize) {
    let payload_at = payload_at.min(begin);
    if payload_at > segment {
        push_junk(out, note, segment, payload_at, JunkKind::Unsigned);
    }
    if payload_at == begin || note[payload_at..begin].iter().all(u8::is_ascii_whitespace) {
        push_junk(out, note, begin, end, JunkKind::EmptyPayload);
        return;
    }
    match (
        std::str::from_utf8(&note[payload_at..begin]),
        std::str::from_utf8(&note[begin..end]),
    ) {
        (Ok(payload), Ok(signature)) => out.records.push(Record {
            payload: payload.to_owned(),
            signature: signature.to_owned(),
        }),
        _ => push_junk(out, note, payload_at, end, JunkKind::NotText),
    }
}

/// Records `note[from..to]` as junk unless it is only whitespace.
fn push_junk(out: &mut Split, note: &[u8], from: usize, to: usize, why: JunkKind) {
    let text = &note[from..to];
    let Some(lead) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
        return;
    };
    let trail = text.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    let why = if why == JunkKind::Unsigned && std::str::from_utf8(text).is_err() {
        JunkKind::NotText
    } else {
        why
    };
    out.junk.push(Junk {
        offset: from + lead,
        len: trail - lead,
        why,
    });
}

/// A line of a note: its byte range including the line end.
#[derive(Clone, Copy)]
struct Line<'a> {
    bytes: &'a [u8],
    start: usize,
    end: usize,
}

impl Line<'_> {
    /// Whether the line is exactly `marker` (ignoring `\n` or `\r\n`).
    fn is(&self, marker: &str) -> bool {
        if self.bytes.get(self.start) != marker.as_bytes().first() {
            return false;
        }
        let text = &self.bytes[self.start..self.end];
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        text == marker.as_bytes()
    }
}

struct Lines<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let start = self.at;
        let end = self.bytes[start..]
            .find_byte(b'\n')
            .map_or(self.bytes.len(), |i| start + i + 1);
        self.at = end;
        Some(Line {
            bytes: self.bytes,
            start,
            end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n";

    #[test]
    fn note_json_is_pretty_with_one_line_per_array_element_that_is_a_container() {
        let value = serde_json::json!({
            "a": 1,
            "paths": ["x", "y"],
            "events": [{"id": "e1", "n": 1, "deep": {"k": [1, 2]}}, {"id": "e2", "n": 2}],
            "nested": {"empty": [], "none": {}, "rows": [[1, 2], []]},
        });
        let expected = r#"{
  "a": 1,
  "paths": [
    "x",
    "y"
  ],
  "events": [
    {"id": "e1", "n": 1, "deep": {"k": [1, 2]}},
    {"id": "e2", "n": 2}
  ],
  "nested": {
    "empty": [],
    "none": {},
    "rows": [
      [1, 2],
      []
    ]
  }
}"#;
        assert_eq!(note_json(&value).unwrap(), expected);
        let back: serde_json::Value = serde_json::from_str(expected).unwrap();
        assert_eq!(back, value);
        // Without arrays of containers it is serde_json's pretty printing, byte for byte.
        let plain = serde_json::json!({"a": {"b": [1, "two", null]}, "c": {}, "d": []});
        assert_eq!(
            note_json(&plain).unwrap(),
            serde_json::to_string_pretty(&plain).unwrap()
        );
    }

    #[test]
    fn splits_consecutive_records() {
        let note = format!("{{\"a\": 1}}\n{SIG}{{\"b\": 2}}\n{SIG}");
        let split = split(note.as_bytes());
        assert_eq!(split.junk, vec![]);
        assert_eq!(split.records.len(), 2);
        assert_eq!(split.records[1].payload, "{\"b\": 2}\n");
        assert_eq!(split.records[1].signature, SIG);
        let joined: String = split.records.iter().map(Record::to_text).collect();
        assert_eq!(joined, note);
    }

    #[test]
    fn reads_notes_git_joined_with_a_blank_line() {
        let note = format!("{{\"a\": 1}}\n{SIG}\n{{\"b\": 2}}\n{SIG}");
        let split = split(note.as_bytes());
        assert_eq!(split.junk, vec![]);
        assert_eq!(split.records.len(), 2);
        assert_eq!(split.records[1].payload, "{\"b\": 2}\n");
    }

    #[test]
    fn text_that_is_not_a_record_is_kept_apart_from_the_records() {
        let pretty = "{\n  \"a\": [\n    {\n      \"b\": 1\n    }\n  ]\n}\n";
        let note = format!("a comment\n{{\n{pretty}{SIG}trailing words\n");
        let split = split(note.as_bytes());
        assert_eq!(split.records.len(), 1);
        assert_eq!(
            split.records[0].payload, pretty,
            "the payload starts at its own top-level brace"
        );
        let kinds: Vec<JunkKind> = split.junk.iter().map(|j| j.why).collect();
        assert_eq!(kinds, [JunkKind::Unsigned, JunkKind::Unsigned]);
        assert_eq!(&note[split.junk[0].offset..][..split.junk[0].len], "a comment\n{");
    }

    #[test]
    fn a_stray_armor_line_never_swallows_the_next_record() {
        let first = format!("{{\"a\": 1}}\n{SIG}");
        let second = format!("{{\"b\": 2}}\n{SIG}");
        for note in [
            format!("{first}-----BEGIN SSH SIGNATURE-----\n{second}"),
            format!("{first}-----BEGIN SSH SIGNATURE-----\n-----BEGIN SSH SIGNATURE-----\n{second}"),
            format!("-----BEGIN SSH SIGNATURE-----\n{first}{second}"),
            format!("{first}-----BEGIN SSH SIGNATURE-----\njunk\n{second}"),
        ] {
            let split = split(note.as_bytes());
            let payloads: Vec<&str> = split.records.iter().map(|r| r.payload.as_str()).collect();
            assert_eq!(payloads, ["{\"a\": 1}\n", "{\"b\": 2}\n"], "{note}");
            assert!(!split.junk.is_empty(), "{note}");
        }
    }

    #[test]
    fn damaged_blocks_are_junk() {
        assert_eq!(split(b"hello\n").junk[0].why, JunkKind::Unsigned);
        assert_eq!(
            split(b"x\n-----BEGIN SSH SIGNATURE-----\nAAAA\n").junk[0].why,
            JunkKind::Unterminated
        );
        assert_eq!(split(SIG.as_bytes()).junk[0].why, JunkKind::EmptyPayload);
        assert_eq!(split(&[0xff, 0xfe]).junk[0].why, JunkKind::NotText);
        assert_eq!(split(b""), Split::default());
        assert_eq!(split(b"\n\n"), Split::default());
    }

    fn statement(predicate_type: &str, predicate: &str) -> String {
        format!(
            "{{\"_type\": \"{STATEMENT_TYPE}\", \"subject\": [{{\"digest\": {{\"gitCommit\": \"ab\"}}}}], \"predicateType\": \"{predicate_type}\", \"predicate\": {predicate}}}\n"
        )
    }

    #[test]
    fn a_repeated_key_makes_a_record_invalid_at_any_depth() {
        let rewrite = r#"{"version": "1.1", "kind": "rewrite", "run_id": "r", "bundle_digest": "d", "operation": "amend",
            "old_sha": "a", "new_sha": "b", "old_base_sha": "c", "new_base_sha": "c", "old_patch_id": null,
            "new_patch_id": null, "rewritten_at": "t", "generator": {"name": "g", "version": "1"}}"#;
        let good = statement(REWRITE_PREDICATE_TYPE, rewrite);
        assert!(
            matches!(parse_payload(&good), Ok(Content::Rewrite(_))),
            "{:?}",
            parse_payload(&good)
        );
        let top = good.replacen("{\"_type\"", "{\"_type\": \"x\", \"_type\"", 1);
        assert!(matches!(parse_payload(&top), Err(Invalid::NotStatement(_))));
        let nested = good.replacen("\"name\": \"g\"", "\"name\": \"g\", \"name\": \"h\"", 1);
        assert!(matches!(parse_payload(&nested), Err(Invalid::Shape { .. })));
    }

    #[test]
    fn a_predicate_before_its_type_is_read_the_same() {
        let rewrite = r#"{"version": "1.1", "kind": "rewrite", "run_id": "r", "bundle_digest": "d", "operation": "amend",
            "old_sha": "a", "new_sha": "b", "old_base_sha": "c", "new_base_sha": "c", "old_patch_id": null,
            "new_patch_id": null, "rewritten_at": "t", "generator": {"name": "g", "version": "1"}}"#;
        let in_order = statement(REWRITE_PREDICATE_TYPE, rewrite);
        let reordered = format!(
            "{{\"predicate\": {rewrite}, \"predicateType\": \"{REWRITE_PREDICATE_TYPE}\", \"subject\": [{{\"digest\": {{\"gitCommit\": \"ab\"}}}}], \"_type\": \"{STATEMENT_TYPE}\"}}"
        );
        assert_eq!(parse_payload(&in_order), parse_payload(&reordered));
        let doubled = reordered.replacen("\"kind\": \"rewrite\"", "\"kind\": \"rewrite\", \"kind\": \"x\"", 1);
        assert!(matches!(
            parse_payload(&doubled),
            Err(Invalid::Shape {
                kind: RecordKind::Rewrite,
                ..
            })
        ));
        let trailing = format!("{in_order} {{}}");
        assert!(matches!(parse_payload(&trailing), Err(Invalid::NotStatement(_))));
    }

    #[test]
    fn an_unknown_type_or_predicate_is_invalid() {
        let wrong =
            statement("https://example.com/x", "{}").replace(STATEMENT_TYPE, "https://in-toto.io/Statement/v0.1");
        assert!(matches!(parse_payload(&wrong), Err(Invalid::WrongType(_))));
        let unknown = statement("https://example.com/x", "{}");
        assert!(matches!(parse_payload(&unknown), Err(Invalid::UnknownPredicate(_))));
        let extra = statement(REWRITE_PREDICATE_TYPE, "{}").replacen("{", "{\"extra\": 1, ", 1);
        assert!(matches!(parse_payload(&extra), Err(Invalid::NotStatement(_))));
        assert!(matches!(parse_payload("not json"), Err(Invalid::NotStatement(_))));
    }
}
