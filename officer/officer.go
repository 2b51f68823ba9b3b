package officer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"

	"github.com/icebox-custody/icebox/sigkey"
)

var (
	// ErrWrongPassphrase reports a passphrase that does not open the key
	// (or a file whose protected fields were altered).
	ErrWrongPassphrase = errors.New("wrong passphrase or damaged key file")
	// ErrBadKeyFile reports a key file that is not in the documented format.
	ErrBadKeyFile = errors.New("invalid officer key file")
	// ErrWeakPassphrase reports a passphrase refused at key generation.
	ErrWeakPassphrase = errors.New("passphrase too short")
)

const (
	formatName = "icebox-officer-key"
	maxFile    = 4096
	// MinPassphrase is the minimum passphrase length (bytes) at keygen.
	MinPassphrase = 12
	// DefaultScryptN is the scrypt cost used by Generate (≈32 MiB of memory).
	DefaultScryptN = 1 << 15
	minScryptN     = 1 << 15
	maxScryptN     = 1 << 20
)

type kdfParams struct {
	Name string `json:"name"`
	N    int    `json:"n"`
	R    int    `json:"r"`
	P    int    `json:"p"`
	Salt string `json:"salt"`
}

type cipherParams struct {
	Name       string `json:"name"`
	Nonce      string `json:"nonce"`
	Ciphertext string `json:"ciphertext"`
}

type keyFile struct {
	Format    string       `json:"format"`
	Version   int          `json:"version"`
	PublicKey string       `json:"public_key"`
	KDF       kdfParams    `json:"kdf"`
	Cipher    cipherParams `json:"cipher"`
}

func aad(pub string, k kdfParams) []byte {
	return []byte("icebox/officer-key/v1\x00" + pub + "\x00" + strconv.Itoa(k.N) + ":" + strconv.Itoa(k.R) + ":" + strconv.Itoa(k.P))
}

// Key is a decrypted officer key. It implements sigkey.Signer and never
// prints its private part.
type Key struct {
	priv ed25519.PrivateKey
}

var _ sigkey.Signer = (*Key)(nil)

// Public returns the Ed25519 public key.
func (k *Key) Public() sigkey.PublicKey {
	return sigkey.PublicKey{Algorithm: sigkey.Ed25519, Key: append([]byte(nil), k.priv.Public().(ed25519.PublicKey)...)}
}

// Sign signs msg with Ed25519.
func (k *Key) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(k.priv, msg), nil }

// String never reveals key material.
func (k *Key) String() string { return "officer key " + k.Public().Fingerprint() }

// GoString never reveals key material.
func (k *Key) GoString() string { return k.String() }

// Generate creates a new Ed25519 key and returns the encrypted file bytes
// and the public key. rnd is the entropy source (crypto/rand when nil).
func Generate(passphrase []byte, rnd io.Reader) ([]byte, sigkey.PublicKey, error) {
	return generate(passphrase, rnd, DefaultScryptN)
}

func generate(passphrase []byte, rnd io.Reader, n int) ([]byte, sigkey.PublicKey, error) {
	if len(passphrase) < MinPassphrase {
		return nil, sigkey.PublicKey{}, fmt.Errorf("%w: need at least %d characters", ErrWeakPassphrase, MinPassphrase)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	seed := make([]byte, ed25519.SeedSize)
	salt := make([]byte, 16)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	for _, b := range [][]byte{seed, salt, nonce} {
		if _, err := io.ReadFull(rnd, b); err != nil {
			return nil, sigkey.PublicKey{}, fmt.Errorf("read randomness: %w", err)
		}
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := sigkey.PublicKey{Algorithm: sigkey.Ed25519, Key: priv.Public().(ed25519.PublicKey)}
	kf := keyFile{Format: formatName, Version: 1, PublicKey: pub.String(),
		KDF: kdfParams{Name: "scrypt", N: n, R: 8, P: 1, Salt: hex.EncodeToString(salt)}}
	kek, err := scrypt.Key(passphrase, salt, n, 8, 1, chacha20poly1305.KeySize)
	if err != nil {
		return nil, sigkey.PublicKey{}, fmt.Errorf("derive key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return nil, sigkey.PublicKey{}, fmt.Errorf("cipher: %w", err)
	}
	kf.Cipher = cipherParams{Name: "xchacha20poly1305", Nonce: hex.EncodeToString(nonce),
		Ciphertext: hex.EncodeToString(aead.Seal(nil, nonce, seed, aad(kf.PublicKey, kf.KDF)))}
	out, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return nil, sigkey.PublicKey{}, err
	}
	return append(out, '\n'), pub, nil
}

// WriteNew writes data to path with mode 0600, refusing to overwrite.
func WriteNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("sync key file %s: %w", path, err)
	}
	return f.Close()
}

