/*
 * realloc: a realloc loop of large blocks through glibc's malloc, whose
 * realloc of an mmap'ed chunk calls mremap(MREMAP_MAYMOVE).  Run it under
 * strace to capture the calls glibc makes:
 *
 *   setarch "$(uname -m)" -R strace -f -e trace=%memory,openat,close,execve \
 *       -o realloc.strace ./realloc > realloc.txt
 *
 * stdout gets the initial (at main) and final /proc/self/maps in the
 * linux-syscall-trace format (tests/data/linux_syscalls/README.md); the
 * maps are read and written with raw syscalls so that the dump itself does
 * not allocate.  madvise(0, 0, MADV_NORMAL), a no-op, marks in the strace
 * log where main's own calls begin (right after the initial dump) and end
 * (right before the final one).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static char buf[1 << 20];

static void out(const char *s)
{
	syscall(SYS_write, 1, s, strlen(s));
}

static void dump_maps(const char *tag)
{
	long fd = syscall(SYS_open, "/proc/self/maps", O_RDONLY | O_CLOEXEC), n = 0, r;
	while (fd >= 0 && (r = syscall(SYS_read, fd, buf + n, sizeof(buf) - n)) > 0)
		n += r;
	syscall(SYS_close, fd);
	out("maps-begin ");
	out(tag);
	out("\n");
	syscall(SYS_write, 1, buf, n);
	out("maps-end ");
	out(tag);
	out("\n");
}

#define NBLK 4

int main(void)
{
	char *p[NBLK] = {0};
	size_t len[NBLK] = {0};
	int round, i;

	out("# linux-syscall-trace v1\nprogram realloc\n");
	dump_maps("initial");
	/* A no-op that strace shows: everything after it is main's doing. */
	syscall(SYS_madvise, 0, 0, MADV_NORMAL);
	/* Four blocks grow in turn, 200 KiB to ~24 MiB, so that each realloc
	 * either grows in place or has to move past its neighbours. */
	for (round = 0; round < 24; round++) {
		for (i = 0; i < NBLK; i++) {
			size_t n = (size_t)(200 + round * (1000 + 37 * i)) * 1024;
			char *q = realloc(p[i], n);
			if (!q)
				return 1;
			q[n - 1] = (char)i;
			p[i] = q;
			len[i] = n;
		}
	}
	/* Shrink two of them, free one, then a malloc/free of the same size:
	 * glibc raises its mmap threshold after freeing an mmap'ed chunk. */
	p[0] = realloc(p[0], len[0] / 4);
	p[1] = realloc(p[1], 300 * 1024);
	free(p[2]);
	p[2] = malloc(512 * 1024);
	free(p[2]);
	p[2] = malloc(64 * 1024 * 1024);
	p[2][0] = 1;
	p[2] = realloc(p[2], 65 * 1024 * 1024);
	for (i = 0; i < NBLK; i++)
		free(p[i]);
	syscall(SYS_madvise, 0, 0, MADV_NORMAL);
	dump_maps("final");
	return 0;
}
