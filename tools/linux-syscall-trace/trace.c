/*
 * linux-syscall-trace: record, call by call, what the running Linux kernel
 * answers to the memory system calls (mmap with files, munmap, mprotect,
 * mremap, brk, madvise), with enough of the address-space state to replay
 * every call: ground truth for a Linux "personality" of range-action-map.
 *
 * Usage:  setarch "$(uname -m)" -R ./trace PROGRAM [ARGS] > PROGRAM.txt
 *         PROGRAM is one of: file mremap brk mprotect errno madvise merge
 *         fork exec.  `exec` takes the binaries to exec as arguments.
 *
 * Output format: tests/data/linux_syscalls/README.md.  What the data show:
 * NOTES.md beside this file.
 *
 * Rules this program follows so that it never perturbs the address space
 * it is observing (the same as tools/linux-mmap-trace/trace.c):
 *   - no malloc, no stdio: output goes through write(2) from a static
 *     buffer, /proc files are read with read(2) into a static buffer;
 *   - the kernel is called through syscall(2), and every call that can
 *     change the address space is recorded;
 *   - memory is only touched by the recorded `peek` and `poke` steps;
 *   - MAP_FIXED is only used over ranges this program mapped itself, in
 *     fixed "arenas" far from everything else (ARENA below);
 *     anything else uses MAP_FIXED_NOREPLACE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 2U
#endif
#ifndef ADDR_COMPAT_LAYOUT
#define ADDR_COMPAT_LAYOUT 0x0200000
#endif
#ifndef PROT_GROWSDOWN
#define PROT_GROWSDOWN 0x01000000
#endif
#ifndef PROT_GROWSUP
#define PROT_GROWSUP 0x02000000
#endif

#define PAGE 0x1000UL
#define MiB (1UL << 20)
#define GiB (1UL << 30)
#define PMD (2 * MiB)
#define TASK_SIZE 0x7ffffffff000UL
#define P(n) ((unsigned long)(n) * PAGE)

/* Each program works in its own arena, 64 GiB apart, starting at 16 TiB:
 * nothing else is ever placed there in a no-ASLR process. */
#define ARENA(k) (0x100000000000UL + (unsigned long)(k) * 0x1000000000UL)

#define RO PROT_READ
#define RW (PROT_READ | PROT_WRITE)
#define PA (MAP_PRIVATE | MAP_ANONYMOUS)
#define SA (MAP_SHARED | MAP_ANONYMOUS)
#define NOREPL MAP_FIXED_NOREPLACE
#define MAYMOVE MREMAP_MAYMOVE
#define FIXED MREMAP_FIXED
#define DONTUNMAP MREMAP_DONTUNMAP

static int is_err(long r) { return r < 0 && r > -4096; }

/* ------------------------------------------------------------------ output */

static char obuf[8192];
static int olen;

static void flush(void)
{
	long off = 0;
	while (off < olen) {
		long r = syscall(SYS_write, 1, obuf + off, olen - off);
		if (r <= 0)
			syscall(SYS_exit_group, 3);
		off += r;
	}
	olen = 0;
}

static void ochr(char c)
{
	if (olen == (int)sizeof(obuf))
		flush();
	obuf[olen++] = c;
}

static void ostr(const char *s)
{
	while (*s)
		ochr(*s++);
}

static void ohex(unsigned long v)
{
	char tmp[20];
	int n = 0;
	ostr("0x");
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		ochr(tmp[--n]);
}

static void oudec(unsigned long v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		ochr(tmp[--n]);
}

static void odec(long v)
{
	if (v < 0) {
		ochr('-');
		oudec(-(unsigned long)v);
	} else {
		oudec((unsigned long)v);
	}
}

static void onl(void)
{
	ochr('\n');
	flush();
}

static void okhex(const char *k, unsigned long v)
{
	ochr(' ');
	ostr(k);
	ochr('=');
	ohex(v);
}

static void okdec(const char *k, long v)
{
	ochr(' ');
	ostr(k);
	ochr('=');
	odec(v);
}

static void okstr(const char *k, const char *s)
{
	ochr(' ');
	ostr(k);
	ochr('=');
	ostr(s);
}

static const char *errname(long e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ETXTBSY: return "ETXTBSY";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case EOVERFLOW: return "EOVERFLOW";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return 0;
	}
}

static void oerr(long r)
{
	const char *n = errname(-r);
	ochr('-');
	if (n)
		ostr(n);
	else
		odec(-r);
}

/* " -> 0x..." for addresses, " -> N" for counts and fds, " -> -ENAME" */
static void res_addr(long r)
{
	ostr(" -> ");
	if (is_err(r))
		oerr(r);
	else
		ohex((unsigned long)r);
	onl();
}

static void res_int(long r)
{
	ostr(" -> ");
	if (is_err(r))
		oerr(r);
	else
		odec(r);
	onl();
}

static unsigned long seq;

static void call(const char *name)
{
	oudec(seq++);
	ochr(' ');
	ostr(name);
}

static void section(const char *name)
{
	ostr("section ");
	ostr(name);
	onl();
}

static void note(const char *text)
{
	ostr("note ");
	ostr(text);
	onl();
}

/* ------------------------------------------------------------------- /proc */

static char mbuf[4 << 20];

