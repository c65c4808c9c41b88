#!/bin/bash
# A model of Fedora's `alternatives` (from chkconfig), for the Fedora-layout
# test image. Fedora's base image cannot be fetched here, so this stands in
# for the real tool; it is installed as /usr/bin/alternatives.
#
# It keeps the admin files in /var/lib/alternatives and the links in
# /etc/alternatives, in chkconfig's format, and behaves as chkconfig's
# alternatives.c does in what iptables-wrapper and Fedora's iptables
# scriptlets rely on:
#
# - Admin file: status (auto|manual), master link, slave name/link pairs, a
#   blank line, then per alternative: its path, "[@family@]priority[ initscript]"
#   and one line per slave (empty when it lacks that slave).
# - On reading, the current choice is whatever /etc/alternatives/NAME points
#   at; if that is not the best (the first of the highest priority) while the
#   status is auto, the status becomes manual. A link that points at no
#   registered path also makes it manual.
# - --install LINK NAME PATH PRIORITY [--slave LINK NAME PATH]... : the master
#   link must be the group's ("the primary link for NAME must be ..."); the
#   group's slaves become the union of the old and new ones, sorted by link
#   path once the group has more than one alternative, and a slave whose name
#   is known must keep its link path. A new alternative with a higher
#   priority becomes the best. Links change only in auto status, or when PATH
#   was registered already (then they are forced).
# - --set NAME PATH: PATH (or a family name) must be registered, else exit 2
#   with "PATH has not been configured as an alternative for NAME"; the
#   status becomes manual and the links are forced to PATH, removing slave
#   links PATH does not provide.
# - --auto NAME: status auto, links to the best.
# - --display NAME, --list: as chkconfig prints them.
# - Anything else, including Debian-only options such as --query or --quiet,
#   is a usage error with exit status 2.
# - Admin files are written to NAME.new (which must not exist) and renamed.
#
# What it does not model: --config, --remove, --remove-all, --add-slave,
# --remove-slave, --initscript services, --test, --keep-missing.
set -euo pipefail

altdir=/etc/alternatives
admindir=/var/lib/alternatives

