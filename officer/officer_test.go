package officer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/sigkey"
)

var pass = []byte("correct horse battery staple")

func TestGenerateLoadSign(t *testing.T) {
	data, pub, err := Generate(pass, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, pub.Key[:4]) && !bytes.Contains(data, []byte(pub.String())) {
		t.Fatal("public key missing")
	}
	path := filepath.Join(t.TempDir(), "officer.key")
	if err := WriteNew(path, data); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	if err := WriteNew(path, data); err == nil {
		t.Fatal("overwrote an existing key")
	}
	s, err := Load(path, pass)
	if err != nil {
		t.Fatal(err)
	}
	if s.Public().String() != pub.String() {
		t.Fatal("loaded a different key")
	}
	msg := []byte("approve request")
	sig, err := s.Sign(msg)
	if err != nil || pub.Verify(msg, sig) != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if strings.Contains(s.(*Key).String(), "priv") || strings.Contains(s.(*Key).GoString(), string(s.(*Key).priv)) {
		t.Fatal("String reveals key material")
	}
	got, err := PublicKeyOf(data)
	if err != nil || got.String() != pub.String() {
		t.Fatalf("PublicKeyOf: %v", err)
	}
	// Two keys are different.
	data2, pub2, _ := Generate(pass, nil)
	if pub2.String() == pub.String() || bytes.Equal(data, data2) {
		t.Fatal("keygen is not random")
	}
}

func TestLoadRefuses(t *testing.T) {
	data, _, err := Generate(pass, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decrypt(data, []byte("wrong passphrase!!")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	other := sigkey.PublicKey{Algorithm: sigkey.Ed25519, Key: make([]byte, 32)}
	cases := map[string]struct {
		data []byte
		want error
	}{
		"swapped public key": {edit(func(m map[string]any) { m["public_key"] = other.String() }), ErrWrongPassphrase},
		"raised n":           {edit(func(m map[string]any) { m["kdf"].(map[string]any)["n"] = 65536 }), ErrWrongPassphrase},
		"weak n":             {edit(func(m map[string]any) { m["kdf"].(map[string]any)["n"] = 1024 }), ErrBadKeyFile},
		"unknown field":      {edit(func(m map[string]any) { m["extra"] = 1 }), ErrBadKeyFile},
		"wrong format":       {edit(func(m map[string]any) { m["format"] = "pem" }), ErrBadKeyFile},
		"other cipher":       {edit(func(m map[string]any) { m["cipher"].(map[string]any)["name"] = "aes-gcm" }), ErrBadKeyFile},
		"short ciphertext":   {edit(func(m map[string]any) { m["cipher"].(map[string]any)["ciphertext"] = "00" }), ErrBadKeyFile},
		"trailing data":      {append(append([]byte{}, data...), []byte("{}")...), ErrBadKeyFile},
		"too large":          {bytes.Repeat([]byte(" "), maxFile+1), ErrBadKeyFile},
		"empty":              {nil, ErrBadKeyFile},
	}
	for name, c := range cases {
		if _, err := Decrypt(c.data, pass); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	if _, _, err := Generate([]byte("short"), nil); !errors.Is(err, ErrWeakPassphrase) {
		t.Fatalf("short passphrase: %v", err)
	}
}

func TestPassphraseSource(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pp")
	os.WriteFile(f, []byte("from file\n"), 0o600)
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == PassphraseEnv {
				return v
			}
			return ""
		}
	}
	prompt := func(answers ...string) func(string) ([]byte, error) {
		i := 0
		return func(string) ([]byte, error) { i++; return []byte(answers[i-1]), nil }
	}
	got, err := PassphraseSource{File: f, Getenv: env("from env")}.Read()
	if err != nil || string(got) != "from file" {
		t.Fatalf("file first: %q %v", got, err)
	}
	got, _ = PassphraseSource{Getenv: env("from env"), Prompt: prompt("typed")}.Read()
	if string(got) != "from env" {
		t.Fatalf("env second: %q", got)
	}
	got, _ = PassphraseSource{Getenv: env(""), Prompt: prompt("typed", "typed"), Confirm: true}.Read()
	if string(got) != "typed" {
		t.Fatalf("prompt: %q", got)
	}
	if _, err := (PassphraseSource{Getenv: env(""), Prompt: prompt("a", "b"), Confirm: true}).Read(); err == nil {
		t.Fatal("mismatched confirmation accepted")
	}
	if _, err := (PassphraseSource{Getenv: env("")}).Read(); !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("no source: %v", err)
	}
	os.WriteFile(f, []byte("\n"), 0o600)
	if _, err := (PassphraseSource{File: f}).Read(); err == nil {
		t.Fatal("empty passphrase file accepted")
	}
}

func FuzzDecodeKeyFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := decodeFile(data)
		if err != nil {
			return
		}
		if kf.KDF.N < minScryptN || kf.KDF.N > maxScryptN {
			t.Fatal("accepted a weak or huge scrypt cost")
		}
	})
}

// The committed fixture (passphrase "correct horse battery staple") keeps
// opening: the file format is stable.
func TestFixtureOpens(t *testing.T) {
	data, err := os.ReadFile("testdata/ok_key.json")
	if err != nil {
		t.Fatal(err)
	}
	k, err := Decrypt(data, pass)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := PublicKeyOf(data)
	if k.Public().String() != pub.String() {
		t.Fatal("fixture key mismatch")
	}
}
