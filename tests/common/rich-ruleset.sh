# shellcheck shell=sh
# A rich ruleset: rules of every kind real clients use, in both families of
# both modes and several tables, with user chains: 10 rules per family and
# mode (8 in filter, nat, mangle and raw, plus one DNAT). Shared by
# tests/kernel_probes.rs (kernel source against process source on x86_64)
# and the arm64 VM tests (tests/vm/scenarios.sh).
for m in legacy nft; do
  for f in iptables ip6tables; do
    c="$f-$m"
    $c -N KUBE-SERVICES
    $c -A INPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
    $c -A KUBE-SERVICES -p tcp -m multiport --dports 80,443 -m conntrack --ctstate NEW -j ACCEPT
    $c -A INPUT -m addrtype --dst-type LOCAL -j RETURN
    $c -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    $c -t nat -N KUBE-POSTROUTING
    $c -t nat -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
    $c -t nat -A KUBE-POSTROUTING -j MASQUERADE
    $c -t mangle -N KUBE-MARK
    $c -t mangle -A PREROUTING -j KUBE-MARK
    $c -t mangle -A KUBE-MARK -j MARK --set-xmark 0x4000/0x4000
    $c -t raw -A PREROUTING -p udp --dport 53 -j NOTRACK
  done
  iptables-$m -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.5:80
  ip6tables-$m -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination '[fd00::5]:80'
done
