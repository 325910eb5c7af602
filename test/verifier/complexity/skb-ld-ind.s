# type: socket_filter
# Sums every byte of the packet with legacy LD_IND loads, up to skb->len.
# Linux 6.18: E2BIG, "BPF program is too large. Processed 1000001 insn".
    r6 = r1
    r7 = *(u32 *)(r6 + 0)
    r8 = 0
    r9 = 0
loop:
    r0 = *(u8 *)skb[r8 + 0]
    r9 += r0
    r8 += 1
    if r8 < r7 goto loop
    r0 = r9
    exit
