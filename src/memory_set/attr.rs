//! Access permissions of a memory area, and how they are written into page-table entries.
//!
//! [`MemoryAttr`] is the tutorial's permission triple (user / readonly / execute) plus the two
//! bits a kernel needs for device memory and for its own mappings (device / global). Areas keep
//! one, hand it by value to the page table for every leaf they map (which writes it in its own
//! entry format), and `mprotect` carries it as a plain `usize` flags value whose bit layout is
//! fixed here:
//!
//! | bit | constant                    | meaning when set                                   |
//! |-----|-----------------------------|----------------------------------------------------|
//! | 0   | [`MemoryAttr::FLAG_USER`]     | accessible from user mode                          |
//! | 1   | [`MemoryAttr::FLAG_READONLY`] | not writable                                       |
//! | 2   | [`MemoryAttr::FLAG_EXECUTE`]  | executable                                         |
//! | 3   | [`MemoryAttr::FLAG_DEVICE`]   | device memory: uncached, strongly ordered (MMIO)   |
//! | 4   | [`MemoryAttr::FLAG_GLOBAL`]   | present in every address space (kernel mappings)   |
//!
//! Every other bit is reserved: converting a value with a reserved bit set fails with
//! [`InvalidAttrBits`].

use core::fmt;

/// Access permissions and memory type of an area: user-accessible, read-only, executable,
/// device, global.
///
/// Pages are always readable. [`MemoryAttr::new`] (equal to [`Default`]) is kernel-only,
/// writable, not executable, cached and not global; the builder methods only ever add a
/// property, as in the tutorial:
///
/// ```
/// # use range_action_map::memory_set::MemoryAttr;
/// let text = MemoryAttr::new().set_readonly().set_execute();
/// assert!(text.is_readonly() && text.is_execute() && !text.is_user());
/// assert_eq!(text.to_string(), "r-xp");
/// assert_eq!(usize::from(text), MemoryAttr::FLAG_READONLY | MemoryAttr::FLAG_EXECUTE);
/// let uart = MemoryAttr::new().set_device().set_global();
/// assert!(uart.is_device() && uart.is_global());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MemoryAttr {
    /// The flags value, only bits of [`MemoryAttr::FLAGS_MASK`].
    flags: usize,
}

impl MemoryAttr {
    /// Flags bit 0: the pages are accessible from user mode.
    pub const FLAG_USER: usize = 1 << 0;
    /// Flags bit 1: the pages are read-only.
    pub const FLAG_READONLY: usize = 1 << 1;
    /// Flags bit 2: the pages are executable.
    pub const FLAG_EXECUTE: usize = 1 << 2;
    /// Flags bit 3: the pages are device memory (uncached, strongly ordered).
    pub const FLAG_DEVICE: usize = 1 << 3;
    /// Flags bit 4: the pages are global (their translations survive an address-space switch).
    pub const FLAG_GLOBAL: usize = 1 << 4;
    /// Every flags bit that has a meaning; the others must be clear.
    pub const FLAGS_MASK: usize = Self::FLAG_USER
        | Self::FLAG_READONLY
        | Self::FLAG_EXECUTE
        | Self::FLAG_DEVICE
        | Self::FLAG_GLOBAL;

    /// Kernel-only, writable, not executable, cached, not global.
    pub const fn new() -> Self {
        MemoryAttr { flags: 0 }
    }

    /// The attributes whose flags value `flags` is, which came from one (its reserved bits
    /// are clear).
    pub(super) const fn from_stored(flags: usize) -> Self {
        MemoryAttr {
            flags: flags & Self::FLAGS_MASK,
        }
    }

    const fn with(self, flag: usize) -> Self {
        MemoryAttr {
            flags: self.flags | flag,
        }
    }

    const fn has(self, flag: usize) -> bool {
        self.flags & flag != 0
    }

    /// Makes the pages accessible from user mode.
    #[must_use]
    pub const fn set_user(self) -> Self {
        self.with(Self::FLAG_USER)
    }

    /// Makes the pages read-only.
    #[must_use]
    pub const fn set_readonly(self) -> Self {
        self.with(Self::FLAG_READONLY)
    }

    /// Makes the pages executable.
    #[must_use]
    pub const fn set_execute(self) -> Self {
        self.with(Self::FLAG_EXECUTE)
    }

    /// Makes the pages device memory: uncached and strongly ordered, for MMIO registers.
    #[must_use]
    pub const fn set_device(self) -> Self {
        self.with(Self::FLAG_DEVICE)
    }

    /// Makes the pages global: a kernel mapping present in every address space, whose
    /// translations need not be flushed when the CPU switches address spaces.
    #[must_use]
    pub const fn set_global(self) -> Self {
        self.with(Self::FLAG_GLOBAL)
    }

