//! The error numbers Linux's memory system calls return.

#![forbid(unsafe_code)]

use core::fmt;

/// An error number as Linux's memory system calls return it (x86-64 and
/// asm-generic values): a system call returns `-(errno as isize)`.
///
/// # Examples
///
/// ```
/// use range_action_map::linux::Errno;
///
/// assert_eq!(Errno::ENOMEM.code(), 12);
/// assert_eq!(Errno::from_name("EEXIST"), Some(Errno::EEXIST));
/// assert_eq!(Errno::EINVAL.to_string(), "EINVAL");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Errno {
    /// Operation not permitted.
    EPERM = 1,
    /// Bad file descriptor.
    EBADF = 9,
    /// Try again (a resource limit).
    EAGAIN = 11,
    /// Out of memory, or no such mapping / no room.
    ENOMEM = 12,
    /// Permission denied.
    EACCES = 13,
    /// Bad address.
    EFAULT = 14,
    /// The range is already mapped (`MAP_FIXED_NOREPLACE`).
    EEXIST = 17,
    /// The file cannot be mapped.
    ENODEV = 19,
    /// Invalid argument.
    EINVAL = 22,
    /// The file offset plus length overflows.
    EOVERFLOW = 75,
    /// The flags are not supported for this file.
    EOPNOTSUPP = 95,
}

const ALL: [Errno; 11] = [
    Errno::EPERM,
    Errno::EBADF,
    Errno::EAGAIN,
    Errno::ENOMEM,
    Errno::EACCES,
    Errno::EFAULT,
    Errno::EEXIST,
    Errno::ENODEV,
    Errno::EINVAL,
    Errno::EOVERFLOW,
    Errno::EOPNOTSUPP,
];

impl Errno {
    /// The positive error number.
    #[must_use]
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The symbolic name, such as `"ENOMEM"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Errno::EPERM => "EPERM",
            Errno::EBADF => "EBADF",
            Errno::EAGAIN => "EAGAIN",
            Errno::ENOMEM => "ENOMEM",
            Errno::EACCES => "EACCES",
            Errno::EFAULT => "EFAULT",
            Errno::EEXIST => "EEXIST",
            Errno::ENODEV => "ENODEV",
            Errno::EINVAL => "EINVAL",
            Errno::EOVERFLOW => "EOVERFLOW",
            Errno::EOPNOTSUPP => "EOPNOTSUPP",
        }
    }

    /// The error whose symbolic name is `name`, if it is one of these.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Errno> {
        ALL.into_iter().find(|e| e.name() == name)
    }
}

impl fmt::Display for Errno {
    /// The symbolic name, as `strace` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl core::error::Error for Errno {}
