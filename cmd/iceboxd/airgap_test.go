package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/internal/world"
)

// TestConfigRefusesNetworkListeners: a config that names a listener, an
// address or a URL anywhere is a configuration error naming the key and
// saying that iceboxd opens no network listener.
func TestConfigRefusesNetworkListeners(t *testing.T) {
	base := `hsm:
  module: /usr/lib/softhsm/libsofthsm2.so
  token_label: t
  pin_file: user.pin
store:
  dir: store
networks:
  btc: btc-regtest
inbox_dir: inbox
`
	for _, tc := range []struct {
		name, extra, key string
	}{
		{"ok", "", ""},
		{"expfail_listen", "listen: \":8080\"\n", "listen"},
		{"expfail_metrics_addr", "metrics_addr: 127.0.0.1:9090\n", "metrics_addr"},
		{"expfail_rpc_section", "rpc:\n  enabled: true\n", "rpc"},
		{"expfail_http_port", "http_port: 80\n", "http_port"},
		{"expfail_grpc", "grpc: {}\n", "grpc"},
		{"expfail_nested_listen", "store:\n  dir: store\n  listen_addr: 0.0.0.0:1\n", "store.listen_addr"},
		{"expfail_url_value", "outbox_dir: \"http://10.0.0.1/outbox\"\n", "outbox_dir"},
		{"expfail_hostport_value", "archive_dir: \"signer.example:2222\"\n", "archive_dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := base
			if strings.HasPrefix(tc.extra, "store:") {
				body = strings.Replace(body, "store:\n  dir: store\n", "", 1)
			}
			p := filepath.Join(t.TempDir(), "iceboxd.yaml")
			if err := os.WriteFile(p, []byte(body+tc.extra), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := readConfig(p)
			if tc.key == "" {
				if err != nil {
					t.Fatalf("readConfig: %v", err)
				}
				return
			}
			if !errors.Is(err, errConfig) || !errors.Is(err, errListener) {
				t.Fatalf("readConfig = %v, want a configuration error wrapping errListener", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.key+":") || !strings.Contains(msg, "iceboxd opens no network listener") {
				t.Fatalf("message %q does not name %q or say that iceboxd opens no network listener", msg, tc.key)
			}
			if code := exitWith(&strings.Builder{}, err); code != exitConfig {
				t.Fatalf("exit code %d, want %d", code, exitConfig)
			}
		})
	}
}

// netScan is what one look at a process found.
type netScan struct {
	exe     string
	sockets []string // fd → socket:[inode]
	netLine []string // entries in /proc/<pid>/net/{tcp,udp,unix,...}
	ifaces  []string // interfaces in /proc/<pid>/net/dev
	netNS   string
}

// scanProc inspects a process's open file descriptors and the socket tables
// of its network namespace.
func scanProc(pid int) (netScan, error) {
	var s netScan
	p := fmt.Sprintf("/proc/%d", pid)
	exe, err := os.Readlink(p + "/exe")
	if err != nil {
		return s, err
	}
	s.exe = exe
	if s.netNS, err = os.Readlink(p + "/ns/net"); err != nil {
		return s, err
	}
	fds, err := os.ReadDir(p + "/fd")
	if err != nil {
		return s, err
	}
	for _, fd := range fds {
		target, err := os.Readlink(p + "/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(target, "socket:") {
			s.sockets = append(s.sockets, fd.Name()+" -> "+target)
		}
	}
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6", "raw", "raw6", "unix", "packet"} {
		data, err := os.ReadFile(p + "/net/" + table)
		if err != nil {
			continue // a table the kernel does not have
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		for _, l := range lines[1:] {
			s.netLine = append(s.netLine, table+": "+strings.TrimSpace(l))
		}
	}
	data, err := os.ReadFile(p + "/net/dev")
	if err != nil {
		return s, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if i := strings.Index(l, ":"); i > 0 {
			s.ifaces = append(s.ifaces, strings.TrimSpace(l[:i]))
		}
	}
	return s, nil
}

// watch samples pid every millisecond until stop is closed and fails the
// test on any socket. It returns the number of samples taken while pid was
// running iceboxd.
func watch(t *testing.T, pid int, stop <-chan struct{}) <-chan int {
	t.Helper()
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan int, 1)
	go func() {
		n := 0
		defer func() { out <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			s, err := scanProc(pid)
			if err != nil || filepath.Base(s.exe) != "iceboxd" {
				continue // not exec'd yet, or gone
			}
			n++
			if s.netNS == self {
				t.Errorf("iceboxd runs in the test's network namespace %s; unshare -n did not take effect", self)
			}
			if len(s.sockets) > 0 || len(s.netLine) > 0 {
				t.Errorf("iceboxd has network sockets: fds %v, tables %v", s.sockets, s.netLine)
			}
			for _, i := range s.ifaces {
				if i != "lo" {
					t.Errorf("iceboxd's network namespace has interface %q", i)
				}
			}
		}
	}()
	return out
}

