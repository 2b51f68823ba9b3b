package quorum

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseRoster(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRoster("fuzz", data)
		if err != nil {
			if r != nil {
				t.Fatal("roster returned with an error")
			}
			return
		}
		if r.Hash() != RosterHash(data) || r.AdminQuorum < 1 {
			t.Fatal("accepted roster breaks invariants")
		}
		for _, m := range r.Members() {
			if m.Key.Validate() != nil || !ValidID(m.ID) || len(m.Roles) == 0 {
				t.Fatalf("accepted invalid member %+v", m)
			}
		}
	})
}

func FuzzDecodeChange(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.bin")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("icebox-change\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeChange(data)
		if err != nil {
			return
		}
		enc, err := EncodeChange(b)
		if err != nil {
			t.Fatalf("decoded bundle does not encode: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatal("decode accepted a non-canonical encoding")
		}
	})
}

func FuzzParseRollbackAck(f *testing.F) {
	files, _ := filepath.Glob("testdata/*rollback_ack*.txt")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("icebox rollback acknowledgement v1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseRollbackAck(data)
		if err != nil {
			return
		}
		enc, err := a.Encode()
		if err != nil {
			t.Fatalf("parsed acknowledgement does not encode: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatal("parse accepted a non-canonical text")
		}
	})
}
