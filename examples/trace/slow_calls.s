# A return probe in assembler: count calls slower than 1 ms, and keep the slowest duration seen.
# Map 0 is an array map with one 16-byte value: { u64 slow_calls; u64 max_ns; }.
    r2 = *(u64 *)(r1 + 8)            # duration of the call, ns
    r1 = map_value(0, 0)             # the value of map 0 (key 0)
    r3 = *(u64 *)(r1 + 8)
    if r2 <= r3 goto check_slow
    *(u64 *)(r1 + 8) = r2            # new maximum
check_slow:
    if r2 < 1000000 goto out
    r3 = 1
    lock *(u64 *)(r1 + 0) += r3
out:
    r0 = 0
    exit
