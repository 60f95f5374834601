package harness

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tinyZone writes a zone of an SOA, an NS and its address into dir and
// returns its path.
func tinyZone(t *testing.T, dir string) string {
	t.Helper()
	zone := filepath.Join(dir, "z.zone")
	if err := os.WriteFile(zone, []byte("$ORIGIN z.test.\n@ 3600 IN SOA ns hm 1 2 3 4 5\n@ 3600 IN NS ns\nns 3600 IN A 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return zone
}

// The generated nsd.conf passes nsd-checkconf, as Setup runs it.
func TestNSDSetupWritesAConfigNSDAccepts(t *testing.T) {
	if _, ok := FindTool("nsd-checkconf"); !ok {
		t.Skip("nsd-checkconf is not installed")
	}
	dir := t.TempDir()
	zone := tinyZone(t, dir)
	args, err := nsdSetup(dir, "127.0.0.1:5353", "z.test.", zone, 2)
	if err != nil {
		t.Fatal(err)
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "nsd.conf"))
	for _, want := range []string{"port: 5353", "server-count: 2", "reuseport: yes", "rrl-ratelimit: 0", `zonefile: "` + zone + `"`} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("nsd.conf lacks %q:\n%s", want, conf)
		}
	}
	if !reflect.DeepEqual(args, []string{"-c", filepath.Join(dir, "nsd.conf")}) {
		t.Errorf("args = %q", args)
	}
}

// NSD starts on a UDP port, answers, and exits on SIGTERM with its servers.
func TestNSDStartsAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	zone := tinyZone(t, dir)
	s, ok := NSD("z.test.", zone, 2)
	if !ok {
		t.Skip("nsd is not installed")
	}
	p := StartTest(t, s)
	// NSD binds its sockets, then forks its servers.
	var pids []int
	for deadline := time.Now().Add(5 * time.Second); len(pids) < 4 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if pids, err = p.Pids(); err != nil {
			t.Fatal(err)
		}
	}
	if len(pids) < 4 {
		t.Fatalf("Pids = %v; want NSD's first process (xfrd), main and two servers", pids)
	}
}
