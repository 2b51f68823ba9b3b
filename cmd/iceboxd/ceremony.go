package main

// Key ceremony: iceboxd keys backup / keys restore (docs/ceremony.md).

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	decdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/ceremony"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/pkcs11"
	"github.com/icebox-custody/icebox/manifest"
	"github.com/icebox-custody/icebox/sigkey"
	"github.com/icebox-custody/icebox/store"
	"github.com/icebox-custody/icebox/store/audit"
)

// backupMode is the validated hsm.backup setting.
func backupMode(c Config) hsm.BackupMode {
	m, _ := hsm.ParseBackupMode(c.HSM.Backup) // validated in readConfig
	return m
}

// maxAuditKeys bounds how many key references one ceremony record lists;
// the transcript (whose hash the record holds) lists all of them.
const maxAuditKeys = 2000

var (
	backupOut        string
	backupShareDir   string
	backupShares     int
	backupThreshold  int
	backupOfficers   []string
	backupManifest   string
	sharePassphrases []string
	sharePrompt      bool

	restoreShares     []string
	restoreManifest   string
	restoreSigner     string
	restoreTranscript string
)

var keysBackupCmd = &cobra.Command{
	Use:   "backup -o FILE --shares N --threshold M --officers a,b,c",
	Short: "Wrap every key under a fresh wrapping key split M-of-N among officers (needs the SO PIN)",
	Long: `backup generates a fresh AES-256 wrapping key on this (air-gapped) host,
splits it M-of-N with Shamir's scheme (one share file per officer), has the
security officer import it into the HSM as a CKA_TRUSTED session key, wraps
every signing key and the identity key with CKM_AES_KEY_WRAP_PAD inside the
HSM, destroys the wrapping key, and writes the backup file (authenticated,
bound to the signed manifest) plus the share files. It records the ceremony in
the audit log and prints the transcript the officers sign. Keys must have been
generated with hsm.backup: wrap-with-trusted. See docs/ceremony.md.`,
	Args: cobra.NoArgs,
	RunE: runBackup,
}

var keysRestoreCmd = &cobra.Command{
	Use:   "restore FILE --share F1 --share F2 ...",
	Short: "Re-create every key of a backup in an EMPTY token from M shares (needs the SO PIN)",
	Long: `restore checks the backup file and the shares (each against its commitment,
then the backup's MAC with the rebuilt wrapping key) BEFORE touching the token;
then, on an empty token, the security officer imports the wrapping key as a
trusted session key, every key is unwrapped CKA_SENSITIVE and
CKA_EXTRACTABLE=false, and each restored key signs a fresh challenge that must
verify against the signed manifest (the identity key must reproduce the signer
fingerprint). The store of this configuration records the ceremony; the
transcript is printed. See docs/ceremony.md.`,
	Args: cobra.ExactArgs(1),
	RunE: runRestore,
}

func init() {
	f := keysBackupCmd.Flags()
	f.StringVarP(&backupOut, "output", "o", "", "backup file to write (required); the transcript goes to FILE.transcript.txt")
	f.StringVar(&backupShareDir, "share-dir", "", "directory for the share files (default: the backup file's directory)")
	f.IntVar(&backupShares, "shares", 0, "number of shares N (= number of officers)")
	f.IntVar(&backupThreshold, "threshold", 0, "shares needed to restore, M (2..N)")
	f.StringSliceVar(&backupOfficers, "officers", nil, "share holders, one share each, e.g. alice,bob,carol")
	f.StringVar(&backupManifest, "manifest", "", "the published manifest (iceboxd keys manifest) to bind the backup to; default: sign a new one, written to FILE.manifest.json")
	f.StringArrayVar(&sharePassphrases, "share-passphrase", nil, "OFFICER=FILE: encrypt (backup) / decrypt (restore) that officer's share with the passphrase in FILE")
	f.BoolVar(&sharePrompt, "share-prompt", false, "ask each officer for a share passphrase on the terminal (backup: empty = plain share)")
	r := keysRestoreCmd.Flags()
	r.StringArrayVar(&restoreShares, "share", nil, "a share file (repeat: at least M)")
	r.StringArrayVar(&sharePassphrases, "share-passphrase", nil, "OFFICER=FILE: passphrase of an encrypted share")
	r.BoolVar(&sharePrompt, "share-prompt", false, "ask on the terminal for passphrases of encrypted shares")
	r.StringVar(&restoreManifest, "manifest", "", "the published manifest file: its SHA-256 must match the backup's")
	r.StringVar(&restoreSigner, "signer", "", "expected signer fingerprint (pinned by the hot wallet)")
	r.StringVar(&restoreTranscript, "transcript", "", "also write the transcript to this file")
	keysCmd.AddCommand(keysBackupCmd, keysRestoreCmd)
}

