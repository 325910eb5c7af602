/* The user program of the USDT tests: one probe point, tsbpf_test:tick, with a semaphore, its ELF note
 * written by hand (the layout <sys/sdt.h> emits: .note.stapsdt type 3, owner "stapsdt", then the probe's
 * address, .stapsdt.base's address, the semaphore's address, provider, name, argument spec). After a byte
 * on stdin it passes the probe N times (argv[1]), firing it only while the semaphore is non-zero — i.e.
 * while a tracer is attached — and prints how many times it fired and the semaphore's value. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Semaphores live in .probes, as <sys/sdt.h> puts them; the kernel increments it through ref_ctr_offset. */
volatile unsigned short tsbpf_test_tick_semaphore __attribute__((section(".probes"), used)) = 0;

#define TICK(arg)                                                                                   \
	__asm__ __volatile__("990: nop\n"                                                            \
			     ".pushsection .note.stapsdt,\"\",\"note\"\n"                             \
			     ".balign 4\n"                                                            \
			     ".4byte 992f-991f, 994f-993f, 3\n"                                       \
			     "991: .asciz \"stapsdt\"\n"                                              \
			     "992: .balign 4\n"                                                       \
			     "993: .8byte 990b\n"                                                     \
			     ".8byte _.stapsdt.base\n"                                                \
			     ".8byte tsbpf_test_tick_semaphore\n"                                     \
			     ".asciz \"tsbpf_test\"\n"                                                \
			     ".asciz \"tick\"\n"                                                      \
			     ".asciz \"-4@%0\"\n"                                                     \
			     "994: .balign 4\n"                                                       \
			     ".popsection\n"                                                          \
			     ".ifndef _.stapsdt.base\n"                                               \
			     ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n"  \
			     ".weak _.stapsdt.base\n"                                                 \
			     ".hidden _.stapsdt.base\n"                                               \
			     "_.stapsdt.base: .space 1\n"                                             \
			     ".size _.stapsdt.base, 1\n"                                              \
			     ".popsection\n"                                                          \
			     ".endif\n" ::"r"(arg))

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	int fired = 0;
	char c;
	if (read(0, &c, 1) != 1)
		return 1;
	for (int i = 0; i < n; i++) {
		if (tsbpf_test_tick_semaphore) {
			TICK(i);
			fired++;
		}
	}
	printf("fired %d semaphore %d\n", fired, tsbpf_test_tick_semaphore);
	return 0;
}