usage() {
    echo "usage: alternatives --install <link> <name> <path> <priority> [--slave <link> <name> <path>]*" >&2
    echo "       alternatives --auto <name> | --display <name> | --set <name> <path> | --list" >&2
    exit 2
}
err() {
    echo "$*" >&2
}
# chkconfig collapses repeated slashes in the paths it is given.
norm() {
    local s=$1
    while [[ $s == *//* ]]; do s=${s//\/\//\/}; done
    printf '%s' "$s"
}

# The group being worked on.
status=auto
master=""
s_title=()
s_link=()
a_path=()
a_prio=()
a_family=()
a_init=()
a_slaves=() # per alternative: its slave targets joined by newlines, in s_title order
best=0
current=-1
current_link=""

# read_config NAME: 0 read, 3 no admin file, 2 link unreadable, 1 bad file.
read_config() {
    local title=$1 file=$admindir/$1 line
    status=auto master="" s_title=() s_link=() a_path=() a_prio=() a_family=() a_init=() a_slaves=()
    best=0 current=-1 current_link=""
    [[ -e $file ]] || return 3
    local -a lines=()
    mapfile -t lines <"$file"
    local i=0 n=${#lines[@]}
    next() {
        if ((i >= n)); then return 1; fi
        line=${lines[i]}
        line=${line#"${line%%[![:space:]]*}"}
        i=$((i + 1))
    }
    next || { err "$file empty!"; return 1; }
    case $line in
    auto | manual) status=$line ;;
    *) err "bad mode on line 1 of $file"; return 1 ;;
    esac
    if ! next || [[ $line != /* ]]; then
        err "bad primary link in $file"
        return 1
    fi
    master=$line
    while next && [[ -n $line ]]; do
        [[ $line != /* ]] || { err "path $line unexpected in $file"; return 1; }
        s_title+=("$line")
        if ! next || [[ -z $line ]]; then
            err "missing path for slave in $file"
            return 1
        fi
        s_link+=("$line")
    done
    while next && [[ -n $line ]]; do
        [[ $line == /* ]] || { err "path to alternate expected in $file"; return 1; }
        a_path+=("$line")
        next || line=""
        local fam="" prio
        if [[ $line == @* ]]; then
            line=${line#@}
            fam=${line%%@*}
            [[ $line == *@* && -n $fam ]] || { err "closing '@' missing or the family is empty in $file"; return 1; }
            line=${line#*@}
        fi
        prio=${line%%[!0-9-]*}
        [[ -n $prio ]] || { err "numeric priority expected in $file"; return 1; }
        local rest=${line#"$prio"}
        rest=${rest#"${rest%%[![:space:]]*}"}
        a_family+=("$fam") a_prio+=("$prio") a_init+=("$rest")
        local k=$((${#a_path[@]} - 1)) j targets=""
        if ((a_prio[k] > a_prio[best])); then best=$k; fi
        for ((j = 0; j < ${#s_title[@]}; j++)); do
            next || line=""
            [[ -z $line || $line == /* ]] || { err "slave path expected in $file"; return 1; }
            targets+="$line"$'\n'
        done
        a_slaves+=("$targets")
    done
    local target
    target=$(readlink "$altdir/$title") || { err "failed to read link $master"; return 2; }
    current_link=$target
    for ((k = 0; k < ${#a_path[@]}; k++)); do
        if [[ ${a_path[k]} == "$target" ]]; then current=$k; break; fi
    done
    if ((current < 0)); then
        status=manual
    elif ((current != best)) && [[ $status == auto ]]; then
        status=manual
    fi
    return 0
}

# slave_target ALT J: the target of slave J of alternative ALT (may be empty).
slave_target() {
    local -a t=()
    mapfile -t t <<<"${a_slaves[$1]}"
    printf '%s' "${t[$2]:-}"
}

is_link_or_missing() {
    [[ -L $1 || ! -e $1 ]]
}

make_links() { # FACILITY TITLE TARGET
    local sl=$altdir/$2
    if is_link_or_missing "$1"; then
        if [[ $(readlink "$1" 2>/dev/null) != "$sl" ]]; then
            rm -f "$1"
            ln -s "$sl" "$1" || { err "failed to link $1 -> $sl"; return 1; }
        fi
    else
        err "failed to link $1 -> $sl: $1 exists and it is not a symlink"
    fi
    if [[ $(readlink "$sl" 2>/dev/null) != "$3" ]]; then
        rm -f "$sl"
        ln -s "$3" "$sl" || { err "failed to link $sl -> $3"; return 1; }
    fi
}

remove_links() { # FACILITY TITLE
    if [[ -L $altdir/$2 ]]; then rm -f "$altdir/$2"; fi
    if [[ -L $1 ]]; then rm -f "$1"; fi
}

write_state() { # TITLE FORCE
    local title=$1 force=$2 new=$admindir/$1.new k j
    if [[ -e $new ]]; then err "$new already exists"; return 1; fi
    {
        echo "$status"
        echo "$master"
        for ((j = 0; j < ${#s_title[@]}; j++)); do
            echo "${s_title[j]}"
            echo "${s_link[j]}"
        done
        echo
        for ((k = 0; k < ${#a_path[@]}; k++)); do
            echo "${a_path[k]}"
            local p=${a_prio[k]}
            [[ -z ${a_family[k]} ]] || p="@${a_family[k]}@$p"
            [[ -z ${a_init[k]} ]] || p="$p ${a_init[k]}"
            echo "$p"
            for ((j = 0; j < ${#s_title[@]}; j++)); do
                slave_target "$k" "$j"
                echo
            done
        done
    } >"$new"
    mv -f "$new" "$admindir/$title"
    if [[ $status == auto ]]; then current=$best; fi
    # As chkconfig does: with no current choice, alternative 0 is linked.
    local alt=$((current > 0 ? current : 0)) rc=0 t
    if [[ $force == 1 || $status == auto ]]; then
        make_links "$master" "$title" "${a_path[alt]}" || rc=1
        for ((j = 0; j < ${#s_title[@]}; j++)); do
            t=$(slave_target "$alt" "$j")
            if [[ -n $t ]]; then
                make_links "${s_link[j]}" "${s_title[j]}" "$t" || rc=1
            else
                remove_links "${s_link[j]}" "${s_title[j]}" || rc=1
            fi
        done
    fi
    return "$rc"
}

do_install() { # LINK NAME PATH PRIO then slave triples in n_*
    local link=$1 title=$2 path=$3 prio=$4 rc=0 k j i
    read_config "$title" || rc=$?
    if ((rc != 0 && rc != 2 && rc != 3)); then exit 2; fi
    if ((${#a_path[@]} == 0)); then
        master=$link
        s_title=("${n_title[@]}") s_link=("${n_link[@]}")
        a_path=("$path") a_prio=("$prio") a_family=("$family") a_init=("")
        local targets=""
        for ((j = 0; j < ${#n_title[@]}; j++)); do targets+="${n_target[j]}"$'\n'; done
        a_slaves=("$targets")
        best=0
        write_state "$title" 0 || exit 2
        return
    fi
    if [[ $link != "$master" ]]; then
        err "the primary link for $title must be $master"
        exit 2
    fi
    # The template: the group's slaves plus new ones (matched by link path).
    local -a t_title=("${s_title[@]}") t_link=("${s_link[@]}")
    for ((i = 0; i < ${#n_title[@]}; i++)); do
        local found=0
        for ((j = 0; j < ${#t_link[@]}; j++)); do
            if [[ ${t_link[j]} == "${n_link[i]}" ]]; then found=1; break; fi
        done
        if ((found == 0)); then t_title+=("${n_title[i]}") t_link+=("${n_link[i]}"); fi
    done
    # Every alternative's targets keyed by slave name, before the reshuffle.
    local -A tgt=()
    for ((k = 0; k < ${#a_path[@]}; k++)); do
        for ((j = 0; j < ${#s_title[@]}; j++)); do
            tgt[$k/${s_title[j]}]=$(slave_target "$k" "$j")
            tgt[$k/${s_title[j]}/link]=${s_link[j]}
        done
    done
    local force=0 idx=-1
    for ((k = 0; k < ${#a_path[@]}; k++)); do
        if [[ ${a_path[k]} == "$path" ]]; then idx=$k; break; fi
    done
    if ((idx >= 0)); then
        force=1
    else
        idx=${#a_path[@]}
        a_path+=("$path") a_prio+=("$prio") a_family+=("$family") a_init+=("")
        if ((a_prio[best] < prio)); then best=$idx; fi
    fi
    a_prio[idx]=$prio a_family[idx]=$family a_init[idx]=""
    for key in "${!tgt[@]}"; do
        if [[ $key == "$idx/"* ]]; then unset "tgt[$key]"; fi
    done
    for ((i = 0; i < ${#n_title[@]}; i++)); do
        tgt[$idx/${n_title[i]}]=${n_target[i]}
        tgt[$idx/${n_title[i]}/link]=${n_link[i]}
    done
    if ((force == 1)); then
        # Slaves that no alternative provides any more are dropped.
        local -a keep_title=() keep_link=()
        for ((j = 0; j < ${#t_title[@]}; j++)); do
            local provided=0
            for ((k = 0; k < ${#a_path[@]}; k++)); do
                if [[ -n ${tgt[$k/${t_title[j]}]:-} ]]; then provided=1; fi
            done
            if ((provided == 1)); then
                keep_title+=("${t_title[j]}") keep_link+=("${t_link[j]}")
            else
                remove_links "${t_link[j]}" "${t_title[j]}"
            fi
        done
        t_title=("${keep_title[@]}") t_link=("${keep_link[@]}")
    fi
    # Sorted by link path, as chkconfig's qsort(strcmp) leaves them.
    local -a order=()
    mapfile -t order < <(for ((j = 0; j < ${#t_link[@]}; j++)); do printf '%s\t%s\n' "${t_link[j]}" "$j"; done | LC_ALL=C sort -t $'\t' -k1,1 | cut -f2)
    s_title=() s_link=()
    for j in "${order[@]}"; do s_title+=("${t_title[j]}") s_link+=("${t_link[j]}"); done
    a_slaves=()
    for ((k = 0; k < ${#a_path[@]}; k++)); do
        local targets=""
        for ((j = 0; j < ${#s_title[@]}; j++)); do
            local known=${tgt[$k/${s_title[j]}/link]:-}
            if [[ -n $known && $known != "${s_link[j]}" ]]; then
                err "link $known incorrect for slave ${s_title[j]} (${s_link[j]} ${s_title[j]})"
                exit 2
            fi
            targets+="${tgt[$k/${s_title[j]}]:-}"$'\n'
        done
        a_slaves+=("$targets")
    done
    write_state "$title" "$force" || exit 2
}

do_set() { # NAME PATH
    local title=$1 path=$2 k found=-1
    read_config "$title" || exit 2
    for ((k = 0; k < ${#a_path[@]}; k++)); do
        if [[ ${a_path[k]} == "$path" ]]; then found=$k; break; fi
    done
    if ((found < 0)); then
        for ((k = 0; k < ${#a_path[@]}; k++)); do
            if [[ -n ${a_family[k]} && ${a_family[k]} == "$path" ]] &&
                ((found < 0 || a_prio[k] > a_prio[found])); then
                found=$k
            fi
        done
    fi
    if ((found < 0)); then
        err "$path has not been configured as an alternative for $title"
        exit 2
    fi
    current=$found
    status=manual
    write_state "$title" 1 || exit 2
}

do_auto() { # NAME
    read_config "$1" || exit 2
    current=$best
    status=auto
    write_state "$1" 0 || exit 2
}

do_display() { # NAME
    local k j
    read_config "$1" || exit 2
    echo "$1 - status is $status."
    echo " link currently points to $current_link"
    for ((k = 0; k < ${#a_path[@]}; k++)); do
        local fam=""
        [[ -z ${a_family[k]} ]] || fam="family ${a_family[k]} "
        echo "${a_path[k]} - ${fam}priority ${a_prio[k]}"
        for ((j = 0; j < ${#s_title[@]}; j++)); do
            echo " slave ${s_title[j]}: $(slave_target "$k" "$j")"
        done
    done
    echo "Current \`best' version is ${a_path[best]}."
}

do_list() {
    local f
    for f in "$admindir"/*; do
        [[ -f $f ]] || continue
        read_config "$(basename "$f")" || exit 2
        printf '%s\t%s\t%s\n' "$(basename "$f")" "$status" "$current_link"
    done
}

cmd="" family=""
n_title=() n_link=() n_target=()
args=()
need_abs() { [[ ${1:-} == /* ]] || usage; }
need_name() { [[ -n ${1:-} && $1 != /* ]] || usage; }
while (($#)); do
    case $1 in
    --install)
        [[ -z $cmd ]] || usage
        cmd=install
        need_abs "${2:-}"; need_name "${3:-}"; need_abs "${4:-}"
        [[ ${5:-} =~ ^-?[0-9]+$ ]] || usage
        args=("$(norm "$2")" "$3" "$(norm "$4")" "$5")
        shift 5
        ;;
    --slave)
        [[ $cmd == install ]] || usage
        need_abs "${2:-}"; need_name "${3:-}"; need_abs "${4:-}"
        n_link+=("$(norm "$2")") n_title+=("$3") n_target+=("$(norm "$4")")
        shift 4
        ;;
    --family)
        [[ $cmd == install && -n ${2:-} && $2 != *@* ]] || usage
        family=$2
        shift 2
        ;;
    --set)
        [[ -z $cmd ]] || usage
        need_name "${2:-}"
        [[ -n ${3:-} ]] || usage
        cmd=set args=("$2" "$(norm "$3")")
        shift 3
        ;;
    --auto | --display)
        [[ -z $cmd ]] || usage
        need_name "${2:-}"
        cmd=${1#--} args=("$2")
        shift 2
        ;;
    --list)
        [[ -z $cmd ]] || usage
        cmd=list
        shift
        ;;
    --verbose)
        shift
        ;;
    --altdir | --admindir)
        [[ -n ${2:-} ]] || usage
        if [[ $1 == --altdir ]]; then altdir=$(norm "$2"); else admindir=$(norm "$2"); fi
        shift 2
        ;;
    *)
        usage
        ;;
    esac
done
[[ -d $altdir ]] || { err "altdir $altdir invalid"; exit 2; }
[[ -d $admindir ]] || { err "admindir $admindir invalid"; exit 2; }
case $cmd in
install) do_install "${args[@]}" ;;
set) do_set "${args[@]}" ;;
auto) do_auto "${args[@]}" ;;
display) do_display "${args[@]}" ;;
list) do_list ;;
*) usage ;;
esac