// Load reads and decrypts an officer key file.
func Load(path string, passphrase []byte) (sigkey.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open officer key %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read officer key %s: %w", path, err)
	}
	k, err := Decrypt(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("officer key %s: %w", path, err)
	}
	return k, nil
}

// PublicKeyOf returns the public key recorded in a key file without
// decrypting it (for display; Load verifies it against the seed).
func PublicKeyOf(data []byte) (sigkey.PublicKey, error) {
	kf, err := decodeFile(data)
	if err != nil {
		return sigkey.PublicKey{}, err
	}
	return sigkey.ParsePublicKey(kf.PublicKey)
}

func decodeFile(data []byte) (*keyFile, error) {
	if len(data) > maxFile {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadKeyFile, maxFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var kf keyFile
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKeyFile, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the key object", ErrBadKeyFile)
	}
	if kf.Format != formatName || kf.Version != 1 {
		return nil, fmt.Errorf("%w: format/version: want %s version 1", ErrBadKeyFile, formatName)
	}
	k := kf.KDF
	if k.Name != "scrypt" || k.N < minScryptN || k.N > maxScryptN || k.N&(k.N-1) != 0 || k.R != 8 || k.P < 1 || k.P > 4 {
		return nil, fmt.Errorf("%w: kdf: unsupported parameters (scrypt, n a power of two in [2^15, 2^20], r 8, p 1..4)", ErrBadKeyFile)
	}
	if kf.Cipher.Name != "xchacha20poly1305" {
		return nil, fmt.Errorf("%w: cipher.name: want xchacha20poly1305", ErrBadKeyFile)
	}
	if !strings.HasPrefix(kf.PublicKey, "ed25519:") {
		return nil, fmt.Errorf("%w: public_key: want ed25519:<hex>", ErrBadKeyFile)
	}
	return &kf, nil
}

// Decrypt opens key file bytes with passphrase.
func Decrypt(data []byte, passphrase []byte) (*Key, error) {
	kf, err := decodeFile(data)
	if err != nil {
		return nil, err
	}
	pub, err := sigkey.ParsePublicKey(kf.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: public_key: %v", ErrBadKeyFile, err)
	}
	salt, err1 := hex.DecodeString(kf.KDF.Salt)
	nonce, err2 := hex.DecodeString(kf.Cipher.Nonce)
	ct, err3 := hex.DecodeString(kf.Cipher.Ciphertext)
	if err := errors.Join(err1, err2, err3); err != nil || len(salt) < 16 || len(salt) > 64 || len(nonce) != chacha20poly1305.NonceSizeX || len(ct) != ed25519.SeedSize+chacha20poly1305.Overhead {
		return nil, fmt.Errorf("%w: salt, nonce or ciphertext has the wrong encoding or length", ErrBadKeyFile)
	}
	kek, err := scrypt.Key(passphrase, salt, kf.KDF.N, kf.KDF.R, kf.KDF.P, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return nil, err
	}
	seed, err := aead.Open(nil, nonce, ct, aad(kf.PublicKey, kf.KDF))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	k := &Key{priv: ed25519.NewKeyFromSeed(seed)}
	if !bytes.Equal(k.priv.Public().(ed25519.PublicKey), pub.Key) {
		return nil, fmt.Errorf("%w: the decrypted key does not match public_key", ErrBadKeyFile)
	}
	return k, nil
}
