//! Printing through the SBI's console (the legacy `console_putchar`, which every OpenSBI has).

use core::fmt::{self, Write};

/// The SBI console.
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            // The SBI's debug console (DBCN) replaces it from SBI 2.0 (OpenSBI 1.3) on; the
            // OpenSBI of Debian 12 is older.
            #[allow(deprecated)]
            sbi_rt::legacy::console_putchar(byte.into());
        }
        Ok(())
    }
}

/// Serialises whole lines, so that lines of different harts do not interleave.
static LOCK: spin::Mutex<()> = spin::Mutex::new(());

/// Prints `args` in one piece.
pub fn print(args: fmt::Arguments) {
    let _line = LOCK.lock();
    // The SBI console cannot fail.
    let _ = Console.write_fmt(args);
}

/// Prints a line through the SBI console.
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::kernel::console::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints through the SBI console.
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::kernel::console::print(format_args!($($arg)*))
    };
}