// TestScanProcFindsSockets is the control: the scanner does see a socket.
func TestScanProcFindsSockets(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, err := scanProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.sockets) == 0 || len(s.netLine) == 0 {
		t.Fatalf("scanner missed the test's own UDP socket: %+v", s)
	}
}

// testAirGap runs the real `iceboxd sign` and `iceboxd serve` in a network
// namespace with no interfaces (unshare -n) and inspects their file
// descriptors and socket tables during the run: no socket, ever, and the
// requests are still signed.
func testAirGap(t *testing.T, w *world.World) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare (util-linux) is required: %v", err)
	}
	must := mustSub(t)

	t.Run("sign", func(t *testing.T) {
		r := must(w.ETHSweep("airgap-sign", 0, 200, 0))
		in := filepath.Join(w.Dir, "airgap-sign.icebox")
		out := filepath.Join(w.Dir, "airgap-sign.response.icebox")
		if err := os.WriteFile(in, r.Data, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(unshare, "-n", w.IceboxdBin, "--config", w.Config, "sign", in, "-o", out)
		cmd.Env = w.Env
		var o strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &o
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		samples := watch(t, cmd.Process.Pid, stop)
		err := cmd.Wait()
		close(stop)
		n := <-samples
		if err != nil {
			t.Fatalf("iceboxd sign in a network namespace without interfaces: %v\n%s", err, o.String())
		}
		if n == 0 {
			t.Fatalf("iceboxd sign was never observed running")
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := bundle.DecodeResponse(data, bundle.Limits{})
		if err != nil || resp.Status != bundle.StatusSigned || bundle.VerifyResponse(resp, w.Manifest.Signer) != nil {
			t.Fatalf("response: %v %+v", err, resp)
		}
		t.Logf("iceboxd sign: %d looks at its fds and socket tables, none showed a socket", n)
	})

	t.Run("serve", func(t *testing.T) {
		d := startServe(t, w, unshare, "-n")
		stop := make(chan struct{})
		samples := watch(t, d.cmd.Process.Pid, stop)
		subs := []*world.Submission{must(w.ETHSweep("airgap-serve-1", 1, 200, 0)), must(w.BTCSweep("airgap-serve-2", 0, 0))}
		for _, s := range subs {
			drop(t, w, s)
		}
		for _, s := range subs {
			if resp := waitResponse(t, w, d, s, 60*time.Second); resp.Status != bundle.StatusSigned {
				t.Fatalf("%s: %s %+v", s.ID, resp.Status, resp.Refusal)
			}
		}
		d.stop(t)
		close(stop)
		n := <-samples
		if n == 0 {
			t.Fatalf("iceboxd serve was never observed running")
		}
		t.Logf("iceboxd serve: %d looks at its fds and socket tables, none showed a socket", n)
	})
}
