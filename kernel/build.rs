//! When the kernel is built for bare-metal RISC-V: links it with `linker.ld`, and builds the
//! user programs (`user/*.rs`, each an ELF linked with `user/user.ld`, on the library
//! `user/sys.rs`) with the same `rustc`, into `OUT_DIR`, where the kernel embeds them. On the
//! host the binary is an ordinary program, and needs neither.

use std::path::Path;
use std::process::Command;

/// The user programs, by file stem.
const PROGRAMS: [&str; 7] = [
    "mmap", "mprotect", "fork", "shared", "stack", "stress", "linux",
];

fn main() {
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=user");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch == "riscv64" && os == "none" {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
        build_programs(Path::new(&dir).join("user").as_path());
    }
}

/// Compiles `sys`, then each program linked with it, into `OUT_DIR`.
fn build_programs(user: &Path) {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let sys = Path::new(&out).join("libsys.rlib");
    rustc(user, "sys", &["--crate-type=rlib", "-o", path(&sys)]);
    let script = user.join("user.ld");
    let sys = format!("sys={}", path(&sys));
    let link = format!("link-arg=-T{}", path(&script));
    for program in PROGRAMS {
        let elf = Path::new(&out).join(program);
        let args = [
            "--crate-type=bin",
            "--extern",
            &sys,
            "-C",
            &link,
            "-o",
            path(&elf),
        ];
        rustc(user, program, &args);
    }
}

/// Runs the `rustc` cargo uses (through clippy under `cargo clippy`, which lints the programs
/// then) on `user/{name}.rs` for the kernel's target, optimised, with `args`; panics with its
/// status if it fails, warnings included (cargo would not show them).
fn rustc(user: &Path, name: &str, args: &[&str]) {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    let mut command = match std::env::var("RUSTC_WORKSPACE_WRAPPER") {
        Ok(wrapper) if !wrapper.is_empty() => {
            let mut command = Command::new(wrapper);
            command.arg(rustc);
            command
        }
        _ => Command::new(rustc),
    };
    let status = command
        .args(["--edition=2021", "--target", &target, "--crate-name", name])
        .args(["-Copt-level=2", "-Cpanic=abort", "-Cstrip=debuginfo"])
        .args(["-D", "warnings", "-D", "clippy::undocumented_unsafe_blocks"])
        .args(args)
        .arg(user.join(format!("{name}.rs")))
        .status()
        .expect("rustc runs");
    assert!(status.success(), "rustc failed on user/{name}.rs: {status}");
}

/// `p` as UTF-8 (cargo's paths are).
fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}
