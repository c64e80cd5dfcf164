/*
 * linux-mmap-trace: record where the running Linux kernel places anonymous
 * mmaps, for validating a Linux-compatible placement model.
 *
 * Usage:  setarch "$(uname -m)" -R ./trace SEED N > seed-SEED.txt
 *
 * Output format: see tests/data/linux_mmap/README.md.
 *
 * Rules this program follows so that it never perturbs the address space it
 * is observing:
 *   - no malloc, no stdio: every byte of output goes through write(2) from a
 *     static buffer; /proc/self/maps is read with open/read into a static
 *     buffer;
 *   - the kernel is called through syscall(2) (raw syscalls, no libc
 *     wrappers with hidden side effects);
 *   - the memory it maps is never touched;
 *   - MAP_FIXED is only used on ranges this program itself mapped earlier
 *     (so it can never clobber libc, the stack, ...); "random address" fixed
 *     requests use MAP_FIXED_NOREPLACE, which fails with EEXIST instead of
 *     replacing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 0x1000UL
#define MiB (1UL << 20)
#define GiB (1UL << 30)
#define TiB (1UL << 40)
#define PMD (2 * MiB)
#define TASK_SIZE 0x7ffffffff000UL

/* ------------------------------------------------------------------ output */

static char line[512];
static int line_len;

static void out_flush_line(void)
{
	long off = 0;
	while (off < line_len) {
		long r = syscall(SYS_write, 1, line + off, line_len - off);
		if (r <= 0)
			syscall(SYS_exit_group, 3);
		off += r;
	}
	line_len = 0;
}

static void out_str(const char *s)
{
	while (*s && line_len < (int)sizeof(line) - 1)
		line[line_len++] = *s++;
}

static void out_hex(unsigned long v)
{
	char tmp[20];
	int n = 0;
	out_str("0x");
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		line[line_len++] = tmp[--n];
}

static void out_dec(unsigned long v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		line[line_len++] = tmp[--n];
}

static const char *errname(long e)
{
	switch (e) {
	case ENOMEM: return "ENOMEM";
	case EINVAL: return "EINVAL";
	case EEXIST: return "EEXIST";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	default: return 0;
	}
}

/* Print a syscall result: 0x... for addresses, 0 for success, -ENAME. */
static void out_result(long r, int is_addr)
{
	if (r < 0 && r > -4096) {
		const char *n = errname(-r);
		out_str("-");
		if (n)
			out_str(n);
		else
			out_dec(-r);
	} else if (is_addr) {
		out_hex((unsigned long)r);
	} else {
		out_dec((unsigned long)r);
	}
}

/* ------------------------------------------------------------ maps snapshot */

static char maps_buf[4 << 20];

static void dump_maps(const char *tag)
{
	long fd = syscall(SYS_open, "/proc/self/maps", O_RDONLY);
	long total = 0, r, off;
	if (fd < 0)
		syscall(SYS_exit_group, 4);
	while ((r = syscall(SYS_read, fd, maps_buf + total,
			    sizeof(maps_buf) - total)) > 0)
		total += r;
	syscall(SYS_close, fd);
	out_str("maps-begin ");
	out_str(tag);
	out_str("\n");
	out_flush_line();
	off = 0;
	while (off < total) {
		r = syscall(SYS_write, 1, maps_buf + off, total - off);
		if (r <= 0)
			syscall(SYS_exit_group, 3);
		off += r;
	}
	out_str("maps-end ");
	out_str(tag);
	out_str("\n");
	out_flush_line();
}

/* --------------------------------------------------------------------- rng */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned long rnd_below(unsigned long n) { return n ? rnd() % n : 0; }
static int chance(int percent) { return (int)rnd_below(100) < percent; }

/* ------------------------------------------- ranges this program has mapped */

struct own {
	unsigned long start, end;
};
static struct own owns[16384];
static int nown;

static void own_remove(unsigned long s, unsigned long e)
{
	int i = 0;
	while (i < nown) {
		struct own o = owns[i];
		if (o.end <= s || o.start >= e) {
			i++;
		} else if (o.start < s && o.end > e) {
			/* split; the new right piece lies outside [s, e) */
			owns[i].end = s;
			if (nown < (int)(sizeof(owns) / sizeof(owns[0]))) {
				owns[nown].start = e;
				owns[nown].end = o.end;
				nown++;
			}
			i++;
		} else if (o.start < s) {
			owns[i++].end = s;
		} else if (o.end > e) {
			owns[i++].start = e;
		} else {
			owns[i] = owns[--nown]; /* re-examine slot i */
		}
	}
}

static void own_add(unsigned long s, unsigned long e)
{
	own_remove(s, e);
	if (nown < (int)(sizeof(owns) / sizeof(owns[0]))) {
		owns[nown].start = s;
		owns[nown].end = e;
		nown++;
	}
}

