package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNginxConfigKeepsEveryPathInTheTempDir(t *testing.T) {
	dir := t.TempDir()
	args, err := nginxSetup(dir, "127.0.0.1:8088", 2)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"daemon off;", "master_process on;", "worker_processes 2;",
		"pid " + dir + "/nginx.pid;", "error_log " + dir + "/error.log",
		"access_log off;", "worker_connections 20000;", "keepalive_requests 1000000;",
		"client_body_temp_path " + dir + "/", "listen 127.0.0.1:8088 reuseport;",
		`return 200 "Hello, World!";`,
	} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	if got := strings.Join(args, " "); !strings.Contains(got, "-c "+dir+"/nginx.conf") || !strings.Contains(got, "-p "+dir) {
		t.Errorf("nginx args %q do not point at the temp dir", got)
	}
}

func TestNginxOneWorkerListensWithoutReuseport(t *testing.T) {
	dir := t.TempDir()
	if _, err := nginxSetup(dir, "127.0.0.1:8088", 1); err != nil {
		t.Fatal(err)
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "nginx.conf"))
	if !strings.Contains(string(conf), "listen 127.0.0.1:8088;") {
		t.Fatalf("nginx.conf:\n%s", conf)
	}
}
