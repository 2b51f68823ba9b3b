package store_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/icebox-custody/icebox/hsm/pkcs11"
	"github.com/icebox-custody/icebox/softhsm-test/softhsmtest"
	"github.com/icebox-custody/icebox/store"
	"github.com/icebox-custody/icebox/store/audit"
	"github.com/icebox-custody/icebox/store/storetest"
)

// TestRollbackAnchorOnSoftHSM runs the rollback scenario with the identity
// key and the anchor in a real SoftHSM2 token: checkpoints are signed by the
// token's identity key, the anchor is a CKO_DATA object, and a restored old
// store file is refused.
func TestRollbackAnchorOnSoftHSM(t *testing.T) {
	tok := softhsmtest.NewToken(t, softhsmtest.Options{})
	h, err := pkcs11.Open(pkcs11.Config{
		ModulePath: tok.ModulePath, TokenLabel: tok.Label, PINFile: tok.PINFile, Sessions: 1,
		PINFailureFile: filepath.Join(tok.Dir, tok.Label+".failures.json"),
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("open SoftHSM token: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	ctx := context.Background()
	id, _, err := h.EnsureIdentity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ReadAnchor(ctx, store.AnchorName); err == nil {
		t.Fatal("fresh token already has an anchor")
	}

	env := storetest.NewEnv(t)
	opts := env.Options()
	opts.Identity, opts.Anchor = id, h

	s, err := store.Open(env.Path, opts)
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, s, simpleReq("r1", "b1", "k1"))
	s.Close()
	old := filepath.Join(env.Dir, "old.db")
	copyFile(t, env.Path, old)

	s, err = store.Open(env.Path, opts)
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, s, simpleReq("r2", "b2", "k2"))
	rep, err := s.VerifyAudit()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// The token holds the latest checkpoint, signed by its identity key.
	v, err := h.ReadAnchor(ctx, store.AnchorName)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.ParseCheckpointLine(v)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Seq != rep.Records || cp.Head != rep.Head {
		t.Errorf("anchor seq %d head %s, want %d %s", cp.Seq, cp.Head, rep.Records, rep.Head)
	}
	if err := cp.VerifySignature(id.Public()); err != nil {
		t.Error(err)
	}

	copyFile(t, old, env.Path)
	s, err = store.Open(env.Path, opts)
	if !errors.Is(err, store.ErrRolledBack) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("restored old store: %v, want ErrRolledBack", err)
	}
	if _, err := s.AcknowledgeRollback([]byte("quorum ack")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = store.Open(env.Path, opts)
	if err != nil {
		t.Fatalf("after acknowledgement: %v", err)
	}
	if _, err := s.VerifyAudit(); err != nil {
		t.Error(err)
	}
	s.Close()
}