/* pick a page-aligned sub-range [*s, *e) of one of our ranges */
static int pick_owned_subrange(unsigned long *s, unsigned long *e)
{
	struct own o;
	unsigned long pages, a, b;
	if (!nown)
		return 0;
	o = owns[rnd_below(nown)];
	pages = (o.end - o.start) / PAGE;
	switch (rnd_below(4)) {
	case 0: /* whole */
		a = 0, b = pages;
		break;
	case 1: /* prefix */
		a = 0, b = 1 + rnd_below(pages);
		break;
	case 2: /* suffix */
		a = rnd_below(pages), b = pages;
		break;
	default: /* middle */
		a = rnd_below(pages);
		b = a + 1 + rnd_below(pages - a);
		break;
	}
	*s = o.start + a * PAGE;
	*e = o.start + b * PAGE;
	return 1;
}

/* ---------------------------------------------------------------- syscalls */

static unsigned long seq;

static long do_mmap(unsigned long hint, unsigned long len, int prot, int flags,
		    const char *why)
{
	long r = syscall(SYS_mmap, hint, len, prot, flags, -1L, 0L);
	if (r == -1) /* syscall() returns -1 and sets errno */
		r = -errno;
	out_dec(seq++);
	out_str(" mmap hint=");
	out_hex(hint);
	out_str(" len=");
	out_hex(len);
	out_str(" prot=");
	out_hex(prot);
	out_str(" flags=");
	out_hex(flags);
	out_str(" why=");
	out_str(why);
	out_str(" -> ");
	out_result(r, 1);
	out_str("\n");
	out_flush_line();
	/* exhaust fillers are never picked for munmap/mprotect/MAP_FIXED, so
	 * the "below mmap_base is full" state persists to the end */
	if ((r >= 0 || r <= -4096) && why[0] != 'e') {
		unsigned long s = (unsigned long)r;
		own_add(s, s + ((len + PAGE - 1) & ~(PAGE - 1)));
	}
	return r;
}

static long do_munmap(unsigned long s, unsigned long len)
{
	long r = syscall(SYS_munmap, s, len);
	if (r == -1)
		r = -errno;
	out_dec(seq++);
	out_str(" munmap ");
	out_hex(s);
	out_str(" ");
	out_hex(len);
	out_str(" -> ");
	out_result(r, 0);
	out_str("\n");
	out_flush_line();
	if (r == 0)
		own_remove(s, s + len);
	return r;
}

static long do_mprotect(unsigned long s, unsigned long len, int prot)
{
	long r = syscall(SYS_mprotect, s, len, prot);
	if (r == -1)
		r = -errno;
	out_dec(seq++);
	out_str(" mprotect ");
	out_hex(s);
	out_str(" ");
	out_hex(len);
	out_str(" ");
	out_hex(prot);
	out_str(" -> ");
	out_result(r, 0);
	out_str("\n");
	out_flush_line();
	return r;
}

/* ----------------------------------------------------------- random choices */

static const int prots[] = {
	PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
	PROT_READ, PROT_NONE, PROT_READ | PROT_EXEC,
};

static int rnd_prot(void) { return prots[rnd_below(6)]; }

static unsigned long rnd_len(void)
{
	switch (rnd_below(10)) {
	case 0:
	case 1:
	case 2: /* 1..16 pages */
		return (1 + rnd_below(16)) * PAGE;
	case 3:
	case 4: /* up to 2 MiB */
		return (1 + rnd_below(512)) * PAGE;
	case 5:
	case 6: /* exact multiple of 2 MiB: THP alignment rule */
		return (1 + rnd_below(chance(80) ? 16 : 200)) * PMD;
	case 7: /* a multiple of 2 MiB plus a bit: NOT THP-aligned on 6.x */
		return (1 + rnd_below(16)) * PMD + (1 + rnd_below(511)) * PAGE;
	case 8: /* big, hundreds of MiB, any page multiple */
		return (1 + rnd_below(600 * 256)) * PAGE;
	default: /* odd byte lengths (kernel rounds up to pages) */
		return 1 + rnd_below(5 * PAGE);
	}
}

/* A hint for a non-fixed mmap; writes a label into *why. */
static unsigned long rnd_hint(unsigned long len, const char **why)
{
	unsigned long s, e;
	int k = (int)rnd_below(100);
	if (k < 62) {
		*why = "nohint";
		return 0;
	}
	if (k < 70) {
		/* a random page in the lower part of the address space:
		 * almost always free */
		*why = "hint-random";
		return (0x10000UL + rnd_below(0x500000000000UL)) & ~(PAGE - 1);
	}
	if (k < 76 && pick_owned_subrange(&s, &e)) {
		*why = "hint-occupied";
		return s;
	}
	if (k < 81 && nown) {
		/* just past the end of one of ours: free or not */
		struct own o = owns[rnd_below(nown)];
		*why = "hint-adjacent";
		return o.end;
	}
	if (k < 85 && nown) {
		/* just below the start of one of ours, ending exactly there */
		struct own o = owns[rnd_below(nown)];
		*why = "hint-below";
		return o.start > len ? o.start - ((len + PAGE - 1) & ~(PAGE - 1)) : 0x10000;
	}
	if (k < 88) {
		/* between mmap_base and the stack */
		*why = "hint-abovebase";
		return 0x7ffff8000000UL + rnd_below(0x7f00000UL) / PAGE * PAGE;
	}
	if (k < 92) {
		*why = "hint-oob";
		switch (rnd_below(4)) {
		case 0: return TASK_SIZE - PAGE;     /* hint + len > TASK_SIZE */
		case 1: return TASK_SIZE;            /* exactly TASK_SIZE */
		case 2: return 0x800000000000UL + rnd_below(1UL << 40) / PAGE * PAGE;
		default: return 0xffff800000000000UL; /* kernel half */
		}
	}
	if (k < 95) {
		*why = "hint-unaligned";
		return 0x100000000UL + rnd_below(0x100000000000UL);
	}
	if (k < 98) {
		/* below mmap_min_addr: rounded by round_hint_to_min() */
		*why = "hint-low";
		return rnd_below(0x2000UL);
	}
	*why = "hint-2m-aligned";
	return (0x200000000UL + rnd_below(0x300000000000UL)) & ~(PMD - 1);
}

