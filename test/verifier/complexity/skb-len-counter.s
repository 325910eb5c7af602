# type: socket_filter
# A counter bounded by skb->len.
# Linux 6.18: E2BIG, "BPF program is too large. Processed 1000001 insn".
    r2 = *(u32 *)(r1 + 0)
    r3 = 0
loop:
    r3 += 1
    if r3 < r2 goto loop
    r0 = 0
    exit