static long read_file(const char *path, char *buf, long cap)
{
	long fd = syscall(SYS_open, path, O_RDONLY | O_CLOEXEC);
	long total = 0, r;
	if (fd < 0)
		return -1;
	while (total < cap && (r = syscall(SYS_read, fd, buf + total, cap - total)) > 0)
		total += r;
	syscall(SYS_close, fd);
	return total;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static unsigned long parse_hex(const char **pp)
{
	const char *p = *pp;
	unsigned long v = 0;
	while (is_hex(*p)) {
		v = v * 16 + (unsigned long)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
		p++;
	}
	*pp = p;
	return v;
}

static int starts_with(const char *p, const char *prefix)
{
	while (*prefix)
		if (*p++ != *prefix++)
			return 0;
	return 1;
}

/*
 * A snapshot of the VMAs from /proc/self/smaps: each VMA's header line
 * (identical to its /proc/self/maps line) followed by its "VmFlags:" line.
 * If hi != 0, only the VMAs that intersect [lo, hi) are printed.  `at` is
 * the number of calls made so far: the snapshot is the state after call
 * number at-1.
 */
static void snap(const char *tag, unsigned long lo, unsigned long hi)
{
	long n = read_file("/proc/self/smaps", mbuf, sizeof(mbuf));
	long i = 0;
	int keep = 0;
	ostr("maps-begin ");
	ostr(tag);
	okdec("at", (long)seq);
	if (hi) {
		okhex("lo", lo);
		okhex("hi", hi);
	}
	onl();
	while (i < n) {
		long j = i;
		while (j < n && mbuf[j] != '\n')
			j++;
		if (is_hex(mbuf[i])) {
			const char *p = mbuf + i;
			unsigned long s = parse_hex(&p), e;
			p++;
			e = parse_hex(&p);
			keep = !hi || (s < hi && e > lo);
		}
		if (keep && (is_hex(mbuf[i]) || starts_with(mbuf + i, "VmFlags:"))) {
			long k;
			for (k = i; k < j; k++)
				ochr(mbuf[k]);
			onl();
		}
		i = j + 1;
	}
	ostr("maps-end ");
	ostr(tag);
	onl();
}

static void snap_full(const char *tag) { snap(tag, 0, 0); }

/* a window of `pad` bytes on either side of [a, a + len) */
static void snap_around(const char *tag, unsigned long a, unsigned long len, unsigned long pad)
{
	snap(tag, a > pad ? a - pad : 0, a + len + pad);
}

/* Print "WHAT KEY N" (N in kB) from a /proc file of "Key: N kB" lines;
 * return N * 1024. */
static unsigned long out_kb(const char *file, const char *what, const char *key)
{
	long n = read_file(file, mbuf, sizeof(mbuf));
	long i = 0;
	unsigned long v = 0;
	while (i < n) {
		long j = i;
		while (j < n && mbuf[j] != '\n')
			j++;
		if (starts_with(mbuf + i, key) && mbuf[i + (long)__builtin_strlen(key)] == ':') {
			long k = i + (long)__builtin_strlen(key) + 1;
			ostr(what);
			ochr(' ');
			ostr(key);
			ochr(' ');
			while (k < j && (mbuf[k] == ' ' || mbuf[k] == '\t'))
				k++;
			while (k < j && mbuf[k] >= '0' && mbuf[k] <= '9') {
				v = v * 10 + (unsigned long)(mbuf[k] - '0');
				ochr(mbuf[k++]);
			}
			onl();
		}
		i = j + 1;
	}
	return v * 1024;
}

static unsigned long out_status(const char *key)
{
	return out_kb("/proc/self/status", "status", key);
}

/* "sysctl NAME VALUE" from /proc/sys/NAME (NAME with '/' written as '.') */
static void out_sysctl(const char *path)
{
	long n = read_file(path, mbuf, 64), i;
	ostr("sysctl ");
	for (i = (long)__builtin_strlen("/proc/sys/"); path[i]; i++)
		ochr(path[i] == '/' ? '.' : path[i]);
	ochr(' ');
	for (i = 0; i < n && mbuf[i] != '\n'; i++)
		ochr(mbuf[i]);
	onl();
}

static void out_stat(void)
{
	long n = read_file("/proc/self/stat", mbuf, sizeof(mbuf) - 1);
	long i;
	ostr("stat ");
	for (i = 0; i < n && mbuf[i] != '\n'; i++)
		ochr(mbuf[i]);
	onl();
}

/* Field `field` (1-based, as in proc(5)) of /proc/self/stat. */
static unsigned long stat_field(int field)
{
	long n = read_file("/proc/self/stat", mbuf, sizeof(mbuf) - 1);
	long i = n;
	int f = 2;
	unsigned long v = 0;
	while (i > 0 && mbuf[i - 1] != ')') /* comm may contain spaces */
		i--;
	while (i < n && f < field) {
		if (mbuf[i] == ' ')
			f++;
		i++;
	}
	while (i < n && mbuf[i] >= '0' && mbuf[i] <= '9')
		v = v * 10 + (unsigned long)(mbuf[i++] - '0');
	return v;
}

/* Number of VMAs: lines of /proc/self/maps below TASK_SIZE ([vsyscall] is a
 * gate area, not a VMA).  Streams, so it works with 65530 VMAs. */
static long count_vmas(void)
{
	long fd = syscall(SYS_open, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
	long r, count = 0, i;
	int bol = 1, high = 0;
	if (fd < 0)
		return -1;
	while ((r = syscall(SYS_read, fd, mbuf, sizeof(mbuf))) > 0) {
		for (i = 0; i < r; i++) {
			if (bol)
				high = mbuf[i] == 'f'; /* ffffffffff600000 */
			bol = mbuf[i] == '\n';
			if (bol && !high)
				count++;
		}
	}
	syscall(SYS_close, fd);
	return count;
}

/* ---------------------------------------------------------------- syscalls */

static long sc(long nr, long a, long b, long c, long d, long e, long f)
{
	long r = syscall(nr, a, b, c, d, e, f);
	return r == -1 ? -errno : r;
}

static long xmmap(unsigned long addr, unsigned long len, long prot, long flags,
		  long fd, unsigned long off)
{
	long r = sc(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
	call("mmap");
	okhex("addr", addr);
	okhex("len", len);
	okhex("prot", (unsigned long)prot);
	okhex("flags", (unsigned long)flags);
	okdec("fd", fd);
	okhex("off", off);
	res_addr(r);
	return r;
}

static long xmunmap(unsigned long addr, unsigned long len)
{
	long r = sc(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0);
	call("munmap");
	okhex("addr", addr);
	okhex("len", len);
	res_int(r);
	return r;
}

static long xmprotect(unsigned long addr, unsigned long len, long prot)
{
	long r = sc(SYS_mprotect, (long)addr, (long)len, prot, 0, 0, 0);
	call("mprotect");
	okhex("addr", addr);
	okhex("len", len);
	okhex("prot", (unsigned long)prot);
	res_int(r);
	return r;
}

static long xmremap(unsigned long old, unsigned long old_len, unsigned long new_len,
		    long flags, unsigned long new_addr)
{
	long r = sc(SYS_mremap, (long)old, (long)old_len, (long)new_len, flags,
		    (long)new_addr, 0);
	call("mremap");
	okhex("addr", old);
	okhex("old_len", old_len);
	okhex("new_len", new_len);
	okhex("flags", (unsigned long)flags);
	okhex("new_addr", new_addr);
	res_addr(r);
	return r;
}

static long xbrk(unsigned long addr)
{
	long r = sc(SYS_brk, (long)addr, 0, 0, 0, 0, 0);
	call("brk");
	okhex("addr", addr);
	res_addr(r);
	return r;
}

static long xmadvise(unsigned long addr, unsigned long len, long advice)
{
	long r = sc(SYS_madvise, (long)addr, (long)len, advice, 0, 0, 0);
	call("madvise");
	okhex("addr", addr);
	okhex("len", len);
	okdec("advice", advice);
	res_int(r);
	return r;
}

static long xmlock(unsigned long addr, unsigned long len)
{
	long r = sc(SYS_mlock, (long)addr, (long)len, 0, 0, 0, 0);
	call("mlock");
	okhex("addr", addr);
	okhex("len", len);
	res_int(r);
	return r;
}

static long xmunlock(unsigned long addr, unsigned long len)
{
	long r = sc(SYS_munlock, (long)addr, (long)len, 0, 0, 0, 0);
	call("munlock");
	okhex("addr", addr);
	okhex("len", len);
	res_int(r);
	return r;
}

static const char *rlimit_name(int res)
{
	switch (res) {
	case RLIMIT_AS: return "RLIMIT_AS";
	case RLIMIT_DATA: return "RLIMIT_DATA";
	case RLIMIT_STACK: return "RLIMIT_STACK";
	case RLIMIT_MEMLOCK: return "RLIMIT_MEMLOCK";
	default: return "?";
	}
}

static long xsetrlimit(int res, unsigned long cur, unsigned long max)
{
	struct rlimit rl;
	long r;
	rl.rlim_cur = cur;
	rl.rlim_max = max;
	r = sc(SYS_setrlimit, res, (long)&rl, 0, 0, 0, 0);
	call("setrlimit");
	okstr("resource", rlimit_name(res));
	okhex("cur", cur);
	okhex("max", max);
	res_int(r);
	return r;
}

/* ------------------------------------------------------------------- files */

/* Word at byte offset o (a multiple of 8) of a file filled with tag t. */
static unsigned long pattern(unsigned long tag, unsigned long o) { return tag << 56 | o; }

static unsigned long fillbuf[8192];

static long xopen(const char *path, long flags)
{
	long r = sc(SYS_open, (long)path, flags | O_CLOEXEC, 0644, 0, 0, 0);
	call("open");
	okstr("path", path);
	okhex("flags", (unsigned long)flags);
	res_int(r);
	return r;
}

static long xmemfd(const char *name, long flags)
{
	long r = sc(SYS_memfd_create, (long)name, flags | MFD_CLOEXEC, 0, 0, 0, 0);
	call("memfd_create");
	okstr("name", name);
	okhex("flags", (unsigned long)flags);
	res_int(r);
	return r;
}

/* ftruncate(fd, len), then write the pattern of `tag` over [0, len). */
static long xfill(long fd, unsigned long len, unsigned long tag)
{
	unsigned long off = 0;
	long r = sc(SYS_ftruncate, fd, (long)len, 0, 0, 0, 0);
	while (r >= 0 && off < len) {
		unsigned long n = len - off, i;
		if (n > sizeof(fillbuf))
			n = sizeof(fillbuf);
		for (i = 0; i < sizeof(fillbuf) / 8; i++)
			fillbuf[i] = pattern(tag, off + 8 * i);
		r = sc(SYS_pwrite64, fd, (long)fillbuf, (long)n, (long)off, 0, 0);
		if (r > 0)
			off += (unsigned long)r;
	}
	call("fill");
	okdec("fd", fd);
	okhex("len", len);
	okhex("tag", tag);
	res_int(r < 0 ? r : 0);
	return r < 0 ? r : 0;
}

static long xpread(long fd, unsigned long off)
{
	unsigned long v = 0;
	long r = sc(SYS_pread64, fd, (long)&v, 8, (long)off, 0, 0);
	call("pread");
	okdec("fd", fd);
	okhex("off", off);
	if (r == 8)
		res_addr((long)v);
	else
		res_int(r);
	return r;
}

static long xseal(long fd, long seals)
{
	long r = sc(SYS_fcntl, fd, F_ADD_SEALS, seals, 0, 0, 0);
	call("add_seals");
	okdec("fd", fd);
	okhex("seals", (unsigned long)seals);
	res_int(r);
	return r;
}

#define DIR "/tmp/linux-syscall-trace"
#define F8 DIR "/f8m"
#define F3 DIR "/f3m"
#define F1 DIR "/f1m"
#define SHM8 "/dev/shm/linux-syscall-trace-f8m"

/* file sizes and pattern tags */
#define F8_SIZE (8 * MiB)
#define F3_SIZE (3 * MiB + 0x5123)
#define F1_SIZE (1 * MiB)

static long fd_f8, fd_f8ro, fd_f8wo, fd_f3, fd_f1, fd_shm8, fd_memfd8;

static void out_fs(const char *path)
{
	struct statfs s;
	const char *t = "other";
	if (syscall(SYS_statfs, path, &s) != 0)
		return;
	switch ((unsigned long)s.f_type) {
	case 0xef53: t = "ext4"; break;
	case 0x01021994: t = "tmpfs"; break;
	case 0x58465342: t = "xfs"; break;
	case 0x9123683e: t = "btrfs"; break;
	}
	ostr("fs");
	okstr("path", path);
	okstr("type", t);
	okhex("magic", (unsigned long)s.f_type);
	onl();
}

static void files_setup(void)
{
	section("files");
	note("file word at byte offset o (a multiple of 8) is tag<<56|o; bytes past len read as 0");
	syscall(SYS_mkdir, DIR, 0755);
	out_fs(DIR);
	out_fs("/dev/shm");
	fd_f8 = xopen(F8, O_RDWR | O_CREAT | O_TRUNC);
	xfill(fd_f8, F8_SIZE, 1);
	fd_f3 = xopen(F3, O_RDWR | O_CREAT | O_TRUNC);
	xfill(fd_f3, F3_SIZE, 2);
	fd_f1 = xopen(F1, O_RDWR | O_CREAT | O_TRUNC);
	xfill(fd_f1, F1_SIZE, 3);
	fd_shm8 = xopen(SHM8, O_RDWR | O_CREAT | O_TRUNC);
	xfill(fd_shm8, F8_SIZE, 4);
	fd_memfd8 = xmemfd("lst-memfd8", 0);
	xfill(fd_memfd8, F8_SIZE, 5);
	fd_f8ro = xopen(F8, O_RDONLY);
	fd_f8wo = xopen(F8, O_WRONLY);
}

static void files_cleanup(void)
{
	syscall(SYS_unlink, F8);
	syscall(SYS_unlink, F3);
	syscall(SYS_unlink, F1);
	syscall(SYS_unlink, SHM8);
	syscall(SYS_rmdir, DIR);
}

/* ------------------------------------------------------ memory peek / poke */

static sigjmp_buf probe_jb;
static volatile sig_atomic_t probing;

static void on_fault(int sig)
{
	if (!probing) {
		signal(sig, SIG_DFL);
		return; /* the fault repeats and kills us */
	}
	probing = 0;
	siglongjmp(probe_jb, sig);
}

static void probes_setup(void)
{
	struct sigaction sa;
	__builtin_memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigaction(SIGSEGV, &sa, 0);
	sigaction(SIGBUS, &sa, 0);
}

static int try_read(unsigned long a, unsigned long *v)
{
	int s = sigsetjmp(probe_jb, 1);
	if (s)
		return s;
	probing = 1;
	*v = *(volatile unsigned long *)a;
	probing = 0;
	return 0;
}

static int try_write(unsigned long a, unsigned long v)
{
	int s = sigsetjmp(probe_jb, 1);
	if (s)
		return s;
	probing = 1;
	*(volatile unsigned long *)a = v;
	probing = 0;
	return 0;
}

static void sigres(int s)
{
	ostr(" -> ");
	ostr(s == SIGSEGV ? "SIGSEGV" : s == SIGBUS ? "SIGBUS" : "SIG?");
	onl();
}

/* Read the 8-byte word at a: "-> 0x<value>", or the signal it raised. */
static unsigned long peek(unsigned long a)
{
	unsigned long v = 0;
	int s = try_read(a, &v);
	call("peek");
	okhex("addr", a);
	if (s)
		sigres(s);
	else
		res_addr((long)v);
	return v;
}

/* Write the 8-byte word v at a: "-> 0", or the signal it raised. */
static void poke(unsigned long a, unsigned long v)
{
	int s = try_write(a, v);
	call("poke");
	okhex("addr", a);
	okhex("val", v);
	if (s)
		sigres(s);
	else
		res_int(0);
}

/* ------------------------------------------------------------ child blocks */

static long child_pipe = -1;

/* Tell the parent how far our sequence numbers went, then exit. */
static void child_exit(int code)
{
	if (child_pipe >= 0)
		syscall(SYS_write, child_pipe, &seq, sizeof(seq));
	syscall(SYS_exit_group, code);
}

/*
 * Run fn in a forked child.  Its records appear between "child-begin" and
 * "child-end"; its address space starts as a copy of ours at this point.
 * Sequence numbers stay unique: the child reports its last one through a
 * pipe and we continue after it.
 */
static void run_child(const char *label, void (*fn)(void))
{
	int pfd[2];
	long pid;
	int status = 0;
	unsigned long child_seq;
	if (syscall(SYS_pipe2, pfd, O_CLOEXEC) != 0)
		syscall(SYS_exit_group, 5);
	ostr("child-begin ");
	ostr(label);
	onl();
	pid = syscall(SYS_fork);
	if (pid == 0) {
		syscall(SYS_close, pfd[0]);
		child_pipe = pfd[1];
		fn();
		child_exit(0);
	}
	syscall(SYS_close, pfd[1]);
	syscall(SYS_wait4, pid, &status, 0, 0);
	if (syscall(SYS_read, pfd[0], &child_seq, sizeof(child_seq)) == sizeof(child_seq))
		seq = child_seq;
	syscall(SYS_close, pfd[0]);
	ostr("child-end ");
	ostr(label);
	okhex("status", (unsigned long)status);
	onl();
}

/* ----------------------------------------------------------------- helpers */

/* munmap the result of a successful mmap/mremap; nothing if it failed */
static void unmap_ok(long r, unsigned long len)
{
	if (!is_err(r))
		xmunmap((unsigned long)r, len);
}

static long fixed_anon(unsigned long addr, unsigned long len, long prot)
{
	return xmmap(addr, len, prot, PA | NOREPL, -1, 0);
}

static void header(const char *program)
{
	struct rlimit rl;
	struct utsname u;
	ostr("# linux-syscall-trace v1\nprogram ");
	ostr(program);
	onl();
	syscall(SYS_uname, &u);
	ostr("uname ");
	ostr(u.release);
	ochr(' ');
	ostr(u.machine);
	onl();
	syscall(SYS_getrlimit, RLIMIT_STACK, &rl);
	ostr("rlimit-stack ");
	ohex(rl.rlim_cur);
	onl();
	ostr("personality ");
	ohex((unsigned long)syscall(SYS_personality, 0xffffffffUL));
	onl();
	out_stat();
	out_kb("/proc/meminfo", "meminfo", "MemTotal");
	out_kb("/proc/meminfo", "meminfo", "SwapTotal");
	out_sysctl("/proc/sys/vm/overcommit_memory");
	out_sysctl("/proc/sys/vm/max_map_count");
	out_sysctl("/proc/sys/vm/mmap_min_addr");
	snap_full("initial");
}

/* ====================================================================== file */

static void grid(const char *label, long fd)
{
	static const unsigned long offs[] = {0, 1, 256, 512, 513, 768};
	static const unsigned long lens[] = {1, 256, 511, 512, 513, 1024, 1283};
	unsigned long i, j;
	ostr("section file-grid-");
	ostr(label);
	onl();
	note("no hint, MAP_PRIVATE, PROT_READ, every offset x length (pages), each unmapped again");
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			long r = xmmap(0, P(lens[j]), RO, MAP_PRIVATE, fd, P(offs[i]));
			if (is_err(r))
				continue;
			if (offs[i] == 513 && lens[j] == 1024)
				snap("grid", (unsigned long)r, (unsigned long)r + P(lens[j]));
			unmap_ok(r, P(lens[j]));
		}
	}
}

static void prog_file(void)
{
	static const unsigned long alens[] = {1, 256, 511, 512, 513, 1024, 1283};
	unsigned long B = ARENA(1), i;
	long r, blk;
	files_setup();

	grid("ext4", fd_f8);
	grid("tmpfs", fd_shm8);
	grid("memfd", fd_memfd8);

	section("file-small");
	note("a file smaller than 2 MiB mapped past its end; a 3 MiB file whole; one page");
	r = xmmap(0, 4 * MiB, RO, MAP_PRIVATE, fd_f1, 0);
	unmap_ok(r, 4 * MiB);
	r = xmmap(0, F3_SIZE, RO, MAP_PRIVATE, fd_f3, 0);
	unmap_ok(r, F3_SIZE);
	r = xmmap(0, 1 * MiB, RO, MAP_PRIVATE, fd_f1, 0);
	unmap_ok(r, 1 * MiB);

	section("anon-grid");
	note("the same lengths, private anonymous and shared anonymous, no hint");
	for (i = 0; i < sizeof(alens) / sizeof(alens[0]); i++) {
		r = xmmap(0, P(alens[i]), RW, PA, -1, 0);
		unmap_ok(r, P(alens[i]));
	}
	for (i = 0; i < sizeof(alens) / sizeof(alens[0]); i++) {
		r = xmmap(0, P(alens[i]), RW, SA, -1, 0);
		if (alens[i] == 1024)
			snap("shared-anon", (unsigned long)r, (unsigned long)r + P(alens[i]));
		unmap_ok(r, P(alens[i]));
	}
	note("shared anonymous with a nonzero offset: the offset is ignored (pgoff 0)");
	r = xmmap(0, P(4), RW, SA, -1, PMD);
	snap("shared-anon-off", (unsigned long)r, (unsigned long)r + P(4));
	unmap_ok(r, P(4));
	note("/dev/zero: private is anonymous, shared is shmem");
	{
		long z = xopen("/dev/zero", O_RDWR);
		unsigned long a, b;
		r = xmmap(0, P(4), RW, MAP_PRIVATE, z, 0);
		a = (unsigned long)r;
		r = xmmap(0, P(4), RW, MAP_SHARED, z, 0);
		b = (unsigned long)r;
		snap("dev-zero", b, a + P(4));
		xmunmap(a, P(4));
		xmunmap(b, P(4));
		syscall(SYS_close, z);
	}

	section("file-modes");
	note("one 4 MiB file mapping (offset 0, no hint) per mode: prot, flags, fd access mode");
	{
		static const struct { long prot, flags; int which; } modes[] = {
			{RO, MAP_PRIVATE, 0}, {RW, MAP_PRIVATE, 0}, {RO, MAP_SHARED, 0},
			{RW, MAP_SHARED, 0}, {RO | PROT_EXEC, MAP_PRIVATE, 0},
			{RO, MAP_SHARED, 1}, {RW, MAP_PRIVATE, 1}, {PROT_NONE, MAP_SHARED, 1},
			{RW, MAP_PRIVATE | MAP_NORESERVE, 0}, {RW, MAP_SHARED | MAP_NORESERVE, 0},
			{RO, MAP_SHARED_VALIDATE, 0},
		};
		for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
			long fd = modes[i].which ? fd_f8ro : fd_f8;
			r = xmmap(0, 4 * MiB, modes[i].prot, modes[i].flags, fd, 0);
			if (is_err(r))
				continue;
			snap("mode", (unsigned long)r, (unsigned long)r + 4 * MiB);
			unmap_ok(r, 4 * MiB);
		}
	}

	section("file-hint");
	note("hints in an arena; a 1-page blocker at B+8M; the THP padding (len+2M) is tried at the hint first");
	blk = fixed_anon(B + 8 * MiB, P(1), RO);
	note("4 MiB at B+4M: fits, but len+2M does not");
	r = xmmap(B + 4 * MiB, 4 * MiB, RO, MAP_PRIVATE, fd_f8, 0);
	unmap_ok(r, 4 * MiB);
	note("the same request anonymous: the hint is taken");
	r = xmmap(B + 4 * MiB, 4 * MiB, RO, PA, -1, 0);
	unmap_ok(r, 4 * MiB);
	note("2 MiB at B+6M, 1 MiB at B+7M, 1 MiB + 1 page at B+7M-1p");
	r = xmmap(B + 6 * MiB, 2 * MiB, RO, MAP_PRIVATE, fd_f8, 0);
	unmap_ok(r, 2 * MiB);
	r = xmmap(B + 7 * MiB, 1 * MiB, RO, MAP_PRIVATE, fd_f8, 0);
	unmap_ok(r, 1 * MiB);
	r = xmmap(B + 7 * MiB - PAGE, 1 * MiB + PAGE, RO, MAP_PRIVATE, fd_f8, 0);
	unmap_ok(r, 1 * MiB + PAGE);
	note("hints with room for len+2M: taken as is, even when not aligned to the offset");
	r = xmmap(B + 16 * MiB + PAGE, 4 * MiB, RO, MAP_PRIVATE, fd_f8, 0);
	unmap_ok(r, 4 * MiB);
	r = xmmap(B + 16 * MiB, 4 * MiB, RO, MAP_PRIVATE, fd_f8, P(1));
	unmap_ok(r, 4 * MiB);
	r = xmmap(B + 16 * MiB + PAGE, 4 * MiB, RO, MAP_SHARED, fd_shm8, 0);
	unmap_ok(r, 4 * MiB);
	note("a hint overlapping the blocker: refused");
	r = xmmap(B + 5 * MiB, 4 * MiB, RO, MAP_PRIVATE, fd_f8, 0);
	unmap_ok(r, 4 * MiB);
	note("MAP_FIXED and MAP_FIXED_NOREPLACE: no alignment");
	r = xmmap(B + 32 * MiB + PAGE, 4 * MiB, RO, MAP_PRIVATE | NOREPL, fd_f8, 0);
	r = xmmap(B + 32 * MiB + PAGE, 4 * MiB, RO, MAP_PRIVATE | MAP_FIXED, fd_f8, P(3));
	snap("fixed", B, B + 64 * MiB);
	unmap_ok(r, 4 * MiB);
	xmunmap((unsigned long)blk, P(1));

	section("file-eof");
	note("f3m is 3 MiB + 0x5123 bytes: the last page is partly past EOF, the next pages wholly");
	r = xmmap(B + 64 * MiB, 4 * MiB, RO, MAP_PRIVATE | NOREPL, fd_f3, 0);
	peek((unsigned long)r);
	peek((unsigned long)r + 0x305118);
	peek((unsigned long)r + 0x305120);
	peek((unsigned long)r + 0x305ff8);
	peek((unsigned long)r + 0x306000);
	peek((unsigned long)r + 0x3ff000);
	unmap_ok(r, 4 * MiB);
	r = xmmap(B + 64 * MiB, 4 * MiB, RW, MAP_SHARED | NOREPL, fd_f3, P(768));
	peek((unsigned long)r + P(5));
	peek((unsigned long)r + P(6));
	unmap_ok(r, 4 * MiB);

	section("shared-anon-merge");
	note("adjacent MAP_SHARED|MAP_ANONYMOUS mappings: two objects, never merged");
	xmmap(B + 128 * MiB, P(4), RW, SA | NOREPL, -1, 0);
	xmmap(B + 128 * MiB + P(4), P(4), RW, SA | NOREPL, -1, 0);
	snap("two-shared", B + 128 * MiB, B + 128 * MiB + P(8));
	note("one shared anonymous mapping split by mprotect, then restored: merges back");
	xmprotect(B + 128 * MiB + P(1), P(2), RO);
	snap("split", B + 128 * MiB, B + 128 * MiB + P(8));
	xmprotect(B + 128 * MiB + P(1), P(2), RW);
	snap("restored", B + 128 * MiB, B + 128 * MiB + P(8));
	xmunmap(B + 128 * MiB, P(8));

	snap_full("final");
	files_cleanup();
}

