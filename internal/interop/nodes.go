package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// node is one btcd or geth process the driver started.
type node struct {
	name string
	cmd  *exec.Cmd
	done chan error
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startNode starts bin with args, logging to logPath. The child is killed
// if the driver dies (Pdeathsig).
func startNode(name, bin, logPath string, args []string) (*node, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	n := &node{name: name, cmd: cmd, done: make(chan error, 1)}
	go func() { n.done <- cmd.Wait(); lf.Close() }()
	return n, nil
}

// stop interrupts the node, then kills it after 15 s.
func (n *node) stop() {
	if n == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// exited reports whether the process has ended.
func (n *node) exited() bool {
	select {
	case err := <-n.done:
		n.done <- err
		return true
	default:
		return false
	}
}

// waitReady polls probe until it succeeds, the node exits or 60 s pass.
func (n *node) waitReady(ctx context.Context, probe func(context.Context) error) error {
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n.exited() {
			return fmt.Errorf("%s exited during startup (see its log)", n.name)
		}
		c, cancel := context.WithTimeout(ctx, 3*time.Second)
		last = probe(c)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after 60 s: %w", n.name, last)
}

// listeners returns the local addresses of the listening TCP sockets and
// bound UDP sockets held by pid (from /proc; Linux only).
func listeners(pid int) ([]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		data, err := os.ReadFile("/proc/net/" + proto)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			// tcp: 0A = LISTEN; udp: 07 = bound (unconnected).
			if (strings.HasPrefix(proto, "tcp") && f[3] != "0A") || (strings.HasPrefix(proto, "udp") && f[3] != "07") {
				continue
			}
			out = append(out, proto+" "+procAddr(f[1]))
		}
	}
	return out, nil
}

// procAddr turns /proc/net's "0100007F:1F90" into "127.0.0.1:8080".
func procAddr(s string) string {
	h, p, _ := strings.Cut(s, ":")
	port, _ := strconv.ParseUint(p, 16, 16)
	var ip net.IP
	switch len(h) {
	case 8:
		v, _ := strconv.ParseUint(h, 16, 32)
		ip = net.IPv4(byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	case 32:
		ip = make(net.IP, 16)
		for w := 0; w < 4; w++ {
			v, _ := strconv.ParseUint(h[w*8:w*8+8], 16, 32)
			ip[w*4], ip[w*4+1], ip[w*4+2], ip[w*4+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10))
}

// checkLoopbackOnly fails when the node listens anywhere but loopback.
func checkLoopbackOnly(n *node) ([]string, error) {
	ls, err := listeners(n.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("%s: no listening socket found", n.name)
	}
	for _, l := range ls {
		_, addr, _ := strings.Cut(l, " ")
		host, _, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return ls, fmt.Errorf("%s listens on %s (not loopback)", n.name, l)
		}
	}
	return ls, nil
}
