//! The ELF program headers of the programs the traces of `benches/data`
//! exec (`ram-elf v1`, `benches/data/elf.txt`, captured by
//! `benches/data/elf.py`): what [`LinuxMm::exec`] needs to build each
//! address space as Linux did before the first traced call.
//!
//! One `E` record per file, followed by its `PT_LOAD` headers in file
//! order; `#` starts a comment line:
//!
//! ```text
//! E <exec|dyn> <interpreter path or -> <path>
//! L <p_vaddr> <p_offset> <p_filesz> <p_memsz> <prot> <p_align>
//! ```
//!
//! `<path>` is the rest of the line, as the trace's `X` record names the
//! program; `<prot>` is `-` or letters of `rwx`.
//!
//! [`LinuxMm::exec`]: range_action_map::linux::LinuxMm::exec

use std::collections::HashMap;
use std::path::Path;

use range_action_map::linux::{ElfImage, ElfType, LoadSegment, MmapFile, PAGE_SIZE};

use crate::trace::{parse_prot, parse_usize, read, ParseError};

/// One ELF file as `execve` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfHeaders {
    /// `e_type`.
    pub kind: ElfType,
    /// The path `PT_INTERP` names, if any.
    pub interp: Option<String>,
    /// The `PT_LOAD` headers, in file order.
    pub segments: Vec<LoadSegment>,
    /// The largest `p_align` of the segments, at least [`PAGE_SIZE`].
    pub align: usize,
}

impl ElfHeaders {
    /// The file as [`LinuxMm::exec`] takes it, opened as `file`.
    ///
    /// [`LinuxMm::exec`]: range_action_map::linux::LinuxMm::exec
    pub fn image(&self, file: MmapFile) -> ElfImage<'_> {
        ElfImage {
            kind: self.kind,
            segments: &self.segments,
            align: self.align,
            file,
        }
    }
}

/// Parses the text of a `ram-elf v1` file: every file by path.
///
/// # Examples
///
/// ```
/// use range_action_map::linux::ElfType;
/// use range_action_map_testkit::elf;
///
/// let files = elf::parse("E exec - /bin/x\nL 0x400000 0x0 0x1800 0x2000 rx 0x1000\n")?;
/// let x = &files["/bin/x"];
/// assert_eq!((x.kind, x.interp.as_deref(), x.align), (ElfType::Exec, None, 0x1000));
/// assert_eq!(x.segments[0].memsz, 0x2000);
/// # Ok::<(), range_action_map_testkit::trace::ParseError>(())
/// ```
///
/// # Errors
///
/// The first line that is not a record of the format, an `L` before any
/// `E`, or a file without `L` records.
pub fn parse(text: &str) -> Result<HashMap<String, ElfHeaders>, ParseError> {
    let mut files: HashMap<String, ElfHeaders> = HashMap::new();
    let mut current: Option<String> = None;
    for (i, l) in text.lines().enumerate() {
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = l.splitn(4, ' ').collect();
        match fields[..] {
            ["E", kind, interp, path] => {
                let kind = match kind {
                    "exec" => ElfType::Exec,
                    "dyn" => ElfType::Dyn,
                    _ => return Err(err(format!("bad ELF type {kind:?}"))),
                };
                let headers = ElfHeaders {
                    kind,
                    interp: (interp != "-").then(|| interp.to_string()),
                    segments: Vec::new(),
                    align: PAGE_SIZE,
                };
                files.insert(path.to_string(), headers);
                current = Some(path.to_string());
            }
            ["L", ..] => {
                let f: Vec<&str> = l.split(' ').collect();
                let [_, vaddr, offset, filesz, memsz, prot, align] = f[..] else {
                    return Err(err(format!("L record {l:?} needs 6 fields")));
                };
                let file = current
                    .as_ref()
                    .and_then(|p| files.get_mut(p))
                    .ok_or_else(|| err("L record before any E record".into()))?;
                file.segments.push(LoadSegment {
                    vaddr: parse_usize(vaddr).map_err(err)?,
                    offset: parse_usize(offset).map_err(err)? as u64,
                    filesz: parse_usize(filesz).map_err(err)?,
                    memsz: parse_usize(memsz).map_err(err)?,
                    prot: parse_prot(prot).map_err(err)?,
                });
                file.align = file.align.max(parse_usize(align).map_err(err)?);
            }
            _ => return Err(err(format!("unknown record {l:?}"))),
        }
    }
    match files.iter().find(|(_, f)| f.segments.is_empty()) {
        Some((path, _)) => Err(ParseError {
            line: 0,
            message: format!("{path} has no PT_LOAD"),
        }),
        None => Ok(files),
    }
}

/// Reads and parses a `ram-elf v1` file (see [`parse`]).
///
/// # Errors
///
/// An I/O error (line 0) or a [`parse`] error.
pub fn load(path: impl AsRef<Path>) -> Result<HashMap<String, ElfHeaders>, ParseError> {
    parse(&read(path.as_ref())?)
}
