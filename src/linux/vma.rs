//! Linux's VMA attributes (`vm_flags`, file, `vm_pgoff`, `anon_vma`), the
//! rule for when two adjacent VMAs are one, and the segment trait the
//! personality works over.

#![forbid(unsafe_code)]

use core::fmt;
use core::num::NonZeroU64;
use core::ops::{BitOr, BitOrAssign};

use super::layout::PAGE_SIZE;
use crate::Segment;

/// A set of Linux `vm_flags` bits (`VM_*`), as `/proc/self/smaps` shows
/// them in its `VmFlags:` line.
///
/// # Examples
///
/// ```
/// use range_action_map::linux::VmFlags;
///
/// let flags = VmFlags::READ | VmFlags::MAYREAD;
/// assert!(flags.contains(VmFlags::READ));
/// assert_eq!(VmFlags::from_code("gd"), Some(VmFlags::GROWSDOWN));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VmFlags(u32);

impl VmFlags {
    /// No bits.
    pub const EMPTY: VmFlags = VmFlags(0);
    /// `VM_READ` (`rd`).
    pub const READ: VmFlags = VmFlags(1 << 0);
    /// `VM_WRITE` (`wr`).
    pub const WRITE: VmFlags = VmFlags(1 << 1);
    /// `VM_EXEC` (`ex`).
    pub const EXEC: VmFlags = VmFlags(1 << 2);
    /// `VM_SHARED` (`sh`): a shared mapping that may be written.
    pub const SHARED: VmFlags = VmFlags(1 << 3);
    /// `VM_MAYREAD` (`mr`).
    pub const MAYREAD: VmFlags = VmFlags(1 << 4);
    /// `VM_MAYWRITE` (`mw`).
    pub const MAYWRITE: VmFlags = VmFlags(1 << 5);
    /// `VM_MAYEXEC` (`me`).
    pub const MAYEXEC: VmFlags = VmFlags(1 << 6);
    /// `VM_MAYSHARE` (`ms`): the mapping was `MAP_SHARED` (`s` in maps).
    pub const MAYSHARE: VmFlags = VmFlags(1 << 7);
    /// `VM_GROWSDOWN` (`gd`).
    pub const GROWSDOWN: VmFlags = VmFlags(1 << 8);
    /// `VM_ACCOUNT` (`ac`): charged to the commit limit.
    pub const ACCOUNT: VmFlags = VmFlags(1 << 9);
    /// `VM_NORESERVE` (`nr`).
    pub const NORESERVE: VmFlags = VmFlags(1 << 10);
    /// `VM_NOHUGEPAGE` (`nh`).
    pub const NOHUGEPAGE: VmFlags = VmFlags(1 << 11);
    /// `VM_HUGEPAGE` (`hg`).
    pub const HUGEPAGE: VmFlags = VmFlags(1 << 12);
    /// `VM_DONTCOPY` (`dc`).
    pub const DONTCOPY: VmFlags = VmFlags(1 << 13);
    /// `VM_WIPEONFORK` (`wf`).
    pub const WIPEONFORK: VmFlags = VmFlags(1 << 14);
    /// `VM_LOCKED` (`lo`).
    pub const LOCKED: VmFlags = VmFlags(1 << 15);
    /// `VM_RAND_READ` (`rr`).
    pub const RAND_READ: VmFlags = VmFlags(1 << 16);
    /// `VM_SEQ_READ` (`sr`).
    pub const SEQ_READ: VmFlags = VmFlags(1 << 17);
    /// `VM_DONTDUMP` (`dd`).
    pub const DONTDUMP: VmFlags = VmFlags(1 << 18);
    /// `VM_DROPPABLE` (`dp`).
    pub const DROPPABLE: VmFlags = VmFlags(1 << 19);
    /// `VM_IO` (`io`).
    pub const IO: VmFlags = VmFlags(1 << 20);
    /// `VM_PFNMAP` (`pf`).
    pub const PFNMAP: VmFlags = VmFlags(1 << 21);
    /// `VM_DONTEXPAND` (`de`).
    pub const DONTEXPAND: VmFlags = VmFlags(1 << 22);
    /// `VM_MIXEDMAP` (`mm`).
    pub const MIXEDMAP: VmFlags = VmFlags(1 << 23);
    /// `VM_SPECIAL`: VMAs with any of these bits never merge.
    pub const SPECIAL: VmFlags =
        VmFlags(Self::IO.0 | Self::PFNMAP.0 | Self::DONTEXPAND.0 | Self::MIXEDMAP.0);
    /// The access bits `rd wr ex`.
    pub const ACCESS: VmFlags = VmFlags(Self::READ.0 | Self::WRITE.0 | Self::EXEC.0);

