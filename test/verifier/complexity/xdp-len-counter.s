# type: xdp
# A counter bounded by the packet length (data_end - data, an unknown number).
# Linux 6.18: E2BIG, "BPF program is too large. Processed 1000001 insn".
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r3 -= r2
    r4 = 0
loop:
    r4 += 1
    if r4 < r3 goto loop
    r0 = 2
    exit