// passphraseFiles parses --share-passphrase OFFICER=FILE.
func passphraseFiles() (map[string]string, error) {
	out := map[string]string{}
	for _, v := range sharePassphrases {
		o, file, ok := strings.Cut(v, "=")
		if !ok || !ceremony.ValidOfficer(o) || file == "" {
			return nil, fmt.Errorf("--share-passphrase %q: want OFFICER=FILE", v)
		}
		if _, dup := out[o]; dup {
			return nil, fmt.Errorf("--share-passphrase: %s given twice", o)
		}
		out[o] = file
	}
	return out, nil
}

// sharePassphrase returns officer's passphrase from its file, the prompt,
// or nil (none given).
func sharePassphrase(cmd *cobra.Command, passFiles map[string]string, officer string, confirm bool) ([]byte, error) {
	if file, ok := passFiles[officer]; ok {
		raw, err := files.ReadCapped(file, 1024)
		if err != nil {
			return nil, fmt.Errorf("--share-passphrase %s: %w", officer, err)
		}
		line, _, _ := strings.Cut(string(raw), "\n")
		return []byte(strings.TrimRight(line, "\r")), nil
	}
	if !sharePrompt {
		return nil, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, errors.New("--share-prompt needs a terminal")
	}
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "Share passphrase for %s (empty: none): ", officer)
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(w)
	if err != nil || len(p) == 0 {
		return nil, err
	}
	if confirm {
		fmt.Fprintf(w, "Again for %s: ", officer)
		p2, err := term.ReadPassword(fd)
		fmt.Fprintln(w)
		if err != nil {
			return nil, err
		}
		if string(p) != string(p2) {
			return nil, fmt.Errorf("share passphrases for %s differ", officer)
		}
	}
	return p, nil
}

// ceremonyManifest builds and signs the watch-only manifest of the keys now
// on the token (what iceboxd keys manifest writes).
func ceremonyManifest(ctx context.Context, cfg Config, h hsm.KeyLister, id sigkey.Signer) ([]byte, error) {
	keys, err := collectKeys(ctx, cfg, h)
	if err != nil {
		return nil, err
	}
	m := &manifest.Manifest{Signer: id.Public(), Created: time.Now().UTC()}
	for _, k := range keys {
		idb, _ := hex.DecodeString(k.KeyID)
		pub, _ := hex.DecodeString(k.PublicKey)
		m.Entries = append(m.Entries, manifest.Entry{
			Label: k.Label, KeyID: idb, PublicKey: pub, Chain: k.Chain, Network: k.Network, Address: k.Address,
		})
	}
	return manifest.Sign(m, id)
}

func keyRefs(keys []hsm.WrappedKey) []string {
	var out []string
	for i, k := range keys {
		if i == maxAuditKeys {
			out = append(out, fmt.Sprintf("... and %d more (see the transcript)", len(keys)-i))
			break
		}
		out = append(out, fmt.Sprintf("%s %s", k.Role, k.Ref))
	}
	return out
}

