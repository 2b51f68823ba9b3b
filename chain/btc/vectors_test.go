package btc

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

const vectorsDir = "../../../shared/vectors/"

type psbtCase struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Input       struct {
		Base64 string `json:"psbt_base64"`
		Hex    string `json:"psbt_hex"`
	} `json:"input"`
	ExpectValid         bool    `json:"expect_valid"`
	ExpectSignerError   *string `json:"expect_signer_error"`
	ExpectedLocktime    *uint32 `json:"expected_locktime"`
	ExpectLocktimeError *string `json:"expect_locktime_error"`
}

func loadPSBTCases(t testing.TB, file string) []psbtCase {
	t.Helper()
	b, err := os.ReadFile(vectorsDir + file)
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var cases []psbtCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("parse vectors: %v", err)
	}
	if len(cases) == 0 {
		t.Fatal("no vectors")
	}
	return cases
}

func (c psbtCase) binary(t testing.TB) []byte {
	b, err := hex.DecodeString(c.Input.Hex)
	if err != nil {
		t.Fatalf("%s: hex: %v", c.ID, err)
	}
	return b
}

func TestBIP174Vectors(t *testing.T) {
	cases := loadPSBTCases(t, "bitcoin-bips-bip174/cases.json")
	var valid, invalid, signer int
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			for _, enc := range []struct {
				name string
				data []byte
			}{{"base64", []byte(c.Input.Base64)}, {"binary", c.binary(t)}} {
				pkt, _, err := decodePSBT(enc.data, DefaultMaxPSBTBytes)
				if !c.ExpectValid {
					if err == nil {
						t.Fatalf("%s (%s): accepted an invalid PSBT (%s)", c.ID, enc.name, c.Description)
					}
					t.Logf("%s: %v", c.Description, err)
					continue
				}
				if err != nil {
					t.Fatalf("%s (%s): refused a valid PSBT: %v", c.ID, enc.name, err)
				}
				if c.ExpectSignerError != nil {
					if err := checkInputScripts(pkt); err == nil {
						t.Fatalf("%s: signer check passed, want refusal: %s", c.ID, *c.ExpectSignerError)
					} else if !errors.Is(err, ErrScriptMismatch) {
						t.Fatalf("%s: signer check error %v, want ErrScriptMismatch", c.ID, err)
					} else {
						t.Logf("%s refused: %v", c.ID, err)
					}
				} else if err := checkInputScripts(pkt); err != nil {
					t.Fatalf("%s: signer checks refused a valid PSBT: %v", c.ID, err)
				}
			}
		})
		switch {
		case !c.ExpectValid:
			invalid++
		case c.ExpectSignerError != nil:
			signer++
		default:
			valid++
		}
	}
	if valid != 10 || invalid != 20 || signer != 4 {
		t.Fatalf("vector counts valid=%d invalid=%d signer=%d, want 10/20/4", valid, invalid, signer)
	}
}

func TestBIP370Vectors(t *testing.T) {
	cases := loadPSBTCases(t, "bitcoin-bips-bip370/cases.json")
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			raw, err := decodePayload([]byte(c.Input.Base64), DefaultMaxPSBTBytes)
			if err != nil {
				t.Fatalf("payload: %v", err)
			}
			_, _, derr := decodePSBT(c.binary(t), DefaultMaxPSBTBytes)
			if !c.ExpectValid {
				if derr == nil {
					t.Fatalf("accepted an invalid PSBT (%s)", c.Description)
				}
				t.Logf("%s: %v", c.Description, derr)
				return
			}
			if c.ExpectLocktimeError != nil {
				if !errors.Is(derr, ErrLocktime) {
					t.Fatalf("got %v, want ErrLocktime", derr)
				}
				return
			}
			if derr != nil {
				t.Fatalf("refused a valid PSBT (%s): %v", c.Description, derr)
			}
			rp, err := parseRaw(raw)
			if err != nil {
				t.Fatal(err)
			}
			if c.ExpectedLocktime != nil && rp.tx.LockTime != *c.ExpectedLocktime {
				t.Fatalf("locktime %d, want %d", rp.tx.LockTime, *c.ExpectedLocktime)
			}
		})
	}
}
