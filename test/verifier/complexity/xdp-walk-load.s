# type: xdp
# The packet walk reading every byte after a bounds check. The check's exit side waits on the stack of
# pending branches at every iteration: the kernel gives up when 8193 of them wait.
# Linux 6.18: E2BIG, "The sequence of 8193 jumps is too complex." after 57350 processed insns.
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r0 = 0
loop:
    r4 = r2
    r4 += 1
    if r4 > r3 goto out
    r5 = *(u8 *)(r2 + 0)
    r0 += r5
    r2 = r4
    goto loop
out:
    r0 = 2
    exit