/* ==================================================================== mremap */

static void prog_mremap(void)
{
	unsigned long R = ARENA(2), a, b, x;
	long r;
	files_setup();

	section("mremap-inplace");
	note("16 pages, written; shrink, shrink with MAYMOVE, grow in place");
	fixed_anon(R, P(16), RW);
	poke(R, 0xa0);
	poke(R + P(7), 0xa7);
	xmremap(R, P(16), P(8), 0, 0);
	snap("shrunk", R, R + P(32));
	xmremap(R, P(8), P(4), MAYMOVE, 0);
	xmremap(R, P(4), P(12), 0, 0);
	peek(R);
	peek(R + P(7));
	snap("grown", R, R + P(32));
	note("lengths round up: old_len 4p+1 is 5 pages");
	xmremap(R, P(12), P(10) + 1, 0, 0);
	xmremap(R, P(10) + 1, P(12), 0, 0);
	note("a PROT_READ blocker at R+16p: grow up to it, then one page more");
	fixed_anon(R + P(16), P(1), RO);
	xmremap(R, P(12), P(16), 0, 0);
	xmremap(R, P(16), P(17), 0, 0);
	snap("blocked", R, R + P(32));
	note("the same with MREMAP_MAYMOVE: moves (placed like an mmap without hint)");
	r = xmremap(R, P(16), P(17), MAYMOVE, 0);
	x = (unsigned long)r;
	peek(x);
	peek(x + P(7));
	peek(R);
	snap_around("moved", x, P(17), 4 * MiB);
	snap("old-place", R, R + P(32));
	xmunmap(x, P(17));
	xmunmap(R + P(16), P(1));

	section("mremap-move-thp");
	note("1 MiB anonymous, blocked, grown to 4 MiB (a 2 MiB multiple) with MAYMOVE");
	a = R + GiB;
	fixed_anon(a, MiB, RW);
	poke(a, 0xb0);
	fixed_anon(a + MiB, P(1), RO);
	r = xmremap(a, MiB, 4 * MiB, MAYMOVE, 0);
	x = (unsigned long)r;
	peek(x);
	note("grow the moved mapping by one page: in place if the page above is free, else moved again");
	r = xmremap(x, 4 * MiB, 4 * MiB + PAGE, MAYMOVE, 0);
	x = (unsigned long)r;
	note("grow by 2 MiB");
	r = xmremap(x, 4 * MiB + PAGE, 6 * MiB + PAGE, MAYMOVE, 0);
	x = (unsigned long)r;
	snap_around("moved-twice", x, 6 * MiB + PAGE, 4 * MiB);
	xmunmap(x, 6 * MiB + PAGE);
	note("file-backed (private, f8m at offset 1 page, then 2 MiB), 1 MiB blocked, grown to 4 MiB with MAYMOVE");
	r = xmmap(a, MiB, RO, MAP_PRIVATE | NOREPL, fd_f8, P(1));
	r = xmremap(a, MiB, 4 * MiB, MAYMOVE, 0);
	x = (unsigned long)r;
	peek(x);
	snap_around("moved-file", x, 4 * MiB, 0);
	xmunmap(x, 4 * MiB);
	r = xmmap(a, MiB, RO, MAP_PRIVATE | NOREPL, fd_f8, PMD);
	r = xmremap(a, MiB, 4 * MiB, MAYMOVE, 0);
	x = (unsigned long)r;
	peek(x);
	xmunmap(x, 4 * MiB);
	note("shared anonymous, 1 MiB blocked, grown to 4 MiB with MAYMOVE");
	r = xmmap(a, MiB, RW, SA | NOREPL, -1, 0);
	poke(a, 0xb1);
	r = xmremap(a, MiB, 4 * MiB, MAYMOVE, 0);
	x = (unsigned long)r;
	peek(x);
	xmunmap(x, 4 * MiB);
	xmunmap(a + MiB, P(1));

	section("mremap-partial");
	note("old range a prefix / middle of an 8-page VMA");
	b = R + 2 * GiB;
	fixed_anon(b, P(8), RW);
	poke(b, 0xc0);
	poke(b + P(2), 0xc2);
	note("grow a prefix: not in place (the old range does not end at the VMA's end)");
	xmremap(b, P(4), P(6), 0, 0);
	r = xmremap(b, P(4), P(6), MAYMOVE, 0);
	x = (unsigned long)r;
	peek(x);
	snap("prefix-moved", b, b + P(16));
	xmunmap(x, P(6));
	note("shrink a middle part: the tail of the part is unmapped");
	xmremap(b + P(5), P(3), P(1), 0, 0);
	snap("middle-shrunk", b, b + P(16));
	xmunmap(b, P(16));

	section("mremap-fixed");
	a = R + 3 * GiB;
	fixed_anon(a, P(8), RW);
	poke(a, 0xd0);
	note("to a free place");
	xmremap(a, P(8), P(8), MAYMOVE | FIXED, a + P(64));
	peek(a + P(64));
	note("onto part of an existing mapping: it is replaced");
	fixed_anon(a + P(128), P(16), RO);
	xmremap(a + P(64), P(8), P(8), MAYMOVE | FIXED, a + P(132));
	snap("onto", a + P(128), a + P(144));
	note("grow while moving; shrink while moving");
	xmremap(a + P(132), P(8), P(12), MAYMOVE | FIXED, a + P(256));
	xmremap(a + P(256), P(12), P(4), MAYMOVE | FIXED, a + P(320));
	peek(a + P(320));
	snap("fixed-moves", a, a + P(400));
	note("invalid: overlap of old and new, misaligned new, FIXED without MAYMOVE, new range past TASK_SIZE, same address");
	xmremap(a + P(320), P(4), P(4), MAYMOVE | FIXED, a + P(322));
	xmremap(a + P(320), P(4), P(4), MAYMOVE | FIXED, a + P(322) - P(4));
	xmremap(a + P(320), P(4), P(4), MAYMOVE | FIXED, a + P(400) + 1);
	xmremap(a + P(320), P(4), P(4), FIXED, a + P(400));
	xmremap(a + P(320), P(4), P(4), MAYMOVE | FIXED, TASK_SIZE - P(2));
	xmremap(a + P(320), P(4), P(4), MAYMOVE | FIXED, a + P(320));
	note("old and new ranges adjacent (not overlapping)");
	xmremap(a + P(320), P(4), P(4), MAYMOVE | FIXED, a + P(324));
	xmunmap(a, P(400));

	section("mremap-dontunmap");
	a = R + 4 * GiB;
	fixed_anon(a, P(4), RW);
	poke(a, 0xe0);
	r = xmremap(a, P(4), P(4), MAYMOVE | DONTUNMAP, 0);
	x = (unsigned long)r;
	peek(x);
	peek(a);
	snap_around("dontunmap-new", x, P(4), 0);
	snap("dontunmap-old", a, a + P(4));
	xmunmap(x, P(4));
	note("with FIXED");
	poke(a, 0xe1);
	xmremap(a, P(4), P(4), MAYMOVE | DONTUNMAP | FIXED, a + P(64));
	peek(a + P(64));
	peek(a);
	note("invalid: lengths differ, no MAYMOVE");
	xmremap(a, P(4), P(8), MAYMOVE | DONTUNMAP, 0);
	xmremap(a, P(4), P(2), MAYMOVE | DONTUNMAP, 0);
	xmremap(a, P(4), P(4), DONTUNMAP, 0);
	note("on shared anonymous, and on a private file mapping");
	xmmap(a + P(128), P(4), RW, SA | NOREPL, -1, 0);
	poke(a + P(128), 0xe2);
	r = xmremap(a + P(128), P(4), P(4), MAYMOVE | DONTUNMAP | FIXED, a + P(192));
	peek(a + P(128));
	peek(a + P(192));
	xmmap(a + P(256), P(4), RW, MAP_PRIVATE | NOREPL, fd_f8, 0);
	poke(a + P(256), 0xe3);
	xmremap(a + P(256), P(4), P(4), MAYMOVE | DONTUNMAP | FIXED, a + P(320));
	peek(a + P(256));
	peek(a + P(320));
	snap("dontunmap-kinds", a, a + P(400));
	xmunmap(a, P(400));

	section("mremap-invalid");
	a = R + 5 * GiB;
	fixed_anon(a, P(4), RW);
	fixed_anon(a + P(4), P(4), RO);
	note("unknown flag, misaligned address, new_len 0, new_len that rounds to 0, old_len 0 on private");
	xmremap(a, P(4), P(4), 8, 0);
	xmremap(a + 1, P(4), P(4), 0, 0);
	xmremap(a, P(4), 0, 0, 0);
	xmremap(a, P(4), (unsigned long)-1, MAYMOVE, 0);
	xmremap(a, 0, P(4), MAYMOVE, 0);
	note("not mapped; spanning two VMAs; past the VMA's end; growing past TASK_SIZE");
	xmremap(a + P(64), P(4), P(8), MAYMOVE, 0);
	xmremap(a, P(8), P(12), MAYMOVE, 0);
	xmremap(a + P(4), P(8), P(12), MAYMOVE, 0);
	xmremap(a, P(4), 1UL << 47, MAYMOVE, 0);
	xmremap(a, P(4), 1UL << 46, MAYMOVE, 0);
	note("shrinking across two VMAs");
	xmremap(a, P(8), P(2), 0, 0);
	snap("invalid-state", a, a + P(16));
	note("equal lengths, and shrinking, over unmapped ranges");
	xmremap(a + P(64), P(4), P(4), 0, 0);
	xmremap(a + P(64), P(4), P(4), MAYMOVE, 0);
	xmremap(a + P(64), P(4), P(2), 0, 0);
	xmremap(a + P(64) + 1, P(4), P(4), 0, 0);
	note("equal lengths over two VMAs");
	fixed_anon(a + P(2), P(2), RO);
	xmremap(a, P(4), P(4), 0, 0);
	xmunmap(a, P(16));

	section("mremap-shared-dup");
	note("old_len 0 on a shared mapping: a second mapping of the same pages");
	r = xmmap(0, P(4), RW, SA, -1, 0);
	a = (unsigned long)r;
	poke(a, 0xf0);
	r = xmremap(a, 0, P(4), MAYMOVE, 0);
	x = (unsigned long)r;
	peek(x);
	xmremap(a, 0, P(4), 0, 0);
	snap_around("dup", x < a ? x : a, P(8), 0);
	xmunmap(a, P(4));
	xmunmap(x, P(4));

	section("mremap-multi-vma");
	a = R + 6 * GiB;
	note("two adjacent VMAs (different prot) moved with one FIXED call");
	fixed_anon(a, P(4), RW);
	fixed_anon(a + P(4), P(4), RO);
	poke(a, 0x60);
	xmremap(a, P(8), P(8), MAYMOVE | FIXED, a + P(64));
	snap("multi", a, a + P(128));
	note("the same with a hole in the middle");
	fixed_anon(a, P(3), RW);
	fixed_anon(a + P(5), P(3), RO);
	xmremap(a, P(8), P(8), MAYMOVE | FIXED, a + P(96));
	snap("multi-hole", a, a + P(128));
	note("two VMAs, not FIXED");
	xmremap(a + P(64), P(8), P(8), MAYMOVE, 0);
	xmunmap(a, P(128));

	section("mremap-merge");
	a = R + 7 * GiB;
	note("grow in place up to a compatible (untouched, same flags) VMA");
	fixed_anon(a, P(4), RW);
	fixed_anon(a + P(8), P(4), RW);
	xmremap(a, P(4), P(8), 0, 0);
	snap("grow-merge", a, a + P(16));
	xmunmap(a, P(16));
	note("move an untouched VMA next to a compatible one (both sides)");
	fixed_anon(a, P(4), RW);
	fixed_anon(a + P(8), P(4), RW);
	fixed_anon(a + P(64), P(4), RW);
	xmremap(a + P(64), P(4), P(4), MAYMOVE | FIXED, a + P(4));
	snap("move-merge", a, a + P(128));
	xmunmap(a, P(128));
	note("move a written VMA next to a written VMA: different anon_vma");
	fixed_anon(a, P(4), RW);
	poke(a, 1);
	fixed_anon(a + P(64), P(4), RW);
	poke(a + P(64), 2);
	xmremap(a + P(64), P(4), P(4), MAYMOVE | FIXED, a + P(4));
	snap("move-nomerge", a, a + P(128));
	note("move a written VMA next to an untouched one: its pgoff still says where it was written");
	fixed_anon(a + P(12), P(4), RW);
	xmremap(a + P(4), P(4), P(4), MAYMOVE | FIXED, a + P(8));
	snap("move-merge-untouched", a, a + P(128));
	xmunmap(a, P(128));
	note("a written VMA moved away and back: pgoff contiguous again, merges with an untouched neighbour");
	fixed_anon(a, P(4), RW);
	poke(a, 3);
	fixed_anon(a + P(4), P(4), RO);
	xmremap(a, P(4), P(4), MAYMOVE | FIXED, a + P(64));
	xmprotect(a + P(4), P(4), RW);
	xmremap(a + P(64), P(4), P(4), MAYMOVE | FIXED, a);
	snap("moved-back", a, a + P(128));
	xmunmap(a, P(128));
	note("fresh mmaps right next to a moved written VMA: no merge (pgoff)");
	fixed_anon(a + P(64), P(4), RW);
	poke(a + P(64), 4);
	xmremap(a + P(64), P(4), P(4), MAYMOVE | FIXED, a + P(4));
	fixed_anon(a, P(4), RW);
	fixed_anon(a + P(8), P(4), RW);
	snap("fresh-beside-moved", a, a + P(128));
	xmunmap(a, P(128));
	note("the same moved VMA untouched: pgoff follows the move, all merge");
	fixed_anon(a + P(64), P(4), RW);
	xmremap(a + P(64), P(4), P(4), MAYMOVE | FIXED, a + P(4));
	fixed_anon(a, P(4), RW);
	fixed_anon(a + P(8), P(4), RW);
	snap("fresh-beside-moved-untouched", a, a + P(128));
	xmunmap(a, P(128));

	snap_full("final");
	files_cleanup();
}

