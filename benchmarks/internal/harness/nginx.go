package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// nginxConf is the whole nginx configuration, with every path inside the
// temp dir. Its placeholders, in order: worker_processes, the temp dir
// (pid, error_log and the five temp paths), the listen address and the
// listen options.
//
// worker_connections 20000 matches this machine's fd limit and covers the
// idle-connection runs; keepalive_requests 1000000 keeps nginx from closing
// a wrk connection every 1000 requests (its default), which the Go servers
// never do.
const nginxConf = `daemon off;
master_process on;
worker_processes %[1]d;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;

events {
    worker_connections 20000;
}

http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;

    server {
        listen %[3]s%[4]s;
        location / {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
`

// Nginx returns a Server that runs nginx with a generated config in its temp
// dir: daemon off, a master and workers worker processes, access log off,
// and every path (pid, error log, temp dirs) inside the temp dir; every
// location answers 200 "Hello, World!" as text/plain. With more than one
// worker the listen socket is SO_REUSEPORT, one per worker, so the kernel
// spreads connections as it does for sycamore's ReusePort. ok is false if
// nginx is not installed (on the PATH or as /usr/sbin/nginx).
func Nginx(workers int) (s Server, ok bool) {
	path, ok := FindTool("nginx")
	if !ok {
		return Server{}, false
	}
	if workers < 1 {
		workers = 1
	}
	return Server{
		Name: "nginx",
		Kind: "http",
		Args: []string{path},
		Setup: func(dir, addr string) ([]string, error) {
			return nginxSetup(dir, addr, workers)
		},
	}, true
}

// nginxSetup writes nginx.conf into dir and returns the arguments that point
// nginx at it: -p (prefix) and -c (config) inside dir, and -e so that nginx
// does not try /var/log/nginx/error.log before it has read the config.
func nginxSetup(dir, addr string, workers int) ([]string, error) {
	listenOpts := ""
	if workers > 1 {
		listenOpts = " reuseport"
	}
	if strings.ContainsAny(dir, " ;{}\"'") {
		return nil, fmt.Errorf("harness: nginx: temp dir %q needs quoting in nginx.conf", dir)
	}
	conf := fmt.Sprintf(nginxConf, workers, dir, addr, listenOpts)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("harness: nginx: %w", err)
	}
	return []string{"-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log")}, nil
}