    /// Whether the pages are accessible from user mode.
    pub const fn is_user(&self) -> bool {
        self.has(Self::FLAG_USER)
    }

    /// Whether the pages are read-only.
    pub const fn is_readonly(&self) -> bool {
        self.has(Self::FLAG_READONLY)
    }

    /// Whether the pages are executable.
    pub const fn is_execute(&self) -> bool {
        self.has(Self::FLAG_EXECUTE)
    }

    /// Whether the pages are device memory.
    pub const fn is_device(&self) -> bool {
        self.has(Self::FLAG_DEVICE)
    }

    /// Whether the pages are global.
    pub const fn is_global(&self) -> bool {
        self.has(Self::FLAG_GLOBAL)
    }

    /// Whether these attributes only add permissions to `old` (write, execute) and change
    /// nothing else: a CPU still holding `old` in its TLB then only faults more than it should,
    /// which resolves itself, so no TLB flush is needed.
    pub const fn only_adds_to(self, old: MemoryAttr) -> bool {
        let added = Self::FLAG_EXECUTE;
        let kept = Self::FLAGS_MASK & !added & !Self::FLAG_READONLY;
        // Read-only may go (write granted), never come; execute may come, never go.
        self.flags & kept == old.flags & kept
            && (old.is_readonly() || !self.is_readonly())
            && (self.is_execute() || !old.is_execute())
    }
}

impl From<MemoryAttr> for usize {
    /// Encodes the attributes as flags (see the [module docs](self) for the bits).
    fn from(attr: MemoryAttr) -> usize {
        attr.flags
    }
}

impl TryFrom<usize> for MemoryAttr {
    type Error = InvalidAttrBits;

    /// Decodes flags (see the [module docs](self) for the bits).
    ///
    /// # Errors
    ///
    /// [`InvalidAttrBits`] with the whole value if any bit outside
    /// [`MemoryAttr::FLAGS_MASK`] is set.
    fn try_from(flags: usize) -> Result<Self, Self::Error> {
        if flags & !MemoryAttr::FLAGS_MASK != 0 {
            return Err(InvalidAttrBits(flags));
        }
        Ok(MemoryAttr { flags })
    }
}

impl fmt::Display for MemoryAttr {
    /// Formats the permissions as `/proc/<pid>/maps` does: `rwxp`, with `-` for a missing right.
    ///
    /// Pages are always readable; the user, device and global bits are not shown, and whether
    /// the area is shared is its handler's to say, so this shows `p`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_maps(f, false)
    }
}

impl MemoryAttr {
    /// Writes the `rwxp` / `rwxs` permissions column of `/proc/<pid>/maps`.
    pub(super) fn fmt_maps(&self, f: &mut fmt::Formatter<'_>, shared: bool) -> fmt::Result {
        let w = if self.is_readonly() { '-' } else { 'w' };
        let x = if self.is_execute() { 'x' } else { '-' };
        let s = if shared { 's' } else { 'p' };
        write!(f, "r{w}{x}{s}")
    }
}

/// The error of decoding a flags value that has a reserved bit set.
///
/// It holds the whole rejected value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvalidAttrBits(pub usize);

impl fmt::Display for InvalidAttrBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid memory attribute flags {:#x}: reserved bits {:#x} are set",
            self.0,
            self.0 & !MemoryAttr::FLAGS_MASK
        )
    }
}