/* ======================================================================= brk */

static void prog_brk(void)
{
	unsigned long b0, x, cur, data, vmdata;
	long r;

	section("brk-basic");
	note("brk(0) returns the initial break; growth, unaligned values, shrink");
	b0 = (unsigned long)xbrk(0);
	xbrk(b0 + 1);
	snap("one-byte", b0 - MiB, b0 + MiB);
	xbrk(b0 + P(100) + 123);
	xbrk(b0 + P(50));
	xbrk(b0 + P(50) + 5);
	xbrk(b0 + P(49) + 5);
	snap("shrunk", b0 - MiB, b0 + MiB);
	note("below the start of the heap: refused, returns the current break");
	xbrk(b0 - PAGE);
	xbrk(b0 - 1);
	xbrk(0);
	note("back to the start: the heap VMA goes away");
	xbrk(b0);
	snap("empty", b0 - MiB, b0 + MiB);
	note("1 GiB, then back to 16 pages");
	xbrk(b0 + GiB);
	xbrk(b0 + P(16));

	section("brk-blocked");
	x = b0 + P(48);
	note("a 1-page mapping X at b0+48p: brk must leave one free page below it");
	fixed_anon(x, P(1), RO);
	xbrk(x - PAGE);
	xbrk(x - PAGE + 1);
	xbrk(x);
	xbrk(x + P(10));
	xbrk(x + GiB);
	snap("blocked", b0 - MiB, x + MiB);
	xbrk(b0 + P(16));
	xmunmap(x, P(1));
	note("a MAP_GROWSDOWN blocker at b0+2M: its 1 MiB guard gap counts too");
	x = b0 + 2 * MiB;
	xmmap(x, P(1), RW, PA | MAP_GROWSDOWN | NOREPL, -1, 0);
	xbrk(x - MiB - PAGE);
	xbrk(x - MiB - PAGE + 1);
	xbrk(x - MiB);
	xbrk(x - PAGE);
	snap("blocked-gd", b0 - MiB, x + MiB);
	xbrk(b0 + P(16));
	xmunmap(x, P(1));

	section("brk-merge");
	note("an anonymous RW mapping placed right at the break: it merges into the heap VMA");
	cur = b0 + P(16);
	fixed_anon(cur, P(16), RW);
	snap("adjacent", b0 - MiB, b0 + MiB);
	xbrk(cur + P(4));
	xbrk(cur - P(8));
	snap("after", b0 - MiB, b0 + MiB);
	xmunmap(cur, P(16));
	xbrk(b0 + P(16));
	snap("restored", b0 - MiB, b0 + MiB);
	note("a mapping with a different prot right at the break");
	fixed_anon(b0 + P(16), P(4), RO);
	xbrk(b0 + P(17));
	xmunmap(b0 + P(16), P(4));
	note("the heap shrunk by munmap: brk's bookkeeping is not updated");
	xbrk(b0 + P(32));
	xmunmap(b0 + P(24), P(8));
	xbrk(b0 + P(40));
	snap("munmapped", b0 - MiB, b0 + MiB);
	xbrk(b0 + P(20));
	snap("munmapped-shrunk", b0 - MiB, b0 + MiB);
	xbrk(b0 + P(30));
	snap("munmapped-regrown", b0 - MiB, b0 + MiB);
	xbrk(b0 + P(16));

	section("brk-mprotect");
	note("mprotect of part of the heap, then growth");
	xmprotect(b0 + P(12), P(4), RO);
	xbrk(b0 + P(24));
	snap("mprotected", b0 - MiB, b0 + MiB);
	xmprotect(b0 + P(12), P(4), RW);
	snap("remerged", b0 - MiB, b0 + MiB);
	xbrk(b0 + P(16));

	section("brk-rlimit-data");
	note("RLIMIT_DATA, two checks: brk's (brk - start_brk) + (end_data - start_data) <= limit,");
	note("and may_expand_vm's VmData + new pages <= limit (brk growth and private writable mmaps)");
	data = stat_field(46) - stat_field(45); /* end_data - start_data */
	ostr("data-size ");
	ohex(data);
	onl();
	vmdata = out_status("VmData");
	xsetrlimit(RLIMIT_DATA, vmdata + P(64), RLIM_INFINITY);
	xbrk(b0 + P(80));
	xbrk(b0 + P(80) + 1);
	xbrk(b0 + P(81));
	r = xmmap(0, P(1), RW, PA, -1, 0);
	r = xmmap(0, P(1), RO, PA, -1, 0);
	unmap_ok(r, P(1));
	r = xmmap(0, P(1), RW, SA, -1, 0);
	unmap_ok(r, P(1));
	r = xmmap(0, P(1), RW, PA | MAP_NORESERVE, -1, 0);
	unmap_ok(r, P(1));
	xbrk(b0 + P(79));
	r = xmmap(0, P(1), RW, PA, -1, 0);
	unmap_ok(r, P(1));
	xbrk(b0 + P(16));
	note("a limit below the heap: even shrinking is refused until brk - start_brk + data fits");
	xsetrlimit(RLIMIT_DATA, P(1), RLIM_INFINITY);
	xbrk(b0 + P(8));
	xbrk(b0 + P(1) - data);
	xbrk(b0 + P(1) - data + 1);
	xbrk(b0);
	xbrk(b0 + P(1));
	xsetrlimit(RLIMIT_DATA, RLIM_INFINITY, RLIM_INFINITY);
	xbrk(b0 + P(16));

	section("brk-far");
	note("a break far above: blocked by the libraries / stack");
	xbrk(0x7ffff0000000UL);
	xbrk(TASK_SIZE + PAGE);
	xbrk(b0);
	xbrk(0);

	snap_full("final");
}

