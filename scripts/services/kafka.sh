#!/usr/bin/env bash
# Throwaway Apache Kafka (KRaft, one node that is both broker and controller) for tests:
#   kafka.sh start|restart|down|kill|up|stop|url DIR   (see lib.sh); URL: 127.0.0.1:PORT (bootstrap servers)
#   kafka.sh tool CLASS ARGS...                   run a Kafka CLI class on the cached jars, e.g.
#     kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:PORT --list
# Kafka has no Debian package: its jars come from Maven Central (kafka/pom.xml) into a cache
# outside the repo, once per version. Environment: STREAMGATE_KAFKA_VERSION (default below).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICE=kafka
READY_TIMEOUT=120
LOG_FILE=server.log
KAFKA_VERSION=${STREAMGATE_KAFKA_VERSION:-4.3.1}
POM="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka/pom.xml"
KAFKA_HOME="$STREAMGATE_CACHE/kafka-$KAFKA_VERSION"
# Small heap: tests move little data, and several runs may share a 2-core machine.
JAVA_OPTS=(-Xms128m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true)

kafka_java() { java "${JAVA_OPTS[@]}" -cp "$KAFKA_HOME/libs/*" "$@"; }

# Fetch the jars once. Concurrent test runs wait on a lock instead of downloading twice, and
# the jars land under a temporary name first so a killed download never looks complete.
install_kafka_jars() {
  local dir=$1
  [[ -f $KAFKA_HOME/.complete ]] && return 0
  local log="$dir/install.log"
  mkdir -p "$STREAMGATE_CACHE"
  if ! (
    flock -w 600 9 || { echo "timed out waiting for another Kafka download" >>"$log"; exit 1; }
    [[ -f $KAFKA_HOME/.complete ]] && exit 0
    echo "[$SERVICE] downloading Kafka $KAFKA_VERSION jars into $KAFKA_HOME (log: $log)" >&2
    local work="$KAFKA_HOME.tmp.$$"
    rm -rf "$work" && mkdir -p "$work"
    # mvn runs on a copy of the pom so that no target/ appears inside the repo.
    cp "$POM" "$work/pom.xml"
    (cd "$work" && mvn -B -ntp -q -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$work/libs") >>"$log" 2>&1 || { rm -rf "$work"; exit 1; }
    rm -f "$work/pom.xml"
    touch "$work/.complete"
    rm -rf "$KAFKA_HOME" && mv "$work" "$KAFKA_HOME"
  ) 9>"$KAFKA_HOME.lock"; then
    fail "$dir" "could not download Kafka $KAFKA_VERSION from Maven Central" "$log"
  fi
}

service_install() {
  local dir=$1
  command -v java >/dev/null || apt_install "$dir" java openjdk-17-jre-headless
  [[ -f $KAFKA_HOME/.complete ]] || command -v mvn >/dev/null || apt_install "$dir" mvn maven
  install_kafka_jars "$dir"
}

# A cluster id is 16 random bytes in URL-safe base64 without padding; making it here saves
# a JVM start (`StorageTool random-uuid`). It may begin with "-", so pass it as --cluster-id=ID.
random_cluster_id() { head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

write_config() {
  local dir=$1 port controller_port
  port=$(<"$dir/port")
  controller_port=$(<"$dir/controller_port")
  # Single node: every internal topic gets one replica and one partition (50 offsets
  # partitions would slow the first consumer group down for nothing).
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
  cat >"$dir/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/$LOG_FILE
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
EOF
}

service_init() {
  local dir=$1
  reserve_port "$dir" port
  reserve_port "$dir" controller_port
  write_config "$dir"
  # KRaft needs formatted storage before the first start. With a static
  # controller.quorum.voters list no --standalone flag is needed.
  kafka_java -Dlog4j2.configurationFile="$dir/log4j2.properties" kafka.tools.StorageTool format \
    --cluster-id="$(random_cluster_id)" --config "$dir/server.properties" >>"$dir/format.log" 2>&1 ||
    fail "$dir" "formatting KRaft storage failed" "$dir/format.log"
}

service_launch() {
  local dir=$1
  # Readiness looks for the start-up line only in what this launch appends to the log.
  local offset=0
  [[ -f $dir/$LOG_FILE ]] && offset=$(wc -c <"$dir/$LOG_FILE")
  echo "$offset" >"$dir/log_offset"
  launch_detached "$dir" java "${JAVA_OPTS[@]}" -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$dir/server.properties"
}

# The log line comes after the broker is unfenced; then one admin request proves clients can
# use it. Describing a group that does not exist needs metadata and the group coordinator:
# on the first start this creates __consumer_offsets, and the admin client retries until that
# has loaded, so tests never see "The coordinator is loading" on their first consumer group.
# The answer is "group not found", which is the healthy one here.
service_ready() {
  local dir=$1 offset answer
  offset=$(<"$dir/log_offset")
  [[ $(tail -c "+$((offset + 1))" "$dir/$LOG_FILE" 2>/dev/null) == *"Kafka Server started"* ]] || return 1
  answer=$(timeout 60 "$0" tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
    --bootstrap-server "$(service_url "$dir")" --describe --group streamgate-readiness-check 2>&1) || true
  [[ $answer == *GroupIdNotFoundException* || $answer == *"does not exist"* ]] && return 0
  echo "$answer" >&2
  return 1
}

# SIGTERM makes a controlled shutdown, which flushes the logs so `restart` keeps every message.
service_halt() { stop_pid "$1" 30; }

service_url() { echo "127.0.0.1:$(<"$1/port")"; }

if [[ ${1:-} == tool ]]; then
  shift
  [[ -f $KAFKA_HOME/.complete ]] || { echo "[kafka] jars not downloaded yet: run kafka.sh start first" >&2; exit 1; }
  exec java -Xmx256m -cp "$KAFKA_HOME/libs/*" "$@"
fi

service_main "$@"
