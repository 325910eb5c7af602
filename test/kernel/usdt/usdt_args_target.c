/* The user program of the USDT argument test: probe tsbpf_test:args with three arguments of different
 * kinds, its ELF note written by hand (the layout <sys/sdt.h> emits, as in usdt_target.c; no semaphore):
 * a signed 4-byte register (`-4@%eax`), an 8-byte memory operand relative to a register (`8@N(%rsp)`)
 * and a constant (`-2@$-7`). After a byte on stdin it passes the probe once with argv[1] and argv[2]. */
#include <stdlib.h>
#include <unistd.h>

#define ARGS(a, b)                                                                                  \
	__asm__ __volatile__("990: nop\n"                                                            \
			     ".pushsection .note.stapsdt,\"\",\"note\"\n"                             \
			     ".balign 4\n"                                                            \
			     ".4byte 992f-991f, 994f-993f, 3\n"                                       \
			     "991: .asciz \"stapsdt\"\n"                                              \
			     "992: .balign 4\n"                                                       \
			     "993: .8byte 990b\n"                                                     \
			     ".8byte _.stapsdt.base\n"                                                \
			     ".8byte 0\n"                                                             \
			     ".asciz \"tsbpf_test\"\n"                                                \
			     ".asciz \"args\"\n"                                                      \
			     ".asciz \"-4@%0 8@%1 -2@%2\"\n"                                          \
			     "994: .balign 4\n"                                                       \
			     ".popsection\n"                                                          \
			     ".ifndef _.stapsdt.base\n"                                               \
			     ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n"  \
			     ".weak _.stapsdt.base\n"                                                 \
			     ".hidden _.stapsdt.base\n"                                               \
			     "_.stapsdt.base: .space 1\n"                                             \
			     ".size _.stapsdt.base, 1\n"                                              \
			     ".popsection\n"                                                          \
			     ".endif\n" ::"r"(a),                                                     \
			     "m"(b), "n"(-7))

int main(int argc, char **argv)
{
	int a = argc > 1 ? atoi(argv[1]) : 0;
	/* On the stack, so the operand is an offset from %rsp (not a %rip-relative symbol). */
	volatile long b = argc > 2 ? atol(argv[2]) : 0;
	char c;
	if (read(0, &c, 1) != 1)
		return 1;
	ARGS(a, b);
	return 0;
}
