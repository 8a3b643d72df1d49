#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft) for local runs and tests, provisioned from Maven Central.
#
#   kafka.sh fetch     resolve the broker's classpath once into the cache folder
#   kafka.sh start     fetch if needed, format storage if new, start, wait until it answers
#   kafka.sh stop      stop the broker this script started (same data folder)
#   kafka.sh status    exit 0 when the broker answers on its port
#
# Settings (environment):
#   FRESHREC_KAFKA_BOOTSTRAP  an existing cluster: when set, start/stop do nothing
#   FRESHREC_KAFKA_PORT       client port on 127.0.0.1            (default 29092)
#   FRESHREC_KAFKA_DATA       data, pid and log folder              (default ./.freshrec/kafka)
#   FRESHREC_KAFKA_CACHE      where the classpath is kept           (default ~/.cache/freshrec)
#   FRESHREC_KAFKA_HEAP       broker heap                           (default 512m)
#   FRESHREC_KAFKA_WAIT       seconds to wait for the broker        (default 90)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
port="${FRESHREC_KAFKA_PORT:-29092}"
controller_port="$((port + 1))"
data="${FRESHREC_KAFKA_DATA:-$PWD/.freshrec/kafka}"
cache="${FRESHREC_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/freshrec}"
lib="$cache/kafka-$version/lib"
wait_s="${FRESHREC_KAFKA_WAIT:-90}"

say() { printf 'kafka: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed; $2"
}

fetch() {
  if [[ -f "$lib/.complete" ]]; then return 0; fi
  need mvn "install Apache Maven (Debian: apt-get install maven) to fetch the broker"
  say "fetching Apache Kafka $version from Maven Central into $lib (once)"
  local tmp="$lib.partial"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" -DincludeScope=runtime \
    || die "Maven could not resolve org.apache.kafka:kafka_2.13:$version"
  touch "$tmp/.complete"
  rm -rf "$lib"
  mv "$tmp" "$lib"
}

answers() {
  # A TCP connect to the client port; the broker opens it only once it is ready to serve.
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

running_pid() {
  local pid
  [[ -f "$data/broker.pid" ]] || return 1
  pid="$(cat "$data/broker.pid")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

write_config() {
  mkdir -p "$data/logs"
  cat >"$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data/log
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=-1
PROPS
  cat >"$data/log4j2.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $data/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = info
logger.apache.name = org.apache.kafka
logger.apache.level = warn
PROPS
}

java_args() {
  java_argv=(java -Xms128m -Xmx"${FRESHREC_KAFKA_HEAP:-512m}" -XX:+UseG1GC
             -Dlog4j2.configurationFile="$data/log4j2.properties" -cp "$lib/*")
}

start() {
  if [[ -n "${FRESHREC_KAFKA_BOOTSTRAP:-}" ]]; then
    say "FRESHREC_KAFKA_BOOTSTRAP=$FRESHREC_KAFKA_BOOTSTRAP is set: using that cluster, starting nothing"
    return 0
  fi
  if running_pid >/dev/null && answers; then
    say "already running on 127.0.0.1:$port (pid $(running_pid))"
    return 0
  fi
  if answers; then
    die "port $port is taken by another process; set FRESHREC_KAFKA_PORT or FRESHREC_KAFKA_BOOTSTRAP"
  fi
  need java "install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
  fetch
  write_config
  java_args
  if [[ ! -f "$data/log/meta.properties" ]]; then
    local cluster_id
    cluster_id="$("${java_argv[@]}" kafka.tools.StorageTool random-uuid)"
    "${java_argv[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$data/server.properties" \
      >"$data/logs/format.log" 2>&1 || die "formatting storage failed, see $data/logs/format.log"
  fi
  say "starting broker on 127.0.0.1:$port (data in $data)"
  # its own session, so that the caller's terminal or process group ending leaves it running
  setsid "${java_argv[@]}" kafka.Kafka "$data/server.properties" \
    </dev/null >"$data/logs/stdout.log" 2>&1 &
  echo $! >"$data/broker.pid"
  local waited=0
  until answers; do
    if ! running_pid >/dev/null; then
      tail -n 30 "$data/logs/stdout.log" "$data/logs/server.log" >&2 2>/dev/null || true
      die "broker exited during start-up (logs in $data/logs)"
    fi
    if (( waited >= wait_s * 5 )); then
      die "broker did not answer on port $port within ${wait_s}s (logs in $data/logs)"
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
  say "ready on 127.0.0.1:$port"
}

stop() {
  if [[ -n "${FRESHREC_KAFKA_BOOTSTRAP:-}" ]]; then return 0; fi
  local pid
  if ! pid="$(running_pid)"; then
    say "not running"
    rm -f "$data/broker.pid"
    return 0
  fi
  kill "$pid"
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "broker did not stop within 30s; killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$data/broker.pid"
  say "stopped"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 {fetch|start|stop|status}" >&2; exit 2 ;;
esac
