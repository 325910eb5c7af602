# type: xdp
# The packet walk with a counter beside it.
# Linux 6.18: E2BIG, "BPF program is too large. Processed 1000001 insn".
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r4 = 0
loop:
    r4 += 1
    r2 += 1
    if r2 < r3 goto loop
    r0 = 2
    exit
