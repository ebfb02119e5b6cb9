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

# bench_nginx FILE WORK PORT WORKERS writes the configuration of an nginx
# of WORKERS workers in front of the same upstream, on 127.0.0.1:PORT,
# doing what nginx does as it comes (its pid and error log beside FILE,
# its temporary files in WORK).
bench_nginx() {
    cat > "$1" <<NGINX
daemon off;
worker_processes $4;
pid $1.pid;
error_log $1-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $2;
    proxy_temp_path $2;
    upstream u { server 127.0.0.1:18001; keepalive 64; }
    server {
        listen 127.0.0.1:$3;
        location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
NGINX
}

# nginx_workers FILE prints the pids of the workers of the nginx started
# with -c FILE.
nginx_workers() {
    pgrep -P "$(pgrep -f "nginx -c $1" -n)" | tr '\n' ' '
}
