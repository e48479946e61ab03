//! Reading what a user names with a bound: a key, a trust file, a policy, a prompt. A FIFO or a
//! device named by mistake (or malice) must neither hang a hook nor fill the memory.

use std::io::{self, Read};
use std::path::Path;

/// Reads a regular file of at most `limit` bytes. Anything else (a FIFO, which would block
/// until someone writes to it; a device, which may never end) is refused before it is opened.
pub fn read_file(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    read_at_most(std::fs::File::open(path)?, limit)
}

/// [`read_file`], as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_file(path, limit)?).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// Reads at most `limit` bytes; a reader with more is an error, found after `limit + 1`.
pub fn read_at_most(reader: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("larger than {} MiB", limit >> 20),
        ));
    }
    Ok(bytes)
}