/* ================================================================== mprotect */

static void prog_mprotect(void)
{
	unsigned long Pa = ARENA(4), q, g, e, u;
	long ro_fd;
	files_setup();
	ro_fd = fd_f8ro;

	section("mprotect-holes");
	note("A=[P,P+4p) B=[P+6p,P+10p) C=[P+12p,P+16p), all RW, holes between");
	fixed_anon(Pa, P(4), RW);
	fixed_anon(Pa + P(6), P(4), RW);
	fixed_anon(Pa + P(12), P(4), RW);
	note("over all three: ENOMEM, A changed");
	xmprotect(Pa, P(16), RO);
	snap("all", Pa, Pa + P(16));
	note("starting in a hole: nothing changes");
	xmprotect(Pa + P(4), P(8), PROT_NONE);
	snap("hole-start", Pa, Pa + P(16));
	note("starting inside A: A's tail changes, A splits");
	xmprotect(Pa + P(2), P(6), PROT_NONE);
	snap("mid-a", Pa, Pa + P(16));
	note("from B's start over B, hole, C");
	xmprotect(Pa + P(6), P(10), PROT_NONE);
	snap("b-on", Pa, Pa + P(16));
	note("ending exactly at a VMA end: no hole, success");
	xmprotect(Pa, P(4), RW);
	xmprotect(Pa + P(12), P(4), RW);
	snap("exact", Pa, Pa + P(16));
	xmunmap(Pa, P(16));

	section("mprotect-chain");
	q = Pa + GiB;
	note("A RW, B RO (mapped RO), C RW adjacent, a 2-page hole, D RW");
	fixed_anon(q, P(4), RW);
	fixed_anon(q + P(4), P(4), RO);
	fixed_anon(q + P(8), P(4), RW);
	fixed_anon(q + P(14), P(2), RW);
	snap("chain", q, q + P(16));
	xmprotect(q, P(16), PROT_NONE);
	snap("chain-none", q, q + P(16));
	xmprotect(q, P(12), RW);
	snap("chain-rw", q, q + P(16));
	xmunmap(q, P(16));

	section("mprotect-args");
	q = Pa + 2 * GiB;
	fixed_anon(q, P(8), RW);
	note("len rounds up to pages; misaligned start; zero length (mapped, unmapped, misaligned)");
	xmprotect(q + P(1), 1, RO);
	xmprotect(q + P(3), P(1) + 1, RO);
	snap("rounded", q, q + P(8));
	xmprotect(q + 1, P(1), RO);
	xmprotect(q + 0x800, P(1), RO);
	xmprotect(q, 0, PROT_NONE);
	xmprotect(q + P(64), 0, PROT_NONE);
	xmprotect(q + 1, 0, PROT_NONE);
	note("bad prot bits; PROT_GROWSDOWN on a normal VMA; both GROWS bits");
	xmprotect(q, P(1), 0x8);
	xmprotect(q, P(1), 0x10);
	xmprotect(q, P(1), RO | PROT_GROWSDOWN);
	xmprotect(q, P(1), RO | PROT_GROWSUP);
	xmprotect(q, P(1), RO | PROT_GROWSDOWN | PROT_GROWSUP);
	note("PROT_EXEC alone");
	xmprotect(q, P(1), PROT_EXEC);
	note("wrapping length; at TASK_SIZE; kernel half");
	xmprotect(q, (unsigned long)-P(1) - q + P(2), RO);
	xmprotect(TASK_SIZE, P(1), RO);
	xmprotect(0xffff800000000000UL, P(1), RO);
	snap("args", q, q + P(8));
	note("peek/poke under each protection");
	xmprotect(q, P(8), RW);
	poke(q, 0x11);
	xmprotect(q, P(1), PROT_NONE);
	peek(q);
	xmprotect(q, P(1), RO);
	peek(q);
	poke(q, 0x12);
	xmprotect(q, P(1), PROT_WRITE);
	peek(q);
	poke(q, 0x13);
	xmprotect(q, P(1), PROT_EXEC);
	peek(q);
	xmunmap(q, P(8));

	section("mprotect-growsdown");
	g = Pa + 3 * GiB;
	note("a MAP_GROWSDOWN VMA [G, G+8p): PROT_GROWSDOWN extends the range down to the VMA start");
	xmmap(g, P(8), RW, PA | MAP_GROWSDOWN | NOREPL, -1, 0);
	xmprotect(g + P(4), P(2), RO | PROT_GROWSDOWN);
	snap("gd", g - MiB, g + P(8));
	xmprotect(g + P(4), P(2), RO | PROT_GROWSUP);
	xmprotect(g - P(4), P(2), RO | PROT_GROWSDOWN);
	xmunmap(g, P(8));

	section("mprotect-eacces");
	e = Pa + 4 * GiB;
	note("A (mapped RO, anonymous) then a shared PROT_READ mapping of a read-only fd: A changes, then EACCES");
	fixed_anon(e, P(4), RO);
	xmmap(e + P(4), P(4), RO, MAP_SHARED | NOREPL, ro_fd, 0);
	fixed_anon(e + P(8), P(4), RO);
	xmprotect(e, P(12), RW);
	snap("eacces", e, e + P(12));
	xmprotect(e + P(4), P(4), RO | PROT_EXEC);
	xmprotect(e + P(4), P(4), PROT_NONE);
	xmprotect(e + P(4), P(4), RO);
	note("a private mapping of the same read-only fd can become writable");
	xmmap(e + P(16), P(4), RO, MAP_PRIVATE | NOREPL, ro_fd, 0);
	xmprotect(e + P(16), P(4), RW);
	poke(e + P(16), 0x77);
	snap("private-ro-fd", e, e + P(20));
	xmunmap(e, P(20));

	section("munmap");
	u = Pa + 5 * GiB;
	fixed_anon(u, P(16), RW);
	note("a hole; prefix; suffix; middle (split); across two VMAs and a hole");
	xmunmap(u + P(32), P(4));
	xmunmap(u, P(2));
	xmunmap(u + P(14), P(2));
	xmunmap(u + P(6), P(2));
	snap("pieces", u, u + P(16));
	xmunmap(u + P(4), P(8));
	snap("across", u, u + P(16));
	note("misaligned; zero length; length 1 (one page); start at/after TASK_SIZE; too long; address 0");
	xmunmap(u + 1, P(1));
	xmunmap(u + P(2), 0);
	xmunmap(u + P(2), 1);
	xmunmap(TASK_SIZE, P(1));
	xmunmap(TASK_SIZE - P(1), P(2));
	xmunmap(0xffff800000000000UL, P(1));
	xmunmap(u, 1UL << 47);
	xmunmap(0, P(1));
	xmunmap(u + P(12), (unsigned long)-1);
	snap("after-args", u, u + P(16));
	xmunmap(u, P(16));
	note("part of a file mapping: the pieces keep their file offsets");
	xmmap(u, P(16), RO, MAP_PRIVATE | NOREPL, fd_f8, P(100));
	xmunmap(u + P(4), P(4));
	xmprotect(u + P(12), P(2), RW);
	snap("file-pieces", u, u + P(16));
	xmunmap(u, P(16));
	note("MAP_FIXED over the middle of a file mapping");
	xmmap(u, P(16), RO, MAP_PRIVATE | NOREPL, fd_f8, 0);
	xmmap(u + P(4), P(4), RW, PA | MAP_FIXED, -1, 0);
	xmmap(u + P(10), P(2), RO, MAP_PRIVATE | MAP_FIXED, fd_f8, P(10));
	snap("fixed-over-file", u, u + P(16));
	xmunmap(u, P(16));

	snap_full("final");
	files_cleanup();
}

/* ===================================================================== errno */

static void vma_count(void)
{
	ostr("vma-count ");
	odec(count_vmas());
	onl();
}

static void child_maxmap(void)
{
	unsigned long base = ARENA(9), w = base - P(8), src = base - P(16), s2 = base - P(32), a, n = 0, k;
	unsigned long freed = base + P(4);
	unsigned long t[2] = {base - P(64), base - P(128)}, sb = stat_field(47);
	long r = 0, prot = RO;
	section("maxmap");
	note("W: a 3-page RW VMA at base-8p; S: a 1-page RW VMA at base-16p, moved between base-64p and base-128p;");
	note("S2: a 1-page RW VMA at base-32p with a 1-page RO VMA right above it");
	fixed_anon(w, P(3), RW);
	fixed_anon(src, P(1), RW);
	fixed_anon(s2, P(1), RW);
	fixed_anon(s2 + P(1), P(1), RO);
	note("bulk-mmap: count 1-page MAP_FIXED_NOREPLACE mmaps at base+i*4K, prot RO for even i, NONE for odd (no merges)");
	for (a = base;; a += PAGE, n++) {
		prot = (n & 1) ? PROT_NONE : RO;
		r = sc(SYS_mmap, (long)a, (long)PAGE, prot, PA | NOREPL, -1, 0);
		if (is_err(r))
			break;
	}
	call("bulk-mmap");
	okhex("addr", base);
	okdec("count", (long)n);
	okhex("len", PAGE);
	ostr(" prot=0x1,0x0");
	okhex("flags", PA | NOREPL);
	res_int(0);
	vma_count();
	note("the failing bulk call, and every other call that needs a new VMA");
	xmmap(a, PAGE, prot, PA | NOREPL, -1, 0);
	xmmap(0, PAGE, RW, PA, -1, 0);
	xbrk(sb + P(4));
	xmunmap(w + P(1), P(1));
	xmprotect(w, P(1), PROT_NONE);
	note("calls that need no new VMA");
	xmprotect(w, P(3), PROT_NONE);
	xmprotect(w, P(3), RW);
	xmremap(src, P(1), P(1), MAYMOVE | FIXED, t[0]);
	note("one VMA fewer: an mmap and a brk that add one VMA succeed; splits do not");
	xmunmap(base, P(1));
	vma_count();
	xmmap(base, PAGE, RO, PA | NOREPL, -1, 0);
	vma_count();
	xmunmap(base, P(1));
	xbrk(sb + P(4));
	vma_count();
	xbrk(sb);
	vma_count();
	xmunmap(w + P(1), P(1));
	xmprotect(w, P(1), PROT_NONE);
	xmunmap(w, P(1));
	vma_count();
	note("two VMAs fewer: one split succeeds");
	xmunmap(base + P(2), P(1));
	vma_count();
	xmprotect(w + P(1), P(1), PROT_NONE);
	vma_count();
	xmprotect(w + P(1), P(1), RW);
	vma_count();
	note("mremap growing S2 with MAYMOVE (it has to move): free one VMA at a time until it succeeds");
	for (k = 0; k < 8; k++) {
		vma_count();
		r = xmremap(s2, P(1), P(2), MAYMOVE, 0);
		if (!is_err(r))
			break;
		xmunmap(freed, P(1));
		freed += P(2);
	}
	vma_count();
	note("mremap moving S with MREMAP_FIXED: the same");
	for (k = 0; k < 8; k++) {
		unsigned long to = src == t[0] ? t[1] : t[0];
		vma_count();
		r = xmremap(src, P(1), P(1), MAYMOVE | FIXED, to);
		if (!is_err(r)) {
			src = to;
			break;
		}
		xmunmap(freed, P(1));
		freed += P(2);
	}
	vma_count();
}