static void step_mmap(void)
{
	const char *why;
	unsigned long len = rnd_len();
	unsigned long hint = rnd_hint(len, &why);
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	int k = (int)rnd_below(100);
	if (k < 4) {
		flags |= MAP_GROWSDOWN;
	} else if (k < 6) {
		flags |= MAP_STACK;
	} else if (k < 8) {
		flags |= MAP_NORESERVE;
	}
	do_mmap(hint, len, rnd_prot(), flags, why);
}

static void step_fixed(void)
{
	unsigned long s, e;
	if (chance(60) && pick_owned_subrange(&s, &e)) {
		int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
		if (chance(15))
			flags |= MAP_GROWSDOWN;
		do_mmap(s, e - s, rnd_prot(), flags, "fixed-owned");
	} else {
		/* random place; NOREPLACE so we never clobber anything */
		unsigned long len = (1 + rnd_below(64)) * PAGE;
		unsigned long a;
		if (chance(50) && nown) {
			struct own o = owns[rnd_below(nown)];
			/* near one of ours: sometimes overlapping, sometimes not */
			a = o.end - (rnd_below(3) * PAGE);
		} else {
			a = (0x10000UL + rnd_below(0x500000000000UL)) & ~(PAGE - 1);
		}
		do_mmap(a, len, rnd_prot(),
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			"fixed-noreplace");
	}
}

static void step_munmap(void)
{
	unsigned long s, e;
	if (chance(95) && pick_owned_subrange(&s, &e))
		do_munmap(s, e - s);
	else /* something probably not mapped at all: a no-op */
		do_munmap((0x10000UL + rnd_below(0x500000000000UL)) & ~(PAGE - 1),
			  (1 + rnd_below(16)) * PAGE);
}

static void step_mprotect(void)
{
	unsigned long s, e;
	if (pick_owned_subrange(&s, &e))
		do_mprotect(s, e - s, rnd_prot());
}

/*
 * Fill every hole below mmap_base that is at least `min` bytes long with
 * PROT_NONE|MAP_NORESERVE mappings (no commit charge, no page tables), so
 * that later requests larger than `min` fail the top-down search and take
 * the bottom-up fallback from TASK_UNMAPPED_BASE.
 */
static void exhaust(unsigned long min)
{
	unsigned long len = 64 * TiB;
	int guard = 0;
	while (len >= min && guard++ < 400) {
		long r = do_mmap(0, len, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				 "exhaust");
		if (r < 0 && r > -4096)
			len /= 2;
	}
}

static unsigned long parse_ul(const char *s)
{
	unsigned long v = 0;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return v;
}

int main(int argc, char **argv)
{
	unsigned long seed, n, i, exhaust_at;
	struct rlimit rl;
	long pers;

	if (argc < 3) {
		static const char usage[] = "usage: trace SEED N\n";
		syscall(SYS_write, 2, usage, sizeof(usage) - 1);
		return 2;
	}
	seed = parse_ul(argv[1]);
	n = parse_ul(argv[2]);
	rng_state = seed * 0x2545f4914f6cdd1dULL + 1;

	syscall(SYS_getrlimit, RLIMIT_STACK, &rl);
	pers = syscall(SYS_personality, 0xffffffffUL);

	out_str("# linux-mmap-trace v1\n");
	out_str("seed ");
	out_dec(seed);
	out_str("\ncalls ");
	out_dec(n);
	out_str("\nrlimit-stack ");
	out_hex(rl.rlim_cur);
	out_str("\npersonality ");
	out_hex((unsigned long)pers);
	out_str("\n");
	out_flush_line();

	dump_maps("initial");

	/* Odd seeds run the "exhaust" phase (bottom-up fallback) two thirds
	 * of the way through. */
	exhaust_at = (seed & 1) ? n * 2 / 3 : (unsigned long)-1;

	for (i = 0; i < n; i++) {
		int k;
		if (i == exhaust_at) {
			exhaust(8 * MiB);
			continue;
		}
		k = (int)rnd_below(100);
		if (k < 52)
			step_mmap();
		else if (k < 57)
			step_fixed();
		else if (k < 80)
			step_munmap();
		else
			step_mprotect();
	}

	dump_maps("final");
	return 0;
}
