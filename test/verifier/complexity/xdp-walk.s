# type: xdp
# A pointer walks the packet one byte at a time, bounded only by data_end: every iteration is a new state
# (the offset grows), so the verifier explores until its complexity limit.
# Linux 6.18: E2BIG, "BPF program is too large. Processed 1000001 insn".
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
loop:
    r2 += 1
    if r2 < r3 goto loop
    r0 = 2
    exit
