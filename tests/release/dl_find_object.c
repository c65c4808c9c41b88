/* _dl_find_object for the musl builds of the amd64 and arm64 releases
 * (tests/release/build.sh).
 *
 * Why this exists: the musl build takes its unwinder from Debian's gcc,
 * libgcc_eh.a, and that gcc was built against glibc 2.41, so its
 * _Unwind_Find_FDE asks glibc's _dl_find_object (glibc 2.35 and later) for
 * the caller's unwind table. musl has no such function. The release binary
 * aborts on panic and is stripped, so it unwinds only to print a backtrace,
 * but the unit tests (`make cross-test`) catch panics by unwinding.
 *
 * This is glibc's interface (<dlfcn.h>; the x86_64 and aarch64 layout: no
 * dlfo_eh_dbase, no dlfo_eh_count) answered from dl_iterate_phdr, which musl has: a static
 * executable is one object, and its unwind table is its PT_GNU_EH_FRAME
 * segment, the address glibc puts in dlfo_eh_frame. Returns 0 when pc lies
 * in a loaded segment, -1 otherwise, as glibc does. */
#include <link.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__x86_64__) && !defined(__aarch64__)
/* i386 adds dlfo_eh_dbase, 32-bit arm dlfo_eh_count and its own unwind
 * tables (PT_ARM_EXIDX). */
#error "dl_find_object.c knows glibc's struct only for x86_64 and aarch64"
#endif

struct dl_find_object {
	unsigned long long dlfo_flags;
	void *dlfo_map_start;
	void *dlfo_map_end;
	struct link_map *dlfo_link_map;
	void *dlfo_eh_frame;
	unsigned long long __dlfo_reserved[7];
};
_Static_assert(sizeof(struct dl_find_object) == 96, "glibc's struct dl_find_object is 96 bytes here");

struct lookup {
	uintptr_t pc;
	struct dl_find_object *result;
	int found;
};

/* Addresses are compared as integers: a non-PIE executable has
 * dlpi_addr 0, and pointer arithmetic from a null pointer is undefined. */
static int look_in(struct dl_phdr_info *info, size_t size, void *data)
{
	struct lookup *l = data;
	uintptr_t start = UINTPTR_MAX, end = 0, eh_frame = 0;
	int inside = 0;
	(void)size;
	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		uintptr_t at = (uintptr_t)info->dlpi_addr + (uintptr_t)p->p_vaddr;
		if (p->p_type == PT_LOAD) {
			if (l->pc >= at && l->pc - at < p->p_memsz)
				inside = 1;
			if (at < start)
				start = at;
			if (at + p->p_memsz > end)
				end = at + p->p_memsz;
		} else if (p->p_type == PT_GNU_EH_FRAME) {
			eh_frame = at;
		}
	}
	if (!inside)
		return 0;
	l->result->dlfo_flags = 0;
	l->result->dlfo_map_start = (void *)start;
	l->result->dlfo_map_end = (void *)end;
	l->result->dlfo_link_map = NULL;
	l->result->dlfo_eh_frame = (void *)eh_frame;
	l->found = 1;
	return 1;
}

int _dl_find_object(void *pc, struct dl_find_object *result)
{
	struct lookup l = { (uintptr_t)pc, result, 0 };
	dl_iterate_phdr(look_in, &l);
	return l.found ? 0 : -1;
}