impl core::error::Error for InvalidAttrBits {}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::string::ToString;

    use super::*;

    /// All 32 attributes, indexed by their flags value, built with the builders.
    fn all_attrs() -> impl Iterator<Item = MemoryAttr> {
        let builders: [fn(MemoryAttr) -> MemoryAttr; 5] = [
            MemoryAttr::set_user,
            MemoryAttr::set_readonly,
            MemoryAttr::set_execute,
            MemoryAttr::set_device,
            MemoryAttr::set_global,
        ];
        (0..32usize).map(move |flags| {
            (0..5)
                .filter(|bit| flags & 1 << bit != 0)
                .fold(MemoryAttr::new(), |attr, bit| builders[bit](attr))
        })
    }

    #[test]
    fn new_is_kernel_writable_not_executable_and_default() {
        const CONST_ATTR: MemoryAttr = MemoryAttr::new().set_user().set_execute();
        let attr = MemoryAttr::new();
        assert!(!attr.is_user());
        assert!(!attr.is_readonly());
        assert!(!attr.is_execute());
        assert_eq!(attr, MemoryAttr::default());
        assert!(CONST_ATTR.is_user() && CONST_ATTR.is_execute() && !CONST_ATTR.is_readonly());
    }

    #[test]
    fn builders_set_exactly_one_property_and_are_idempotent() {
        let user = MemoryAttr::new().set_user();
        assert!(user.is_user() && !user.is_readonly() && !user.is_execute());
        let ro = MemoryAttr::new().set_readonly();
        assert!(!ro.is_user() && ro.is_readonly() && !ro.is_execute());
        let x = MemoryAttr::new().set_execute();
        assert!(!x.is_user() && !x.is_readonly() && x.is_execute());
        assert_eq!(user.set_user(), user);
        assert_eq!(
            MemoryAttr::new().set_execute().set_user().set_readonly(),
            MemoryAttr::new().set_readonly().set_user().set_execute()
        );
    }

    #[test]
    fn only_adds_to_is_true_exactly_for_granted_write_and_execute() {
        let ro = MemoryAttr::new().set_user().set_readonly();
        assert!(ro.only_adds_to(ro));
        assert!(
            MemoryAttr::new().set_user().only_adds_to(ro),
            "write granted"
        );
        assert!(ro.set_execute().only_adds_to(ro), "execute granted");
        assert!(
            !ro.only_adds_to(MemoryAttr::new().set_user()),
            "write taken"
        );
        assert!(!ro.only_adds_to(ro.set_execute()), "execute taken");
        assert!(
            !ro.only_adds_to(MemoryAttr::new().set_readonly()),
            "user changed"
        );
        assert!(!ro.set_device().only_adds_to(ro), "memory type changed");
        for old in all_attrs() {
            for new in all_attrs() {
                let grants = (usize::from(new) ^ usize::from(old))
                    & !(MemoryAttr::FLAG_READONLY | MemoryAttr::FLAG_EXECUTE)
                    == 0
                    && (old.is_readonly() || !new.is_readonly())
                    && (new.is_execute() || !old.is_execute());
                assert_eq!(new.only_adds_to(old), grants, "{old:?} -> {new:?}");
            }
        }
    }

    #[test]
    fn flags_follow_the_documented_bit_layout() {
        assert_eq!(usize::from(MemoryAttr::new()), 0);
        assert_eq!(usize::from(MemoryAttr::new().set_user()), 0b001);
        assert_eq!(usize::from(MemoryAttr::new().set_readonly()), 0b010);
        assert_eq!(usize::from(MemoryAttr::new().set_execute()), 0b100);
        assert_eq!(usize::from(MemoryAttr::new().set_device()), 0b1000);
        assert_eq!(usize::from(MemoryAttr::new().set_global()), 0b1_0000);
        assert_eq!(MemoryAttr::FLAGS_MASK, 0b1_1111);
    }

    #[test]
    fn flags_round_trip_for_every_attr() {
        for (flags, attr) in all_attrs().enumerate() {
            assert_eq!(usize::from(attr), flags);
            assert_eq!(MemoryAttr::try_from(flags), Ok(attr));
        }
    }

    #[test]
    fn reserved_bits_are_rejected_with_the_whole_value() {
        for flags in [0b10_0000, 0b11_1111, 1 << 5 | 1, 1 << 63, usize::MAX] {
            assert_eq!(MemoryAttr::try_from(flags), Err(InvalidAttrBits(flags)));
        }
        assert_eq!(
            InvalidAttrBits(0b10_1101).to_string(),
            "invalid memory attribute flags 0x2d: reserved bits 0x20 are set"
        );
    }

    #[test]
    fn display_is_proc_maps_permissions() {
        let cases = [
            (MemoryAttr::new(), "rw-p"),
            (MemoryAttr::new().set_readonly(), "r--p"),
            (MemoryAttr::new().set_execute(), "rwxp"),
            (MemoryAttr::new().set_readonly().set_execute(), "r-xp"),
            (MemoryAttr::new().set_user(), "rw-p"),
            (
                MemoryAttr::new().set_user().set_readonly().set_execute(),
                "r-xp",
            ),
        ];
        for (attr, expected) in cases {
            assert_eq!(attr.to_string(), expected, "{attr:?}");
        }
    }

    #[test]
    fn equal_attrs_hash_equal() {
        use core::hash::{Hash, Hasher};
        use std::collections::hash_map::DefaultHasher;

        let hash = |attr: MemoryAttr| {
            let mut hasher = DefaultHasher::new();
            attr.hash(&mut hasher);
            hasher.finish()
        };
        let a = MemoryAttr::new().set_user().set_readonly();
        let b = MemoryAttr::new().set_readonly().set_user();
        assert_eq!(hash(a), hash(b));
        let distinct: std::collections::HashSet<MemoryAttr> = all_attrs().collect();
        assert_eq!(distinct.len(), 32);
    }
}