func runBackup(cmd *cobra.Command, _ []string) (err error) {
	if backupOut == "" {
		return errors.New("-o FILE is required")
	}
	if backupShares != len(backupOfficers) {
		return fmt.Errorf("--shares %d but %d officers named in --officers: one share per officer", backupShares, len(backupOfficers))
	}
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	if backupMode(cfg) != hsm.BackupWrapWithTrusted {
		return fmt.Errorf("%w: hsm.backup is %q: this signer's keys are non-extractable by design and cannot be backed up (docs/ceremony.md)", hsm.ErrNotWrappable, backupMode(cfg))
	}
	shareDir := backupShareDir
	if shareDir == "" {
		shareDir = filepath.Dir(backupOut)
	}
	passFiles, err := passphraseFiles()
	if err != nil {
		return err
	}
	var key hsm.WrappingKey
	defer key.Wipe()
	if _, err := rand.Read(key[:]); err != nil {
		return fmt.Errorf("wrapping key: %w", err)
	}
	id, err := ceremony.NewBackupID(nil)
	if err != nil {
		return err
	}
	shares, err := ceremony.Split(&key, id, backupOfficers, backupThreshold)
	if err != nil {
		return err
	}
	shareFiles := make([][]byte, len(shares))
	b := &ceremony.Backup{ID: id, Created: time.Now().UTC(), Threshold: backupThreshold}
	for i, s := range shares {
		pass, err := sharePassphrase(cmd, passFiles, s.Officer, true)
		if err != nil {
			return err
		}
		if shareFiles[i], err = ceremony.EncodeShare(s, pass, nil); err != nil {
			return err
		}
		b.Holders = append(b.Holders, ceremony.Holder{Officer: s.Officer, Index: s.Index, Commitment: s.Commitment(), Encrypted: pass != nil})
		for j := range pass {
			pass[j] = 0
		}
	}
	sharePaths := make([]string, len(shares))
	for i, s := range shares {
		sharePaths[i] = filepath.Join(shareDir, fmt.Sprintf("%s-%s.share.json", id.String()[:8], s.Officer))
		if _, err := os.Stat(sharePaths[i]); err == nil {
			return fmt.Errorf("share file %s already exists: refusing to overwrite", sharePaths[i])
		}
	}

	ctx := context.Background()
	d, err := openDaemon(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	b.SourceToken, b.SourceSerial = d.hsm.TokenLabel(), d.hsm.TokenSerial()
	freshManifest := backupManifest == ""
	if freshManifest {
		if b.Manifest, err = ceremonyManifest(ctx, cfg, d.hsm, d.identity); err != nil {
			return err
		}
	} else if b.Manifest, err = files.ReadCapped(backupManifest, manifest.MaxSize); err != nil {
		return fmt.Errorf("--manifest: %w", err)
	}
	if b.Keys, err = d.hsm.WrapAll(ctx, hsm.WrapRequest{Key: &key}); err != nil {
		if errors.Is(err, hsm.ErrSOPINIncorrect) {
			return fmt.Errorf("wrong security officer PIN (counted; the limit locks key ceremonies): %w", err)
		}
		return err
	}
	data, err := ceremony.Seal(b, &key)
	if err != nil {
		if errors.Is(err, ceremony.ErrManifest) && !freshManifest {
			return fmt.Errorf("--manifest %s does not list exactly the keys on the token (run iceboxd keys manifest again and publish it): %w", backupManifest, err)
		}
		return err
	}
	key.Wipe()
	fileHash := sha256.Sum256(data)
	transcript := ceremony.TranscriptBackup(b, fileHash)

	// The audit record comes first: no backup leaves this host unrecorded.
	mh, th := b.ManifestHash(), ceremony.TranscriptHash(transcript)
	var reasons []string
	for _, h := range b.Holders {
		reasons = append(reasons, fmt.Sprintf("share %d of %d (%d needed) held by %s, commitment %x, encrypted=%t",
			h.Index, len(b.Holders), b.Threshold, h.Officer, h.Commitment, h.Encrypted))
	}
	rec, err := d.store.Append(store.Record{
		Kind: audit.KindKeyCeremony, RequestID: "backup-" + id.String(), RequestDigest: audit.Digest(fileHash),
		Decision: "backup", Reasons: reasons, Approvers: append([]string(nil), backupOfficers...), TxIDs: keyRefs(b.Keys),
		Detail: fmt.Sprintf("backup_id=%s token=%s serial=%s signer=%s manifest_sha256=%x transcript_sha256=%x keys=%d mechanism=%s",
			id, b.SourceToken, b.SourceSerial, b.SignerFingerprint(), mh, th, len(b.Keys), ceremony.Mechanism),
	})
	if err != nil {
		return fmt.Errorf("record the ceremony in the audit log (nothing was written): %w", err)
	}
	if err := files.WriteFileAtomic(backupOut, data, 0o600); err != nil {
		return err
	}
	for i, p := range sharePaths {
		if err := writeNewFile(p, shareFiles[i]); err != nil {
			return err
		}
	}
	if err := files.WriteFileAtomic(backupOut+".transcript.txt", []byte(transcript), 0o644); err != nil {
		return err
	}
	if freshManifest {
		if err := files.WriteFileAtomic(backupOut+".manifest.json", b.Manifest, 0o644); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	fmt.Fprint(out, transcript)
	fmt.Fprintf(out, "\naudit record:      seq %d (key-ceremony backup)\n", rec.Seq)
	fmt.Fprintf(out, "backup file:       %s\n", backupOut)
	for i, p := range sharePaths {
		fmt.Fprintf(out, "share for %-8s  %s\n", shares[i].Officer+":", p)
	}
	slog.Info("key backup written", "backup_id", id.String(), "keys", len(b.Keys), "threshold", b.Threshold, "shares", len(b.Holders))
	return nil
}

// writeNewFile creates path (0600), failing if it exists, and fsyncs it.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// loadShares reads, checks and opens every --share file.
func loadShares(cmd *cobra.Command) ([]ceremony.Share, error) {
	if len(restoreShares) == 0 {
		return nil, errors.New("--share FILE is required (at least M of them)")
	}
	passFiles, err := passphraseFiles()
	if err != nil {
		return nil, err
	}
	var out []ceremony.Share
	for _, p := range restoreShares {
		data, err := files.ReadCapped(p, ceremony.MaxShareFile)
		if err != nil {
			return nil, fmt.Errorf("share %s: %w", p, err)
		}
		f, err := ceremony.ParseShare(data)
		if err != nil {
			return nil, fmt.Errorf("share %s: %w", p, err)
		}
		var pass []byte
		if f.Encrypted() {
			if pass, err = sharePassphrase(cmd, passFiles, f.Officer(), false); err != nil {
				return nil, err
			}
		}
		s, err := f.Open(pass)
		if err != nil {
			return nil, fmt.Errorf("share %s: %w", p, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func runRestore(cmd *cobra.Command, args []string) (err error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	data, err := files.ReadCapped(args[0], ceremony.MaxBackupFile)
	if err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	b, err := ceremony.ParseBackup(data)
	if err != nil {
		return fmt.Errorf("backup file %s: %w", args[0], err)
	}
	if restoreSigner != "" && manifest.NormalizeFingerprint(restoreSigner) != manifest.NormalizeFingerprint(b.SignerFingerprint()) {
		return fmt.Errorf("backup %s is of signer %s, not --signer %s", b.ID, b.SignerFingerprint(), restoreSigner)
	}
	if restoreManifest != "" {
		pub, err := files.ReadCapped(restoreManifest, manifest.MaxSize)
		if err != nil {
			return fmt.Errorf("--manifest: %w", err)
		}
		if sha256.Sum256(pub) != b.ManifestHash() {
			return fmt.Errorf("%w: --manifest %s is not the manifest this backup was made with", ceremony.ErrManifest, restoreManifest)
		}
	}
	m, err := b.CheckManifest()
	if err != nil {
		return err
	}
	shares, err := loadShares(cmd)
	if err != nil {
		return err
	}
	// Everything about the inputs is checked before the token is touched.
	key, err := ceremony.Recover(b, shares)
	if err != nil {
		return err
	}
	defer key.Wipe()

	ctx := context.Background()
	h, err := openHSM(cfg)
	if err != nil {
		return err
	}
	defer h.Close()
	if _, err := h.UnwrapAll(ctx, hsm.UnwrapRequest{Key: &key, Keys: b.Keys}); err != nil {
		if errors.Is(err, hsm.ErrSOPINIncorrect) {
			return fmt.Errorf("wrong security officer PIN (counted; nothing was restored): %w", err)
		}
		return err
	}
	key.Wipe()
	proofs, id, err := proveRestore(ctx, h, b, m)
	if err != nil {
		return err
	}
	st, err := store.Open(filepath.Join(cfg.Store.Dir, storeFileName), store.Options{
		Clock: time.Now, ClockTolerance: cfg.ClockTolerance, CheckpointEvery: cfg.AuditCheckpointEvery,
		Identity: id, Anchor: h, Logger: slog.Default(),
	})
	if err != nil {
		if st != nil {
			st.Close()
		}
		return fmt.Errorf("keys restored, but the store could not be opened to record it: %w", err)
	}
	defer st.Close()
	now := time.Now().UTC()
	transcript := ceremony.TranscriptRestore(b, shares, h.TokenLabel(), h.TokenSerial(), now, proofs)
	mh, th, fh := b.ManifestHash(), ceremony.TranscriptHash(transcript), sha256.Sum256(data)
	var holders, reasons []string
	for _, s := range shares {
		holders = append(holders, s.Officer)
		reasons = append(reasons, fmt.Sprintf("share %d of %d presented by %s (matches its commitment)", s.Index, s.Total, s.Officer))
	}
	reasons = append(reasons, fmt.Sprintf("%d keys unwrapped non-extractable; each signed a fresh challenge verified against the manifest", len(proofs)))
	rec, err := st.Append(store.Record{
		Kind: audit.KindKeyCeremony, RequestID: "restore-" + b.ID.String(), RequestDigest: audit.Digest(fh),
		Decision: "restore", Reasons: reasons, Approvers: holders, TxIDs: keyRefs(b.Keys),
		Detail: fmt.Sprintf("backup_id=%s source_token=%s source_serial=%s target_token=%s target_serial=%s signer=%s manifest_sha256=%x transcript_sha256=%x keys=%d",
			b.ID, b.SourceToken, b.SourceSerial, h.TokenLabel(), h.TokenSerial(), b.SignerFingerprint(), mh, th, len(b.Keys)),
	})
	if err != nil {
		return fmt.Errorf("keys restored, but the audit record failed: %w", err)
	}
	if restoreTranscript != "" {
		if err := files.WriteFileAtomic(restoreTranscript, []byte(transcript), 0o644); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	fmt.Fprint(out, transcript)
	fmt.Fprintf(out, "\naudit record:      seq %d (key-ceremony restore)\n", rec.Seq)
	fmt.Fprintf(out, "signer fingerprint: %s\n", id.Public().Fingerprint())
	slog.Info("keys restored", "backup_id", b.ID.String(), "keys", len(b.Keys), "token", h.TokenLabel())
	return nil
}

// proveRestore has every restored key sign a fresh challenge through the
// normal signing paths and verifies each signature against the signed
// manifest (signing keys) and the signer fingerprint (identity).
func proveRestore(ctx context.Context, h *pkcs11.HSM, b *ceremony.Backup, m *manifest.Manifest) ([]ceremony.Proof, sigkey.Signer, error) {
	nonce := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, nil, err
	}
	var proofs []ceremony.Proof
	for _, e := range m.Entries {
		ref := hsm.KeyRef{Label: e.Label, ID: e.KeyID}
		d := hsm.Digest(sha256.Sum256([]byte("icebox/key-ceremony/restore-challenge/v1\x00" + b.ID.String() + "\x00" + ref.String() + "\x00" + hex.EncodeToString(nonce))))
		sig, err := h.SignDigest(ctx, ref, d)
		if err != nil {
			return nil, nil, fmt.Errorf("restore proof: %s: %w", ref, err)
		}
		pub, err := secp256k1.ParsePubKey(e.PublicKey)
		if err != nil {
			return nil, nil, fmt.Errorf("restore proof: manifest key %s: %w", ref, err)
		}
		var r, s secp256k1.ModNScalar
		r.SetBytes(&sig.R)
		s.SetBytes(&sig.S)
		if !decdsa.NewSignature(&r, &s).Verify(d[:], pub) {
			return nil, nil, fmt.Errorf("%w: restore proof: %s does not sign for its manifest public key", hsm.ErrBadSignature, ref)
		}
		proofs = append(proofs, ceremony.Proof{Role: hsm.RoleSigning, Ref: ref, PublicKey: e.PublicKey, Challenge: d[:], Signature: sig.Bytes()})
	}
	id, err := h.Identity(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("restore proof: identity key: %w", err)
	}
	if id.Public().Fingerprint() != m.Signer.Fingerprint() {
		return nil, nil, fmt.Errorf("restore proof: restored identity %s is not the manifest signer %s", id.Public().Fingerprint(), m.Signer.Fingerprint())
	}
	msg := []byte("icebox/key-ceremony/restore-challenge/v1\x00" + b.ID.String() + "\x00identity\x00" + hex.EncodeToString(nonce))
	sig, err := id.Sign(msg)
	if err != nil {
		return nil, nil, fmt.Errorf("restore proof: identity key: %w", err)
	}
	if err := m.Signer.Verify(msg, sig); err != nil {
		return nil, nil, fmt.Errorf("restore proof: identity signature does not verify against the manifest signer: %w", err)
	}
	idKey, _ := b.Identity()
	proofs = append(proofs, ceremony.Proof{Role: hsm.RoleIdentity, Ref: idKey.Ref, PublicKey: m.Signer.Key, Challenge: msg, Signature: sig})
	return proofs, id, nil
}