    /// The two-letter `smaps` codes of the bits, in bit order.
    const CODES: [(&'static str, VmFlags); 24] = [
        ("rd", Self::READ),
        ("wr", Self::WRITE),
        ("ex", Self::EXEC),
        ("sh", Self::SHARED),
        ("mr", Self::MAYREAD),
        ("mw", Self::MAYWRITE),
        ("me", Self::MAYEXEC),
        ("ms", Self::MAYSHARE),
        ("gd", Self::GROWSDOWN),
        ("ac", Self::ACCOUNT),
        ("nr", Self::NORESERVE),
        ("nh", Self::NOHUGEPAGE),
        ("hg", Self::HUGEPAGE),
        ("dc", Self::DONTCOPY),
        ("wf", Self::WIPEONFORK),
        ("lo", Self::LOCKED),
        ("rr", Self::RAND_READ),
        ("sr", Self::SEQ_READ),
        ("dd", Self::DONTDUMP),
        ("dp", Self::DROPPABLE),
        ("io", Self::IO),
        ("pf", Self::PFNMAP),
        ("de", Self::DONTEXPAND),
        ("mm", Self::MIXEDMAP),
    ];

    /// Whether every bit of `other` is set.
    #[must_use]
    pub const fn contains(self, other: VmFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    #[must_use]
    pub const fn intersects(self, other: VmFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// These bits and those of `other`.
    #[must_use]
    pub const fn union(self, other: VmFlags) -> VmFlags {
        VmFlags(self.0 | other.0)
    }

    /// These bits without those of `other`.
    #[must_use]
    pub const fn difference(self, other: VmFlags) -> VmFlags {
        VmFlags(self.0 & !other.0)
    }

    /// The bit an `smaps` `VmFlags:` code names (`"rd"`, `"gd"`, ...), if
    /// it is one of these.
    #[must_use]
    pub fn from_code(code: &str) -> Option<VmFlags> {
        Self::CODES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(_, bit)| bit)
    }

    /// The access bits for `PROT_*` bits `prot` (`PROT_READ` 1,
    /// `PROT_WRITE` 2, `PROT_EXEC` 4; others ignored).
    #[must_use]
    pub const fn from_prot(prot: u32) -> VmFlags {
        VmFlags(prot & Self::ACCESS.0)
    }
}

impl BitOr for VmFlags {
    type Output = VmFlags;
    fn bitor(self, rhs: VmFlags) -> VmFlags {
        VmFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for VmFlags {
    fn bitor_assign(&mut self, rhs: VmFlags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Display for VmFlags {
    /// The `smaps` codes, each followed by a space, as in the `VmFlags:`
    /// line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (code, bit) in Self::CODES {
            if self.contains(bit) {
                write!(f, "{code} ")?;
            }
        }
        Ok(())
    }
}

/// What backs a VMA: the identity that decides, with the page offset,
/// whether two VMAs can be one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backing {
    /// Private anonymous memory (`vm_file` is none).
    Anonymous,
    /// A private mapping of `/dev/zero`: anonymous memory that keeps the
    /// name, so it never merges with plain anonymous memory.
    DevZero,
    /// A file: the caller's identity of the open file description (two
    /// `open`s of one path are two files and do not merge), and whether its
    /// file system places mappings by the huge-page rule relative to the
    /// file offset ([`ThpRule::File`](super::ThpRule::File); a moved
    /// mapping is placed again).
    File {
        /// The identity of the open file description.
        id: u64,
        /// Whether the file's mappings follow the file THP rule.
        thp: bool,
    },
    /// Shared anonymous memory (or a shared `/dev/zero` mapping): a shmem
    /// object of its own, identified by the personality.
    Shmem(u64),
}

/// The attributes of one VMA that Linux's rules look at: `vm_flags`, the
/// backing, `vm_pgoff` and the `anon_vma`.
///
/// `pgoff` is the page offset of the VMA's start in its file, or, for
/// anonymous memory, the page number of the address the mapping was created
/// at (which `/proc/self/maps` does not show, but which merging needs).
///
/// # Examples
///
/// ```
/// use range_action_map::linux::{Backing, VmFlags, VmaAttrs};
///
/// let rw = VmFlags::READ | VmFlags::WRITE | VmFlags::MAYREAD | VmFlags::MAYWRITE;
/// let a = VmaAttrs::new(rw, Backing::File { id: 3, thp: true }, 0);
/// let b = VmaAttrs::new(rw, Backing::File { id: 3, thp: true }, 4);
/// // 4 pages of the file at offset 0, then the file from page 4: one VMA.
/// assert!(a.can_merge(4 * 0x1000, &b));
/// // With a page missing in between, two.
/// assert!(!a.can_merge(3 * 0x1000, &b));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VmaAttrs {
    flags: VmFlags,
    backing: Backing,
    pgoff: u64,
    anon_vma: Option<NonZeroU64>,
    /// Set only while the personality inserts a VMA that Linux does not
    /// merge (a new `brk` VMA, [`LinuxMm::insert`](super::LinuxMm::insert)).
    no_merge: bool,
    /// The `anon_vma` came with `fork` (Linux: the VMA's `anon_vma_chain`
    /// is not singular, `vma_had_uncowed_parents`): the VMA does not merge
    /// with one that has no `anon_vma`.
    forked: bool,
}

impl VmaAttrs {
    /// Attributes with no `anon_vma` (a VMA never written).
    #[must_use]
    pub const fn new(flags: VmFlags, backing: Backing, pgoff: u64) -> VmaAttrs {
        VmaAttrs {
            flags,
            backing,
            pgoff,
            anon_vma: None,
            no_merge: false,
            forked: false,
        }
    }

    /// The attributes of the child's copy in `fork`: an `anon_vma` now has
    /// parents (see [`can_merge`](Self::can_merge)).
    pub(crate) const fn forked(mut self) -> VmaAttrs {
        self.forked = self.anon_vma.is_some();
        self
    }

    /// The same attributes, kept from merging (`true`) or not.
    pub(crate) const fn unmergeable(mut self, no_merge: bool) -> VmaAttrs {
        self.no_merge = no_merge;
        self
    }

    /// The same attributes with `anon_vma` set: the identity of the
    /// anonymous pages of a written private VMA.
    #[must_use]
    pub const fn with_anon_vma(mut self, anon_vma: Option<NonZeroU64>) -> VmaAttrs {
        self.anon_vma = anon_vma;
        self
    }

    /// The `vm_flags`.
    #[must_use]
    pub const fn flags(&self) -> VmFlags {
        self.flags
    }

    /// The backing.
    #[must_use]
    pub const fn backing(&self) -> Backing {
        self.backing
    }

    /// `vm_pgoff`, in pages.
    #[must_use]
    pub const fn pgoff(&self) -> u64 {
        self.pgoff
    }

    /// The `anon_vma`, none until the first write fault of a private VMA.
    #[must_use]
    pub const fn anon_vma(&self) -> Option<NonZeroU64> {
        self.anon_vma
    }

    /// Whether Linux treats the VMA as anonymous (`vma_is_anonymous`): no
    /// file and no shmem object behind it.
    #[must_use]
    pub const fn is_anonymous(&self) -> bool {
        matches!(self.backing, Backing::Anonymous | Backing::DevZero)
    }

    /// The attributes of the part of a VMA that starts `delta` bytes (whole
    /// pages) after the start of the VMA these are the attributes of: the
    /// same, with `pgoff` advanced.
    #[must_use]
    pub const fn advanced(mut self, delta: usize) -> VmaAttrs {
        // Wraps as Linux's unsigned long page offsets do (a caller's pgoff
        // may be anything).
        self.pgoff = self.pgoff.wrapping_add((delta / PAGE_SIZE) as u64);
        self
    }

    /// The attributes after `mprotect(prot)` (`mprotect_fixup`): the access
    /// bits become `prot`'s, and `VM_ACCOUNT` is added when the VMA becomes
    /// writable and had none of `ac wr sh nr`, or dropped when an anonymous
    /// VMA that was never written becomes read-only.
    #[must_use]
    pub fn protected(self, prot: u32) -> VmaAttrs {
        let old = self.flags;
        let mut flags = old.difference(VmFlags::ACCESS) | VmFlags::from_prot(prot);
        if flags.contains(VmFlags::WRITE) {
            let exempt = VmFlags::ACCOUNT | VmFlags::WRITE | VmFlags::SHARED | VmFlags::NORESERVE;
            if !old.intersects(exempt) {
                flags |= VmFlags::ACCOUNT;
            }
        } else if old.contains(VmFlags::ACCOUNT)
            && matches!(self.backing, Backing::Anonymous)
            && self.anon_vma.is_none()
        {
            flags = flags.difference(VmFlags::ACCOUNT);
        }
        VmaAttrs { flags, ..self }
    }

    /// The attributes after `change`.
    #[must_use]
    pub fn changed(self, change: VmaChange) -> VmaAttrs {
        match change {
            VmaChange::Protect(prot) => self.protected(prot),
            VmaChange::Flags { set, clear } => VmaAttrs {
                flags: self.flags.difference(clear) | set,
                ..self
            },
        }
    }

    /// Whether a VMA of `len` bytes with these attributes and the VMA
    /// `next` that starts right at its end are one by Linux's rule
    /// (`is_mergeable_vma`, `is_mergeable_anon_vma`): equal flags and
    /// neither special, the same backing, contiguous `pgoff`, and
    /// compatible `anon_vma`s (equal, or one none while the other did not
    /// come from a `fork`: `is_mergeable_anon_vma`).
    #[must_use]
    pub fn can_merge(&self, len: usize, next: &VmaAttrs) -> bool {
        !self.no_merge
            && !next.no_merge
            && self.flags == next.flags
            && !self.flags.intersects(VmFlags::SPECIAL)
            && self.backing == next.backing
            && self.pgoff.checked_add((len / PAGE_SIZE) as u64) == Some(next.pgoff)
            && match (self.anon_vma, next.anon_vma) {
                (None, None) => true,
                (Some(_), None) => !self.forked,
                (None, Some(_)) => !next.forked,
                (Some(a), Some(b)) => a == b,
            }
    }

    /// The attributes of this VMA once it absorbed `next` (checked with
    /// [`can_merge`](Self::can_merge)): the lower one's, with whichever
    /// `anon_vma` is there.
    #[must_use]
    pub const fn merged(mut self, next: &VmaAttrs) -> VmaAttrs {
        if self.anon_vma.is_none() {
            self.anon_vma = next.anon_vma;
            self.forked = next.forked;
        }
        self
    }
}

impl fmt::Display for VmaAttrs {
    /// The part of a `/proc/self/maps` line after the range: permissions,
    /// offset, device and inode (the file identity), e.g.
    /// `r-xp 00001000 00:00 3`. Anonymous memory shows offset and inode 0.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bit = |b, c| if self.flags.contains(b) { c } else { '-' };
        let share = if self.flags.contains(VmFlags::MAYSHARE) {
            's'
        } else {
            'p'
        };
        let (offset, inode) = match self.backing {
            Backing::Anonymous | Backing::DevZero => (0, 0),
            Backing::File { id, .. } | Backing::Shmem(id) => {
                (self.pgoff.wrapping_mul(PAGE_SIZE as u64), id)
            }
        };
        write!(
            f,
            "{}{}{}{share} {offset:08x} 00:00 {inode}",
            bit(VmFlags::READ, 'r'),
            bit(VmFlags::WRITE, 'w'),
            bit(VmFlags::EXEC, 'x'),
        )
    }
}

/// What a range of VMAs is changed by: the value
/// [`Segment::modify`](crate::Segment::modify) receives from the
/// personality.
///
/// # Examples
///
/// ```
/// use range_action_map::linux::{Backing, VmFlags, VmaAttrs, VmaChange};
///
/// let ro = VmaAttrs::new(VmFlags::READ | VmFlags::MAYWRITE, Backing::Anonymous, 0);
/// let rw = ro.changed(VmaChange::Protect(0x3));
/// assert!(rw.flags().contains(VmFlags::WRITE | VmFlags::ACCOUNT));
/// let locked = ro.changed(VmaChange::Flags { set: VmFlags::LOCKED, clear: VmFlags::EMPTY });
/// assert!(locked.flags().contains(VmFlags::LOCKED));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VmaChange {
    /// `mprotect` to these `PROT_*` bits ([`VmaAttrs::protected`]).
    Protect(u32),
    /// Flags set and cleared (`madvise`'s flag-changing advice, `mlock`,
    /// `munlock`); `clear` goes first.
    Flags {
        /// The bits to set.
        set: VmFlags,
        /// The bits to clear.
        clear: VmFlags,
    },
}

