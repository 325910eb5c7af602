#!/usr/bin/env bash
# Record iperf UDP traffic to ports 5001 and 5002 between two network namespaces joined by a veth pair,
# as the bundled capture iperf.pcap was made. Run as root. Touches no real interface.
set -euo pipefail
out=${1:-iperf.pcap}
A=tsbpf-cap-a B=tsbpf-cap-b
cleanup() {
  for ns in "$A" "$B"; do
    # Processes started in a namespace outlive its deletion: end them first.
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] && kill $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT
cleanup
ip netns add "$A"; ip netns add "$B"
ip link add veth-a netns "$A" type veth peer name veth-b netns "$B"
ip -n "$A" addr add 10.77.0.1/24 dev veth-a; ip -n "$B" addr add 10.77.0.2/24 dev veth-b
ip -n "$A" link set veth-a up; ip -n "$B" link set veth-b up
ip -n "$A" link set lo up; ip -n "$B" link set lo up
ip netns exec "$B" iperf -u -s -p 5001 >/dev/null 2>&1 & s1=$!
ip netns exec "$B" iperf -u -s -p 5002 >/dev/null 2>&1 & s2=$!
ip netns exec "$B" tcpdump -Z root -i veth-b -U -s 0 -w "$out" >/dev/null 2>&1 & td=$!
sleep 1
command -v ping >/dev/null && ip netns exec "$A" ping -c 2 -i 0.2 10.77.0.2 >/dev/null
ip netns exec "$A" iperf -u -c 10.77.0.2 -p 5001 -t 1 -b 1M -l 1000 >/dev/null
ip netns exec "$A" iperf -u -c 10.77.0.2 -p 5002 -t 1 -b 1M -l 1000 >/dev/null
sleep 0.5
kill "$td" "$s1" "$s2"; wait "$td" 2>/dev/null || true
echo "wrote $out"
