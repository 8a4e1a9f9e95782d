#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for the test that runs the smoke workflow through
# `--profile profiles/slurm` (tests/workflow/test_slurm.py). Needs root (it installs Debian's
# packages and runs slurmd as root, as a one-node test cluster does).
#
#   bash .ci/slurm.sh up     # install if missing, start munged/slurmctld/slurmd, wait for the node
#   bash .ci/slurm.sh down   # stop only what `up` started, remove its state folder
#
# It never touches a SLURM the machine already has: it refuses to start where
# /etc/slurm/slurm.conf exists (use that cluster: snakemake --profile profiles/slurm). Its state
# and logs live in $SLURM_DIR (default /tmp/replication-slurm), on ports 16817/16818, under the
# cluster name replication-ci. The configuration must sit at the default path: the executor's job
# step removes SLURM_* variables (SLURM_CONF among them) before its nested srun. What `up`
# started or wrote is listed in $SLURM_DIR/started, and `down` undoes exactly that.
set -euo pipefail

SLURM_DIR="${SLURM_DIR:-/tmp/replication-slurm}"
CONF=/etc/slurm/slurm.conf
PACKAGES=(slurmctld slurmd slurm-client munge)

log() { echo "slurm.sh: $*" >&2; }

install_packages() {
    local missing=()
    for bin in slurmctld slurmd sbatch munged; do
        command -v "$bin" >/dev/null || missing+=("$bin")
    done
    [ ${#missing[@]} -eq 0 ] && return
    [ "$(id -u)" = 0 ] || { log "missing ${missing[*]}; as root: apt-get install ${PACKAGES[*]}"; exit 1; }
    log "installing ${PACKAGES[*]} (missing: ${missing[*]})"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
}

write_conf() {
    local node cpus mem_mb
    node="$(hostname -s)"
    cpus="$(nproc)"
    # RealMemory below the machine's: slurmd refuses a node that claims more than it has.
    mem_mb=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 9 / 10 ))
    mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/spool" "$SLURM_DIR/log" "$(dirname "$CONF")"
    cat >"$CONF" <<EOF
# Written by .ci/slurm.sh: a one-node test cluster (no accounting, no cgroups).
ClusterName=replication-ci
SlurmctldHost=$node
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Finished jobs stay visible to squeue for 5 minutes: without accounting, squeue is how
# Snakemake's executor learns that a job ended (profiles/slurm: status command squeue).
MinJobAge=300
ReturnToService=2
SchedulerType=sched/backfill
NodeName=$node CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=main Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {  # start NAME COMMAND...: run a daemon and remember that we started it
    local name="$1"; shift
    "$@"
    echo "$name" >>"$SLURM_DIR/started"
}

up() {
    if [ -e "$CONF" ]; then
        if ! grep -q '^# Written by .ci/slurm.sh' "$CONF"; then
            log "$CONF exists: this machine has a SLURM already; not starting another"
            log "(run the workflow on it: snakemake --profile profiles/slurm)"
            exit 1
        fi
        # Left by an earlier `up` whose `down` never ran (a killed CI job): stop its daemons,
        # which read this file, and start afresh.
        log "restarting the test cluster an earlier run left behind"
        pkill -x slurmd 2>/dev/null || true
        pkill -x slurmctld 2>/dev/null || true
        sleep 2
        rm -rf "$SLURM_DIR"
    fi
    install_packages
    write_conf
    echo conf >"$SLURM_DIR/started"
    if ! pgrep -x munged >/dev/null; then
        mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null || true
        start munged runuser -u munge -- /usr/sbin/munged
    fi
    start slurmctld /usr/sbin/slurmctld
    start slurmd /usr/sbin/slurmd
    for _ in $(seq 60); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            log "up: $(sinfo -h -o '%N %c CPUs %m MB %T')"
            return
        fi
        sleep 1
    done
    log "the node did not become idle in 60 s; logs in $SLURM_DIR/log:"
    tail -n 20 "$SLURM_DIR"/log/*.log >&2 || true
    exit 1
}

down() {
    [ -f "$SLURM_DIR/started" ] || { log "nothing to stop ($SLURM_DIR/started not found)"; return; }
    local pid
    for name in slurmd slurmctld munged; do
        grep -qx "$name" "$SLURM_DIR/started" || continue
        case "$name" in
            slurmd) pid="$(cat "$SLURM_DIR/slurmd.pid" 2>/dev/null || true)" ;;
            slurmctld) pid="$(cat "$SLURM_DIR/slurmctld.pid" 2>/dev/null || true)" ;;
            munged) pid="$(cat /run/munge/munged.pid 2>/dev/null || pgrep -x munged || true)" ;;
        esac
        if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
            # wait for it to exit: slurmctld writes its state folder while it shuts down
            for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            log "stopped $name ($pid)"
        fi
    done
    if grep -qx conf "$SLURM_DIR/started"; then rm -f "$CONF"; fi
    rm -rf "$SLURM_DIR" 2>/dev/null || { sleep 2; rm -rf "$SLURM_DIR"; }
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