/// A segment type the Linux personality ([`LinuxMm`](super::LinuxMm)) can
/// keep: one VMA with its [`VmaAttrs`], changed by [`VmaChange`]s.
///
/// # Implementing this trait
///
/// Keep the attributes in a [`Cell`](core::cell::Cell) (or, for VMAs
/// that several CPUs read at once, behind a lock, as `Vma` does) and make
/// the [`Segment`] callbacks apply Linux's rules through [`VmaAttrs`]:
/// `split(pos)` gives the new node `attrs.advanced(pos - start)`, `shrink`
/// to a later start advances `pgoff` the same way, `modify(change)` stores
/// `attrs.changed(change)`, and `try_merge(next)` answers
/// [`VmaAttrs::can_merge`] and stores [`VmaAttrs::merged`]. A `try_merge`
/// that merges more eagerly (or `split` that copies `pgoff` unchanged)
/// compiles, but then the VMAs no longer match Linux's. `Vma` (feature
/// `alloc`) is this trait implemented over `Box`.
pub trait LinuxSegment: Segment<Flags = VmaChange> {
    /// A new, unlinked node for a VMA with `attrs`.
    fn new_vma(attrs: VmaAttrs, args: &mut Self::Args) -> Self::Pointer;
    /// The VMA's attributes.
    fn attrs(&self) -> VmaAttrs;
    /// Replaces the VMA's attributes (the personality sets the `anon_vma`
    /// of a written VMA this way).
    fn set_attrs(&self, attrs: VmaAttrs);
}
