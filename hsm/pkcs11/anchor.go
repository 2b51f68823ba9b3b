package pkcs11

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"

	p11 "github.com/miekg/pkcs11"

	"github.com/icebox-custody/icebox/hsm"
)

// anchorApplication is the CKA_APPLICATION of anchor data objects.
const anchorApplication = "icebox"

// maxAnchorSize bounds one anchor value.
const maxAnchorSize = 4096

func anchorTemplate(name string) []*p11.Attribute {
	return []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_DATA),
		p11.NewAttribute(p11.CKA_APPLICATION, anchorApplication),
		p11.NewAttribute(p11.CKA_LABEL, "icebox-anchor:"+name),
	}
}

// findAnchor returns the anchor objects for name, newest (highest CKA_ID
// sequence number) first. More than one exists only when a write was
// interrupted between creating the new object and destroying the old one.
func (h *HSM) findAnchor(sh p11.SessionHandle, name string) ([]p11.ObjectHandle, []uint64, error) {
	objs, err := h.findAll(sh, anchorTemplate(name))
	if err != nil {
		return nil, nil, err
	}
	seqs := make([]uint64, len(objs))
	for i, o := range objs {
		a, err := h.attrs(sh, o, p11.CKA_OBJECT_ID)
		if err != nil {
			return nil, nil, err
		}
		if len(a[p11.CKA_OBJECT_ID]) != 8 {
			return nil, nil, fmt.Errorf("anchor %q: object has a malformed sequence number", name)
		}
		seqs[i] = binary.BigEndian.Uint64(a[p11.CKA_OBJECT_ID])
	}
	sort.Sort(bySeqDesc{objs, seqs})
	return objs, seqs, nil
}

type bySeqDesc struct {
	o []p11.ObjectHandle
	s []uint64
}

func (b bySeqDesc) Len() int           { return len(b.o) }
func (b bySeqDesc) Less(i, j int) bool { return b.s[i] > b.s[j] }
func (b bySeqDesc) Swap(i, j int) {
	b.o[i], b.o[j] = b.o[j], b.o[i]
	b.s[i], b.s[j] = b.s[j], b.s[i]
}

// ReadAnchor returns the value stored under name, or an error wrapping
// hsm.ErrKeyNotFound when there is none.
func (h *HSM) ReadAnchor(ctx context.Context, name string) ([]byte, error) {
	if name == "" {
		return nil, fmt.Errorf("read anchor: name is empty")
	}
	var out []byte
	err := h.withSession(ctx, func(sh p11.SessionHandle) error {
		objs, _, err := h.findAnchor(sh, name)
		if err != nil {
			return err
		}
		if len(objs) == 0 {
			return fmt.Errorf("%w: anchor %q", hsm.ErrKeyNotFound, name)
		}
		a, err := h.attrs(sh, objs[0], p11.CKA_VALUE)
		if err != nil {
			return err
		}
		out = a[p11.CKA_VALUE]
		return nil
	})
	if err != nil {
		return nil, wrap("read anchor "+name, err)
	}
	return out, nil
}

// WriteAnchor replaces the value stored under name. Data objects' values
// are read-only on some tokens, so a write creates a new private token
// CKO_DATA object with the next sequence number (CKA_OBJECT_ID, 8 bytes
// big-endian) and then destroys the older ones. If it is interrupted in
// between, ReadAnchor returns the newer value.
func (h *HSM) WriteAnchor(ctx context.Context, name string, value []byte) error {
	if name == "" {
		return fmt.Errorf("write anchor: name is empty")
	}
	if len(value) == 0 || len(value) > maxAnchorSize {
		return fmt.Errorf("write anchor %q: value has %d bytes, want 1..%d", name, len(value), maxAnchorSize)
	}
	h.anchorMu.Lock()
	defer h.anchorMu.Unlock()
	err := h.withSession(ctx, func(sh p11.SessionHandle) error {
		old, seqs, err := h.findAnchor(sh, name)
		if err != nil {
			return err
		}
		var next [8]byte
		if len(seqs) > 0 {
			binary.BigEndian.PutUint64(next[:], seqs[0]+1)
		}
		t := append(anchorTemplate(name),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_OBJECT_ID, next[:]),
			p11.NewAttribute(p11.CKA_VALUE, value),
		)
		if _, err := h.mod.Ctx.CreateObject(sh, t); err != nil {
			return err
		}
		for _, o := range old {
			if err := h.mod.Ctx.DestroyObject(sh, o); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("write anchor "+name, err)
}