static void child_nobody(void)
{
	long r;
	section("unprivileged");
	note("uid/gid 65534, RLIMIT_MEMLOCK 64 KiB: no CAP_SYS_RAWIO, no CAP_IPC_LOCK");
	xsetrlimit(RLIMIT_MEMLOCK, 64 * 1024, 64 * 1024);
	r = sc(SYS_setresgid, 65534, 65534, 65534, 0, 0, 0);
	r = r ? r : sc(SYS_setresuid, 65534, 65534, 65534, 0, 0, 0);
	call("setresuid");
	okdec("uid", 65534);
	res_int(r);
	note("MAP_FIXED below mmap_min_addr: at 0, at 0x1000, at 0x10000");
	xmmap(0, PAGE, RW, PA | MAP_FIXED, -1, 0);
	xmmap(PAGE, PAGE, RW, PA | MAP_FIXED, -1, 0);
	xmmap(0x10000, PAGE, RW, PA | MAP_FIXED, -1, 0);
	xmunmap(PAGE, PAGE);
	xmunmap(0x10000, PAGE);
	note("a hint below mmap_min_addr is rounded up");
	r = xmmap(PAGE, PAGE, RW, PA, -1, 0);
	unmap_ok(r, PAGE);
	note("MAP_LOCKED and mlock over RLIMIT_MEMLOCK");
	xmmap(0, MiB, RW, PA | MAP_LOCKED, -1, 0);
	r = xmmap(0, P(8), RW, PA | MAP_LOCKED, -1, 0);
	unmap_ok(r, P(8));
	r = xmmap(0, MiB, RW, PA, -1, 0);
	xmlock((unsigned long)r, MiB);
	xmlock((unsigned long)r, P(8));
	xmunlock((unsigned long)r, P(8));
	xsetrlimit(RLIMIT_MEMLOCK, 0, 0);
	xmlock((unsigned long)r, P(1));
	unmap_ok(r, MiB);
}

