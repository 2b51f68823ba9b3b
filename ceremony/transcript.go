package ceremony

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/icebox-custody/icebox/hsm"
)

// Proof is one restored key's answer to the restore challenge.
type Proof struct {
	Role      hsm.KeyRole
	Ref       hsm.KeyRef
	PublicKey []byte
	// Challenge is what was signed (a secp256k1 digest, or the identity
	// challenge message); Signature is the restored key's signature over it,
	// verified against the manifest / backup before the transcript is written.
	Challenge []byte
	Signature []byte
}

// TranscriptBackup is the text officers sign after a backup.
func TranscriptBackup(b *Backup, fileSHA256 [32]byte) string {
	var s strings.Builder
	header(&s, "BACKUP", b)
	fmt.Fprintf(&s, "backup file sha256: %s\n", hex.EncodeToString(fileSHA256[:]))
	fmt.Fprintf(&s, "\nShare holders (each took exactly one share file):\n")
	for _, h := range b.Holders {
		enc := "PLAIN (protect the file itself)"
		if h.Encrypted {
			enc = "passphrase-encrypted"
		}
		fmt.Fprintf(&s, "  %2d  %-20s commitment %s  %s\n", h.Index, h.Officer, hex.EncodeToString(h.Commitment[:]), enc)
	}
	signatures(&s, b.Holders)
	return s.String()
}

// TranscriptRestore is the text officers sign after a restore.
func TranscriptRestore(b *Backup, used []Share, targetToken, targetSerial string, at time.Time, proofs []Proof) string {
	var s strings.Builder
	header(&s, "RESTORE", b)
	fmt.Fprintf(&s, "restored at (UTC): %s\n", at.UTC().Format(time.RFC3339))
	fmt.Fprintf(&s, "target token:      %s (serial %s), keys unwrapped CKA_SENSITIVE, CKA_EXTRACTABLE=false\n", targetToken, targetSerial)
	fmt.Fprintf(&s, "\nShares presented: %d (the backup needs %d of %d)\n", len(used), b.Threshold, len(b.Holders))
	var holders []Holder
	for _, u := range used {
		for _, h := range b.Holders {
			if h.Officer == u.Officer {
				holders = append(holders, h)
				fmt.Fprintf(&s, "  %2d  %-20s commitment %s  verified\n", h.Index, h.Officer, hex.EncodeToString(h.Commitment[:]))
			}
		}
	}
	fmt.Fprintf(&s, "\nProof: every restored key signed a fresh challenge; each signature verified\nagainst the public key in the signed manifest (identity: against the signer fingerprint):\n")
	for _, p := range proofs {
		fmt.Fprintf(&s, "  %-8s %-24s #%s challenge %s signature %s\n", p.Role, p.Ref.Label, p.Ref.IDHex(), short(p.Challenge), short(p.Signature))
	}
	signatures(&s, holders)
	return s.String()
}

func short(b []byte) string {
	h := hex.EncodeToString(b)
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

func header(s *strings.Builder, what string, b *Backup) {
	mh := b.ManifestHash()
	fmt.Fprintf(s, "ICEBOX KEY CEREMONY — %s\n", what)
	fmt.Fprintf(s, "==============================\n")
	fmt.Fprintf(s, "backup id:         %s\n", b.ID)
	fmt.Fprintf(s, "backup created:    %s\n", b.Created.UTC().Format(time.RFC3339))
	fmt.Fprintf(s, "source token:      %s (serial %s)\n", b.SourceToken, b.SourceSerial)
	fmt.Fprintf(s, "signer fingerprint: %s\n", b.SignerFingerprint())
	fmt.Fprintf(s, "manifest sha256:   %s\n", hex.EncodeToString(mh[:]))
	fmt.Fprintf(s, "wrapping:          AES-256 key, CKA_TRUSTED (security officer), %s; split %d of %d (Shamir, GF(2^8))\n", Mechanism, b.Threshold, len(b.Holders))
	fmt.Fprintf(s, "\nKeys (%d):\n", len(b.Keys))
	for _, k := range b.Keys {
		fmt.Fprintf(s, "  %-8s %-24s #%s %-9s %s\n", k.Role, k.Ref.Label, k.Ref.IDHex(), k.Curve, hex.EncodeToString(k.PublicKey))
	}
}

func signatures(s *strings.Builder, holders []Holder) {
	fmt.Fprintf(s, "\nWitnessed and signed:\n")
	for _, h := range holders {
		fmt.Fprintf(s, "  %-20s ______________________________  date __________\n", h.Officer)
	}
}

// TranscriptHash is SHA-256 of a transcript's text (recorded in the audit log).
func TranscriptHash(t string) [32]byte { return sha256.Sum256([]byte(t)) }
