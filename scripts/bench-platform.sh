# Sourced by the gateway benchmarks: bench_platform FILE PORT DATA_DIR
# writes the platform they put in front of the benchmark upstream
# (127.0.0.1:18001): one http service routing every path to it, the
# gateway on 127.0.0.1:PORT and the admin API on PORT+10.
bench_platform() {
    cat > "$1" <<TSK
[composer]
listen: "127.0.0.1:$2"
admin: "127.0.0.1:$(($2 + 10))"
data_dir: "$3"
[services]
bench { kind: "http", instances: ["http://127.0.0.1:18001"], routes: ["/*path"], timeout: "5s" }
[health_checks]
path: "/"
TSK
}