static void prog_errno(void)
{
	unsigned long E = ARENA(5), x;
	long r, dirfd, sealed, fsealed, memlock_cur;
	int pfd[2];
	struct rlimit rl;
	files_setup();

	section("mmap-einval");
	note("zero length; no MAP_SHARED/MAP_PRIVATE; MAP_SHARED_VALIDATE (anonymous, file); unknown flags");
	xmmap(0, 0, RW, PA, -1, 0);
	xmmap(0, P(1), RW, MAP_ANONYMOUS, -1, 0);
	r = xmmap(0, P(1), RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0);
	unmap_ok(r, P(1));
	xmmap(0, P(1), RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | 0x800000, -1, 0);
	xmmap(0, P(1), RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_SYNC, -1, 0);
	r = xmmap(0, P(1), RW, MAP_SHARED_VALIDATE, fd_f8, 0);
	unmap_ok(r, P(1));
	xmmap(0, P(1), RW, MAP_SHARED_VALIDATE | MAP_SYNC, fd_f8, 0);
	xmmap(0, P(1), RW, MAP_SHARED_VALIDATE | 0x800000, fd_f8, 0);
	r = xmmap(0, P(1), RW, MAP_SHARED | 0x800000, fd_f8, 0);
	unmap_ok(r, P(1));
	r = xmmap(0, P(1), RW, PA | 0x800000, -1, 0);
	unmap_ok(r, P(1));
	r = xmmap(0, P(1), RW, MAP_SHARED | MAP_ANONYMOUS | MAP_SYNC, -1, 0);
	unmap_ok(r, P(1));
	note("MAP_DROPPABLE (a mapping type of its own), anonymous and file");
	r = xmmap(0, P(1), RW, MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
	if (!is_err(r)) {
		snap("droppable", (unsigned long)r, (unsigned long)r + P(1));
		unmap_ok(r, P(1));
	}
	xmmap(0, P(1), RW, MAP_DROPPABLE, fd_f8, 0);
	note("misaligned MAP_FIXED address; misaligned hint (rounded); misaligned offset (file and anonymous)");
	xmmap(E + 1, P(1), RW, PA | MAP_FIXED, -1, 0);
	xmmap(E + 1, P(1), RW, PA | NOREPL, -1, 0);
	r = xmmap(E + 0x123, P(1), RW, PA, -1, 0);
	unmap_ok(r, P(1));
	xmmap(0, P(1), RO, MAP_PRIVATE, fd_f8, 0x800);
	xmmap(0, P(1), RW, PA, -1, 0x800);
	r = xmmap(0, P(1), RW, PA, -1, P(3));
	unmap_ok(r, P(1));
	note("unknown prot bits; PROT_GROWSDOWN on a plain mmap");
	r = xmmap(0, P(1), 0x10 | RW, PA, -1, 0);
	if (!is_err(r))
		unmap_ok(r, P(1));
	r = xmmap(0, P(1), RW | PROT_GROWSDOWN, PA, -1, 0);
	if (!is_err(r))
		unmap_ok(r, P(1));
	note("MAP_HUGETLB with no huge pages reserved; MAP_32BIT placement");
	xmmap(0, PMD, RW, PA | MAP_HUGETLB, -1, 0);
	xmmap(0, P(1), RW, PA | MAP_HUGETLB, -1, 0);
	r = xmmap(0, P(4), RW, PA | MAP_32BIT, -1, 0);
	x = (unsigned long)r;
	r = xmmap(0, P(4), RW, PA | MAP_32BIT, -1, 0);
	xmunmap(x, P(4));
	unmap_ok(r, P(4));

	section("mmap-enomem");
	note("no hole big enough; len > TASK_SIZE; len rounding up past 2^64; MAP_FIXED past TASK_SIZE");
	xmmap(0, 0x7fff00000000UL, PROT_NONE, PA | MAP_NORESERVE, -1, 0);
	xmmap(0, TASK_SIZE + PAGE, PROT_NONE, PA | MAP_NORESERVE, -1, 0);
	xmmap(0, (unsigned long)-PAGE, PROT_NONE, PA, -1, 0);
	xmmap(0, (unsigned long)-PAGE + 1, PROT_NONE, PA, -1, 0);
	xmmap(TASK_SIZE - P(1), P(2), RW, PA | MAP_FIXED, -1, 0);
	xmmap(TASK_SIZE, P(1), RW, PA | MAP_FIXED, -1, 0);
	xmmap(0x800000000000UL, P(1), RW, PA | NOREPL, -1, 0);
	note("hints past TASK_SIZE are ignored, not errors");
	r = xmmap(0x800000000000UL, P(1), RW, PA, -1, 0);
	unmap_ok(r, P(1));
	note("RLIMIT_AS: VmSize + 64 pages");
	out_status("VmSize");
	syscall(SYS_getrlimit, RLIMIT_AS, &rl);
	{
		unsigned long vmsize = 0;
		long n = read_file("/proc/self/status", mbuf, sizeof(mbuf)), i;
		for (i = 0; i + 7 < n; i++)
			if (starts_with(mbuf + i, "VmSize:")) {
				i += 7;
				while (mbuf[i] == ' ' || mbuf[i] == '\t')
					i++;
				while (mbuf[i] >= '0' && mbuf[i] <= '9')
					vmsize = vmsize * 10 + (unsigned long)(mbuf[i++] - '0');
				break;
			}
		xsetrlimit(RLIMIT_AS, vmsize * 1024 + P(64), rl.rlim_max);
	}
	xmmap(0, P(128), RW, PA, -1, 0);
	xmmap(0, P(65), PROT_NONE, PA | MAP_NORESERVE, -1, 0);
	r = xmmap(0, P(32), RW, PA, -1, 0);
	r = xmremap((unsigned long)r, P(32), P(64), MAYMOVE, 0);
	x = (unsigned long)r;
	xmremap(x, P(64), P(65), MAYMOVE, 0);
	xbrk(0);
	xbrk(stat_field(47) + P(1));
	xmremap(x, P(64), P(16), 0, 0);
	xbrk(stat_field(47) + P(48));
	xbrk(stat_field(47) + P(49));
	xbrk(stat_field(47));
	xsetrlimit(RLIMIT_AS, rl.rlim_cur, rl.rlim_max);
	xmunmap(x, P(16));

	section("mmap-fd");
	note("fd -1 and an fd that is not open, without MAP_ANONYMOUS; a bad fd with it (ignored)");
	xmmap(0, P(1), RO, MAP_PRIVATE, -1, 0);
	xmmap(0, P(1), RO, MAP_PRIVATE, 999, 0);
	r = xmmap(0, P(1), RO, PA, 999, 0);
	unmap_ok(r, P(1));
	note("a read-only fd: shared writable EACCES, shared read-only ok, private writable ok");
	xmmap(0, P(1), RW, MAP_SHARED, fd_f8ro, 0);
	xmmap(0, P(1), PROT_WRITE, MAP_SHARED, fd_f8ro, 0);
	r = xmmap(0, P(1), RO, MAP_SHARED, fd_f8ro, 0);
	xmprotect((unsigned long)r, P(1), RW);
	unmap_ok(r, P(1));
	r = xmmap(0, P(1), RW, MAP_PRIVATE, fd_f8ro, 0);
	unmap_ok(r, P(1));
	note("a write-only fd: every mmap EACCES");
	xmmap(0, P(1), PROT_WRITE, MAP_SHARED, fd_f8wo, 0);
	xmmap(0, P(1), RO, MAP_PRIVATE, fd_f8wo, 0);
	xmmap(0, P(1), PROT_NONE, MAP_PRIVATE, fd_f8wo, 0);
	note("an O_APPEND fd, shared writable");
	{
		long ap = xopen(F8, O_RDWR | O_APPEND);
		r = xmmap(0, P(1), RW, MAP_SHARED, ap, 0);
		if (!is_err(r))
			unmap_ok(r, P(1));
		syscall(SYS_close, ap);
	}
	note("a directory, a pipe: no mmap file operation");
	dirfd = xopen(DIR, O_RDONLY | O_DIRECTORY);
	xmmap(0, P(1), RO, MAP_PRIVATE, dirfd, 0);
	r = sc(SYS_pipe2, (long)pfd, O_CLOEXEC, 0, 0, 0, 0);
	call("pipe");
	res_int(r ? r : pfd[0]);
	xmmap(0, P(1), RO, MAP_PRIVATE, pfd[0], 0);
	note("file offsets too large: EOVERFLOW");
	xmmap(0, P(2), RO, MAP_PRIVATE, fd_f8, 0x7ffffffffffff000UL);
	xmmap(0, P(2), RO, MAP_PRIVATE, fd_f8, 0x8000000000000000UL);
	r = xmmap(0, P(2), RO, MAP_PRIVATE, fd_f8, 0x7fffff0000000000UL);
	if (!is_err(r))
		unmap_ok(r, P(2));
	note("sealed memfds: F_SEAL_WRITE, F_SEAL_FUTURE_WRITE");
	sealed = xmemfd("lst-sealed", MFD_ALLOW_SEALING);
	xfill(sealed, P(4), 6);
	xseal(sealed, F_SEAL_WRITE);
	xmmap(0, P(4), RW, MAP_SHARED, sealed, 0);
	r = xmmap(0, P(4), RO, MAP_SHARED, sealed, 0);
	xmprotect((unsigned long)r, P(4), RW);
	snap("sealed-ro", (unsigned long)r, (unsigned long)r + P(4));
	unmap_ok(r, P(4));
	r = xmmap(0, P(4), RW, MAP_PRIVATE, sealed, 0);
	unmap_ok(r, P(4));
	fsealed = xmemfd("lst-fsealed", MFD_ALLOW_SEALING);
	xfill(fsealed, P(4), 7);
	r = xmmap(0, P(4), RW, MAP_SHARED, fsealed, 0);
	x = (unsigned long)r;
	xseal(fsealed, F_SEAL_WRITE);
	xseal(fsealed, F_SEAL_FUTURE_WRITE);
	xmmap(0, P(4), RW, MAP_SHARED, fsealed, 0);
	r = xmmap(0, P(4), RO, MAP_SHARED, fsealed, 0);
	xmprotect((unsigned long)r, P(4), RW);
	unmap_ok(r, P(4));
	xmunmap(x, P(4));

	section("mmap-eexist");
	fixed_anon(E, P(4), RW);
	note("MAP_FIXED_NOREPLACE: exactly over, partly over, just after, just before");
	fixed_anon(E, P(4), RW);
	fixed_anon(E - P(1), P(2), RW);
	fixed_anon(E + P(3), P(2), RW);
	fixed_anon(E + P(4), P(1), RW);
	fixed_anon(E - P(1), P(1), RW);
	note("MAP_FIXED_NOREPLACE with a file");
	xmmap(E + P(1), P(1), RO, MAP_PRIVATE | NOREPL, fd_f8, 0);
	snap("eexist", E - P(4), E + P(8));
	xmunmap(E - P(1), P(6));

	section("mmap-root");
	note("as root (CAP_SYS_RAWIO): MAP_FIXED and MAP_FIXED_NOREPLACE at address 0 succeed");
	xmmap(0, PAGE, RW, PA | MAP_FIXED, -1, 0);
	xmunmap(0, PAGE);
	r = xmmap(0, PAGE, RW, PA | NOREPL, -1, 0);
	xmunmap(0, PAGE);
	syscall(SYS_getrlimit, RLIMIT_MEMLOCK, &rl);
	memlock_cur = (long)rl.rlim_cur;
	ostr("rlimit-memlock ");
	ohex((unsigned long)memlock_cur);
	onl();
	note("root has CAP_IPC_LOCK: MAP_LOCKED over RLIMIT_MEMLOCK succeeds");
	r = xmmap(0, 16 * MiB, RW, PA | MAP_LOCKED, -1, 0);
	unmap_ok(r, 16 * MiB);

	run_child("unprivileged", child_nobody);
	run_child("maxmap", child_maxmap);

	snap_full("final");
	files_cleanup();
}

/* =================================================================== madvise */

static void prog_madvise(void)
{
	unsigned long M = ARENA(6), a;
	files_setup();

	section("dontneed-private-anon");
	a = M;
	fixed_anon(a, P(4), RW);
	poke(a, 0x1111);
	poke(a + P(1), 0x2222);
	xmadvise(a, P(1), MADV_DONTNEED);
	peek(a);
	peek(a + P(1));
	note("length 1 rounds to a page");
	xmadvise(a + P(1), 1, MADV_DONTNEED);
	peek(a + P(1));
	snap("anon", a, a + P(4));

	section("dontneed-private-file");
	a = M + GiB;
	xmmap(a, P(4), RW, MAP_PRIVATE | NOREPL, fd_f8, P(16));
	peek(a);
	poke(a, 0x3333);
	poke(a + P(1), 0x4444);
	peek(a);
	xpread(fd_f8, P(16));
	xmadvise(a, P(4), MADV_DONTNEED);
	peek(a);
	peek(a + P(1));
	snap("private-file", a, a + P(4));

	section("dontneed-shared-file");
	a = M + 2 * GiB;
	xmmap(a, P(4), RW, MAP_SHARED | NOREPL, fd_f8, P(32));
	poke(a, 0x5555);
	xmadvise(a, P(4), MADV_DONTNEED);
	peek(a);
	xpread(fd_f8, P(32));
	note("the same through a second, private mapping of the file: sees the shared write");
	xmmap(a + P(8), P(4), RO, MAP_PRIVATE | NOREPL, fd_f8, P(32));
	peek(a + P(8));

	section("dontneed-shared-anon");
	a = M + 3 * GiB;
	xmmap(a, P(4), RW, SA | NOREPL, -1, 0);
	poke(a, 0x6666);
	xmadvise(a, P(4), MADV_DONTNEED);
	peek(a);

	section("dontneed-memfd-tmpfs");
	a = M + 4 * GiB;
	xmmap(a, P(4), RW, MAP_SHARED | NOREPL, fd_memfd8, 0);
	poke(a, 0x7777);
	xmadvise(a, P(4), MADV_DONTNEED);
	peek(a);
	xmmap(a + P(8), P(4), RW, MAP_PRIVATE | NOREPL, fd_memfd8, 0);
	peek(a + P(8));
	poke(a + P(8), 0x8888);
	xmadvise(a + P(8), P(4), MADV_DONTNEED);
	peek(a + P(8));
	xmmap(a + P(16), P(4), RW, MAP_PRIVATE | NOREPL, fd_shm8, 0);
	poke(a + P(16), 0x9999);
	xmadvise(a + P(16), P(4), MADV_DONTNEED);
	peek(a + P(16));

	section("dontneed-args");
	a = M + 5 * GiB;
	fixed_anon(a, P(4), RW);
	fixed_anon(a + P(6), P(2), RW);
	poke(a, 0xaaaa);
	poke(a + P(6), 0xbbbb);
	note("misaligned; zero length (mapped and unmapped); unknown advice");
	xmadvise(a + 1, P(1), MADV_DONTNEED);
	xmadvise(a, 0, MADV_DONTNEED);
	xmadvise(a + P(64), 0, MADV_DONTNEED);
	xmadvise(a, P(1), 12345);
	peek(a);
	note("a range with a hole: ENOMEM, but the mapped parts are zapped");
	xmadvise(a, P(8), MADV_DONTNEED);
	peek(a);
	peek(a + P(6));
	note("wholly unmapped; at TASK_SIZE; kernel half");
	xmadvise(a + P(64), P(4), MADV_DONTNEED);
	xmadvise(TASK_SIZE, P(1), MADV_DONTNEED);
	xmadvise(0xffff800000000000UL, P(1), MADV_DONTNEED);
	note("mlocked: EINVAL; PROT_NONE: fine");
	poke(a, 0xcccc);
	xmlock(a, P(4));
	xmadvise(a, P(4), MADV_DONTNEED);
	peek(a);
	xmunlock(a, P(4));
	snap("munlocked", a, a + P(8));
	xmprotect(a, P(4), PROT_NONE);
	xmadvise(a, P(4), MADV_DONTNEED);
	xmprotect(a, P(4), RW);
	peek(a);
	snap("args", a, a + P(8));

	section("madvise-flags");
	a = M + 6 * GiB;
	note("advice that changes VMA flags splits and merges like mprotect");
	fixed_anon(a, P(8), RW);
	xmadvise(a + P(2), P(2), MADV_DONTFORK);
	snap("dontfork", a, a + P(8));
	xmadvise(a + P(2), P(2), MADV_DOFORK);
	snap("dofork", a, a + P(8));
	xmadvise(a + P(2), P(2), MADV_NOHUGEPAGE);
	xmadvise(a + P(4), P(2), MADV_HUGEPAGE);
	snap("hugepage", a, a + P(8));
	xmadvise(a, P(8), MADV_NORMAL);
	xmadvise(a + P(4), P(2), MADV_RANDOM);
	xmadvise(a + P(6), P(2), MADV_SEQUENTIAL);
	snap("random", a, a + P(8));
	xmadvise(a, P(8), MADV_NORMAL);
	snap("normal", a, a + P(8));

	snap_full("final");
	files_cleanup();
}

/* ===================================================================== merge */

static void prog_merge(void)
{
	unsigned long G = ARENA(3), a, k;
	files_setup();

	section("merge-anon");
	a = G;
	note("two adjacent RW anonymous mmaps: one VMA");
	fixed_anon(a, P(4), RW);
	fixed_anon(a + P(4), P(4), RW);
	snap("rw-rw", a, a + P(16));
	note("a RO one next to them: separate; mprotect it to RW: merges (VM_ACCOUNT is added)");
	fixed_anon(a + P(8), P(4), RO);
	snap("rw-ro", a, a + P(16));
	xmprotect(a + P(8), P(4), RW);
	snap("ro-to-rw", a, a + P(16));
	note("split in the middle by mprotect, then restored: merges back");
	xmprotect(a + P(2), P(4), PROT_NONE);
	snap("split", a, a + P(16));
	xmprotect(a + P(2), P(4), RW);
	snap("restored", a, a + P(16));
	xmunmap(a, P(16));

	section("merge-account");
	a = G + GiB;
	note("RW then mprotect RO, never written: VM_ACCOUNT is dropped, merges with a mapping made RO");
	fixed_anon(a, P(4), RW);
	xmprotect(a, P(4), RO);
	fixed_anon(a + P(4), P(4), RO);
	snap("ac-noac", a, a + P(16));
	note("PROT_NONE: same story");
	fixed_anon(a + P(8), P(4), RW);
	xmprotect(a + P(8), P(4), PROT_NONE);
	fixed_anon(a + P(12), P(4), PROT_NONE);
	snap("none", a, a + P(16));
	xmunmap(a, P(16));
	note("written first: VM_ACCOUNT is kept, no merge");
	fixed_anon(a, P(4), RW);
	poke(a, 5);
	xmprotect(a, P(4), RO);
	fixed_anon(a + P(4), P(4), RO);
	fixed_anon(a + P(8), P(4), RW);
	poke(a + P(8), 6);
	xmprotect(a + P(8), P(4), PROT_NONE);
	fixed_anon(a + P(12), P(4), PROT_NONE);
	snap("written-ac", a, a + P(16));
	note("and back to RW: all VM_ACCOUNT again, merges");
	xmprotect(a, P(16), RW);
	snap("written-rw", a, a + P(16));
	xmunmap(a, P(16));
	note("MAP_NORESERVE RW beside RW; MAP_GROWSDOWN beside RW; MAP_STACK beside RW; MAP_POPULATE");
	fixed_anon(a, P(4), RW);
	xmmap(a + P(4), P(4), RW, PA | MAP_NORESERVE | NOREPL, -1, 0);
	xmmap(a + P(8), P(4), RW, PA | MAP_GROWSDOWN | NOREPL, -1, 0);
	xmmap(a + P(12), P(4), RW, PA | MAP_STACK | NOREPL, -1, 0);
	xmmap(a + P(16), P(4), RW, PA | MAP_POPULATE | NOREPL, -1, 0);
	xmmap(a + P(20), P(4), RW, PA | MAP_NORESERVE | NOREPL, -1, 0);
	snap("flags", a, a + P(24));
	xmunmap(a, P(24));

	section("merge-anon-vma");
	a = G + 2 * GiB;
	note("X written, Y written (not adjacent then), Z untouched mapped between: merges with X only");
	fixed_anon(a, P(4), RW);
	poke(a, 1);
	fixed_anon(a + P(8), P(4), RW);
	poke(a + P(8), 2);
	fixed_anon(a + P(4), P(4), RW);
	snap("x-z-y", a, a + P(12));
	xmunmap(a, P(12));
	note("X written, Y untouched, Z between: all three merge");
	fixed_anon(a, P(4), RW);
	poke(a, 1);
	fixed_anon(a + P(8), P(4), RW);
	fixed_anon(a + P(4), P(4), RW);
	snap("x-z-y-untouched", a, a + P(12));
	xmunmap(a, P(12));
	note("X untouched, Y written, Z between: all three merge");
	fixed_anon(a, P(4), RW);
	fixed_anon(a + P(8), P(4), RW);
	poke(a + P(8), 2);
	fixed_anon(a + P(4), P(4), RW);
	snap("untouched-x", a, a + P(12));
	xmunmap(a, P(12));
	note("X and Y written, Z mapped RO between them, then made RW: merges with X only");
	fixed_anon(a, P(4), RW);
	poke(a, 1);
	fixed_anon(a + P(8), P(4), RW);
	poke(a + P(8), 2);
	fixed_anon(a + P(4), P(4), RO);
	xmprotect(a + P(4), P(4), RW);
	snap("z-mprotect", a, a + P(12));
	xmunmap(a, P(12));
	note("Y mapped next to written X joins it; Y written, split off by mprotect and restored: merges back");
	fixed_anon(a, P(4), RW);
	poke(a, 1);
	fixed_anon(a + P(4), P(4), RW);
	poke(a + P(4), 2);
	xmprotect(a + P(4), P(4), RO);
	xmprotect(a + P(4), P(4), RW);
	snap("shared-anon-vma", a, a + P(12));
	note("unmap the middle of a written VMA and map it again: merges both sides");
	xmunmap(a + P(2), P(2));
	xmmap(a + P(2), P(2), RW, PA | NOREPL, -1, 0);
	snap("refill", a, a + P(12));
	xmunmap(a, P(12));

	section("merge-file");
	k = G + 3 * GiB;
	note("f8m offset 0 and offset 4p adjacent: one VMA; offset 12p next: separate");
	xmmap(k, P(4), RO, MAP_PRIVATE | NOREPL, fd_f8, 0);
	xmmap(k + P(4), P(4), RO, MAP_PRIVATE | NOREPL, fd_f8, P(4));
	xmmap(k + P(8), P(4), RO, MAP_PRIVATE | NOREPL, fd_f8, P(12));
	snap("contig", k, k + P(16));
	note("a different file with the right offset; the same file shared; anonymous");
	xmmap(k + P(12), P(4), RO, MAP_PRIVATE | NOREPL, fd_f3, P(16));
	xmmap(k + P(16), P(4), RO, MAP_SHARED | NOREPL, fd_f8, P(20));
	xmmap(k + P(20), P(4), RO, PA | NOREPL, -1, 0);
	snap("kinds", k, k + P(24));
	xmunmap(k, P(24));
	note("the same file through another fd (read-only): another struct file, no merge");
	xmmap(k, P(4), RO, MAP_PRIVATE | NOREPL, fd_f8, 0);
	xmmap(k + P(4), P(4), RO, MAP_PRIVATE | NOREPL, fd_f8ro, P(4));
	snap("other-fd", k, k + P(8));
	xmunmap(k, P(8));
	note("file mapped RO then mprotect RW (private): VM_ACCOUNT added; next to a private RW mapping");
	xmmap(k, P(4), RO, MAP_PRIVATE | NOREPL, fd_f8, 0);
	xmmap(k + P(4), P(4), RW, MAP_PRIVATE | NOREPL, fd_f8, P(4));
	snap("file-ro-rw", k, k + P(8));
	xmprotect(k, P(4), RW);
	snap("file-rw-rw", k, k + P(8));
	xmunmap(k, P(8));
	note("shared file RO then mprotect RW next to shared RW");
	xmmap(k, P(4), RO, MAP_SHARED | NOREPL, fd_f8, 0);
	xmmap(k + P(4), P(4), RW, MAP_SHARED | NOREPL, fd_f8, P(4));
	xmprotect(k, P(4), RW);
	snap("shared-ro-rw", k, k + P(8));
	xmunmap(k, P(8));
	note("hole in a file mapping re-mapped at the right offset: one VMA again");
	xmmap(k, P(12), RO, MAP_PRIVATE | NOREPL, fd_f8, 0);
	xmunmap(k + P(4), P(4));
	xmmap(k + P(4), P(4), RO, MAP_PRIVATE | NOREPL, fd_f8, P(4));
	snap("file-refill", k, k + P(12));
	xmunmap(k, P(12));
	note("private file, both written (COW, own anon_vma), third mapped between");
	xmmap(k, P(4), RW, MAP_PRIVATE | NOREPL, fd_f8, 0);
	poke(k, 1);
	xmmap(k + P(8), P(4), RW, MAP_PRIVATE | NOREPL, fd_f8, P(8));
	poke(k + P(8), 2);
	xmmap(k + P(4), P(4), RW, MAP_PRIVATE | NOREPL, fd_f8, P(4));
	snap("file-cow", k, k + P(12));
	xmunmap(k, P(12));
	note("file then anonymous MAP_FIXED over its middle, then the file again at the right offset");
	xmmap(k, P(12), RO, MAP_PRIVATE | NOREPL, fd_f8, 0);
	xmmap(k + P(4), P(4), RO, PA | MAP_FIXED, -1, 0);
	snap("anon-in-file", k, k + P(12));
	xmmap(k + P(4), P(4), RO, MAP_PRIVATE | MAP_FIXED, fd_f8, P(4));
	snap("file-again", k, k + P(12));
	xmunmap(k, P(12));

	section("merge-nohint");
	note("two no-hint anonymous mmaps of the same kind: the second lands right below the first and merges");
	{
		long r1 = xmmap(0, P(4), RW, PA, -1, 0);
		long r2 = xmmap(0, P(4), RW, PA, -1, 0);
		snap("nohint", (unsigned long)r2, (unsigned long)r1 + P(4));
		xmunmap((unsigned long)r2, P(8));
	}

	snap_full("final");
	files_cleanup();
}

/* ====================================================================== fork */

static unsigned long fork_a, fork_s, fork_fp, fork_fs, fork_df, fork_wf;

static void child_fork(void)
{
	snap_full("child");
	xbrk(0);
	peek(fork_a);
	peek(fork_s);
	peek(fork_fp);
	peek(fork_fs);
	peek(fork_df);
	peek(fork_df + P(1));
	peek(fork_wf);
	poke(fork_a, 0xc1);
	poke(fork_s, 0xc2);
	poke(fork_fp, 0xc3);
	poke(fork_fs, 0xc4);
	note("the child's own calls do not affect the parent");
	xmunmap(fork_a + P(1), P(1));
	snap("child-after", fork_a, fork_a + P(4));
}

static void prog_fork(void)
{
	unsigned long F = ARENA(7), b0;
	files_setup();

	section("fork-setup");
	fork_a = F;
	fork_s = F + P(8);
	fork_fp = F + P(16);
	fork_fs = F + P(24);
	fork_df = F + P(32);
	fork_wf = F + P(40);
	fixed_anon(fork_a, P(4), RW);
	poke(fork_a, 0xa1);
	xmmap(fork_s, P(4), RW, SA | NOREPL, -1, 0);
	poke(fork_s, 0xa2);
	xmmap(fork_fp, P(4), RW, MAP_PRIVATE | NOREPL, fd_f8, 0);
	poke(fork_fp, 0xa3);
	xmmap(fork_fs, P(4), RW, MAP_SHARED | NOREPL, fd_f8, P(8));
	poke(fork_fs, 0xa4);
	fixed_anon(fork_df, P(4), RW);
	poke(fork_df, 0xa5);
	xmadvise(fork_df + P(1), P(2), MADV_DONTFORK);
	fixed_anon(fork_wf, P(4), RW);
	poke(fork_wf, 0xa6);
	xmadvise(fork_wf, P(4), MADV_WIPEONFORK);
	b0 = (unsigned long)xbrk(0);
	xbrk(b0 + P(8));
	snap_full("parent-before");

	run_child("fork", child_fork);

	section("fork-after");
	peek(fork_a);
	peek(fork_s);
	peek(fork_fp);
	peek(fork_fs);
	xpread(fd_f8, P(8));
	snap_full("parent-after");
	files_cleanup();
}

/* ====================================================================== exec */

/* In the freshly exec'ed process: record the layout the kernel built. */
static int exec_child(int argc, char **argv, char **envp)
{
	static const char *const atnames[] = {
		[3] = "AT_PHDR", [4] = "AT_PHENT", [5] = "AT_PHNUM", [6] = "AT_PAGESZ",
		[7] = "AT_BASE", [8] = "AT_FLAGS", [9] = "AT_ENTRY", [11] = "AT_UID",
		[12] = "AT_EUID", [13] = "AT_GID", [14] = "AT_EGID", [15] = "AT_PLATFORM",
		[16] = "AT_HWCAP", [17] = "AT_CLKTCK", [23] = "AT_SECURE",
		[24] = "AT_BASE_PLATFORM", [25] = "AT_RANDOM", [26] = "AT_HWCAP2",
		[27] = "AT_RSEQ_FEATURE_SIZE", [28] = "AT_RSEQ_ALIGN", [29] = "AT_HWCAP3",
		[30] = "AT_HWCAP4", [31] = "AT_EXECFN", [33] = "AT_SYSINFO_EHDR",
		[51] = "AT_MINSIGSTKSZ",
	};
	unsigned long *av;
	long n, i;
	int local = 0;
	struct rlimit rl;
	const char *p;
	if (argc > 2) {
		for (p = argv[2], seq = 0; *p; p++)
			seq = seq * 10 + (unsigned long)(*p - '0');
	}
	if (argc > 3) {
		for (p = argv[3], child_pipe = 0; *p; p++)
			child_pipe = child_pipe * 10 + (*p - '0');
	}
	ostr("exec");
	okstr("argv0", argv[0]);
	onl();
	syscall(SYS_getrlimit, RLIMIT_STACK, &rl);
	ostr("rlimit-stack ");
	ohex(rl.rlim_cur);
	onl();
	ostr("personality ");
	ohex((unsigned long)syscall(SYS_personality, 0xffffffffUL));
	onl();
	out_stat();
	n = read_file("/proc/self/auxv", mbuf, sizeof(mbuf));
	av = (unsigned long *)mbuf;
	for (i = 0; i + 1 < n / 8 && av[i]; i += 2) {
		ostr("auxv");
		okdec("type", (long)av[i]);
		if (av[i] < sizeof(atnames) / sizeof(atnames[0]) && atnames[av[i]])
			okstr("name", atnames[av[i]]);
		okhex("val", av[i + 1]);
		onl();
	}
	ostr("sp ");
	ohex((unsigned long)&local);
	onl();
	ostr("argv ");
	ohex((unsigned long)argv);
	onl();
	ostr("envp ");
	ohex((unsigned long)envp);
	onl();
	xbrk(0);
	snap_full("exec");
	child_exit(0);
	return 0;
}

static void prog_exec(int nbin, char **bins)
{
	static const struct { unsigned long lim; long pers; const char *label; } cases[] = {
		{8 * MiB, 0, "8M"},
		{GiB, 0, "1G"},
		{RLIM_INFINITY, 0, "unlimited"},
		{8 * MiB, ADDR_COMPAT_LAYOUT, "8M-legacy"},
	};
	int b;
	unsigned long c;
	section("exec");
	note("each binary is exec'ed with argv {path, exec-child, SEQ, FD} and envp {LC_ALL=C}");
	for (b = 0; b < nbin; b++) {
		for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			int pfd[2];
			long pid;
			int status = 0;
			unsigned long child_seq;
			char seqs[24], fds[8];
			char *argv[5], *envp[2];
			int i, k;
			struct rlimit rl;
			unsigned long v;
			if (syscall(SYS_pipe2, pfd, 0) != 0)
				syscall(SYS_exit_group, 5);
			for (v = seq, i = 0; i == 0 || v; v /= 10)
				seqs[i++] = (char)('0' + v % 10);
			seqs[i] = 0;
			for (k = 0; k < i / 2; k++) {
				char t = seqs[k];
				seqs[k] = seqs[i - 1 - k];
				seqs[i - 1 - k] = t;
			}
			fds[0] = (char)('0' + pfd[1] / 10);
			fds[1] = (char)('0' + pfd[1] % 10);
			fds[2] = 0;
			argv[0] = bins[b];
			argv[1] = (char *)"exec-child";
			argv[2] = seqs;
			argv[3] = fds;
			argv[4] = 0;
			envp[0] = (char *)"LC_ALL=C";
			envp[1] = 0;
			ostr("child-begin exec");
			okstr("binary", bins[b]);
			okstr("case", cases[c].label);
			okhex("rlimit-stack", cases[c].lim);
			okhex("personality-add", (unsigned long)cases[c].pers);
			onl();
			pid = syscall(SYS_fork);
			if (pid == 0) {
				syscall(SYS_close, pfd[0]);
				rl.rlim_cur = cases[c].lim;
				rl.rlim_max = RLIM_INFINITY;
				syscall(SYS_setrlimit, RLIMIT_STACK, &rl);
				if (cases[c].pers)
					syscall(SYS_personality,
						syscall(SYS_personality, 0xffffffffUL) | cases[c].pers);
				syscall(SYS_execve, bins[b], argv, envp);
				syscall(SYS_exit_group, 127);
			}
			syscall(SYS_close, pfd[1]);
			syscall(SYS_wait4, pid, &status, 0, 0);
			if (syscall(SYS_read, pfd[0], &child_seq, sizeof(child_seq)) == sizeof(child_seq))
				seq = child_seq;
			syscall(SYS_close, pfd[0]);
			ostr("child-end exec");
			okhex("status", (unsigned long)status);
			onl();
		}
	}
}

/* ====================================================================== main */

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

int main(int argc, char **argv, char **envp)
{
	static const struct { const char *name; void (*fn)(void); } progs[] = {
		{"file", prog_file}, {"mremap", prog_mremap}, {"brk", prog_brk},
		{"mprotect", prog_mprotect}, {"errno", prog_errno},
		{"madvise", prog_madvise}, {"merge", prog_merge}, {"fork", prog_fork},
	};
	unsigned long i;
	if (argc >= 2 && streq(argv[1], "exec-child"))
		return exec_child(argc, argv, envp);
	probes_setup();
	if (argc >= 2 && streq(argv[1], "exec")) {
		header("exec");
		prog_exec(argc - 2, argv + 2);
		return 0;
	}
	for (i = 0; argc >= 2 && i < sizeof(progs) / sizeof(progs[0]); i++) {
		if (streq(argv[1], progs[i].name)) {
			header(progs[i].name);
			progs[i].fn();
			return 0;
		}
	}
	{
		static const char usage[] =
			"usage: trace file|mremap|brk|mprotect|errno|madvise|merge|fork\n"
			"       trace exec BINARY...\n";
		syscall(SYS_write, 2, usage, sizeof(usage) - 1);
	}
	return 2;
}
