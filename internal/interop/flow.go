package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/icebox-custody/icebox/chain"
)

// flowResult is what one request → sign → finalize round produced.
type flowResult struct {
	dir       string
	signedDir string
	// broadcast lists the transaction ids / hashes finalize --broadcast sent.
	broadcast []string
	// finalizeOut is finalize's output.
	finalizeOut string
}

var broadcastRE = regexp.MustCompile(`(?m)^broadcast (\S+) (\S+)$`)

// flow runs one request through the whole chain of custody with the real
// binaries: icebox request sweep (requestArgs), approvals by alice and bob,
// the request crossing the air gap as UR text parts, iceboxd sign on
// signer s, the response crossing back the same way, and icebox finalize
// (with --broadcast to the nodes when broadcast is set).
func (e *env) flow(s *signerInst, name string, requestArgs []string, broadcast bool) (*flowResult, error) {
	e.seq++
	d := filepath.Join(e.work, "flows", fmt.Sprintf("%02d-%s", e.seq, name))
	if err := os.MkdirAll(filepath.Join(d, "gate"), 0o755); err != nil {
		return nil, err
	}
	m := []string{"--manifest", s.manifest, "--signer", s.fp}
	req := filepath.Join(d, "request.icebox")
	args := append([]string{"request", "sweep"}, m...)
	args = append(args, "--requester", "hot-1", "--id", fmt.Sprintf("interop-%02d-%s", e.seq, name), "-o", req)
	args = append(append(args, e.keyArgs("hot-1")...), requestArgs...)
	if _, err := e.icebox(args...); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	gov := filepath.Join(e.work, "gov")
	for _, officer := range []string{"alice", "bob"} {
		a := append([]string{"approve", req}, m...)
		a = append(a, "--id", officer, "--policy", filepath.Join(gov, "policy.yaml"), "--roster", filepath.Join(gov, "roster.yaml"), "--yes")
		if _, err := e.icebox(append(a, e.keyArgs(officer)...)...); err != nil {
			return nil, fmt.Errorf("approve %s: %w", officer, err)
		}
	}
	gateReq := filepath.Join(d, "gate", "request.icebox")
	if err := e.crossQR(req, gateReq); err != nil {
		return nil, fmt.Errorf("request across the air gap: %w", err)
	}
	gateResp := filepath.Join(d, "gate", "response.icebox")
	if _, err := s.iceboxd(e, "sign", gateReq, "-o", gateResp); err != nil {
		return nil, fmt.Errorf("signer %s: %w", s.name, err)
	}
	resp := filepath.Join(d, "response.icebox")
	if err := e.crossQR(gateResp, resp); err != nil {
		return nil, fmt.Errorf("response across the air gap: %w", err)
	}
	r := &flowResult{dir: d, signedDir: filepath.Join(d, "signed")}
	fa := append([]string{"finalize", resp, "--request", req, "-o", r.signedDir}, m...)
	if broadcast {
		fa = append(fa, "--broadcast", "--btc-rpc", e.btcURL, "--btc-rpc-user", rpcUser, "--btc-rpc-pass", e.rpcPass, "--eth-rpc", e.ethURL)
	}
	out, err := e.icebox(fa...)
	if err != nil {
		return nil, fmt.Errorf("finalize: %w", err)
	}
	r.finalizeOut = out
	for _, mm := range broadcastRE.FindAllStringSubmatch(out, -1) {
		r.broadcast = append(r.broadcast, mm[2])
	}
	return r, nil
}

// crossQR carries a bundle across the gap as BC-UR text parts (what the QR
// codes hold): icebox qr encode --text, then icebox qr decode from those
// lines. The decoded file must be byte-identical.
func (e *env) crossQR(src, dst string) error {
	parts, err := e.icebox("qr", "encode", src, "--text")
	if err != nil {
		return err
	}
	n := len(strings.Fields(parts))
	if n == 0 || !strings.HasPrefix(strings.ToLower(parts), "ur:") {
		return fmt.Errorf("qr encode printed no UR parts")
	}
	if _, err := e.run(nil, []byte(parts), filepath.Join(e.bin, "icebox"), "qr", "decode", "--out", dst, "--quiet"); err != nil {
		return err
	}
	a, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return fmt.Errorf("%s: decoded %d bytes differ from the %d encoded (%d parts)", dst, len(b), len(a), n)
	}
	return nil
}

// signedFiles lists the files finalize wrote with the given suffix.
func signedFiles(dir, suffix string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*-"+string(chain.Network("*"))+suffix))
	if err != nil {
		return nil, err
	}
	return m, nil
}

var _ = context.Background
