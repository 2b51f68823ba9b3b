package main

import (
	"bytes"
	"math/big"
	"testing"
)

// opLen is the length of the instruction starting with op.
func opLen(op byte) int {
	if op >= opPUSH1 && op <= opPUSH32 {
		return 1 + int(op-opPUSH1+1)
	}
	return 1
}

// TestTokenRuntimeLayout walks the runtime code instruction by instruction:
// every jump target the dispatcher pushes must be a JUMPDEST at an
// instruction boundary, and the code must end on REVERT.
func TestTokenRuntimeLayout(t *testing.T) {
	starts := map[int]byte{}
	for pc := 0; pc < len(tokenRuntime); pc += opLen(tokenRuntime[pc]) {
		starts[pc] = tokenRuntime[pc]
		if pc+opLen(tokenRuntime[pc]) > len(tokenRuntime) {
			t.Fatalf("push at %#x runs past the end", pc)
		}
	}
	for name, off := range map[string]int{"balanceOf": offBalanceOf, "transfer": offTransfer, "fail": offFail} {
		if op, ok := starts[off]; !ok || op != opJUMPDEST {
			t.Errorf("%s target %#x is not a JUMPDEST instruction (op %#x, boundary %v)", name, off, op, ok)
		}
	}
	for _, push := range [][]byte{{opPUSH1, offBalanceOf, opJUMPI}, {opPUSH1, offTransfer, opJUMPI}, {opPUSH1, offFail, opJUMPI}} {
		if !bytes.Contains(tokenRuntime, push) {
			t.Errorf("no jump to %#x", push[1])
		}
	}
	if tokenRuntime[len(tokenRuntime)-1] != opREVERT {
		t.Errorf("runtime ends with %#x, want REVERT", tokenRuntime[len(tokenRuntime)-1])
	}
}

func TestTokenInitCode(t *testing.T) {
	tests := []struct {
		name     string
		holdings []Holding
		wantErr  bool
	}{
		{"ok_none", nil, false},
		{"ok_two", []Holding{{"0x" + "11" + "00000000000000000000000000000000000022", big.NewInt(5)}, {"0x00000000000000000000000000000000000000ff", big.NewInt(1)}}, false},
		{"expfail_short_address", []Holding{{"0x1234", big.NewInt(1)}}, true},
		{"expfail_negative", []Holding{{"0x00000000000000000000000000000000000000ff", big.NewInt(-1)}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, err := tokenInitCode(tc.holdings)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			prefix := len(tc.holdings) * 55
			if !bytes.Equal(code[prefix+13:], tokenRuntime) {
				t.Fatal("runtime code is not at the end of the init code")
			}
			off := int(code[prefix+5])<<8 | int(code[prefix+6])
			n := int(code[prefix+1])<<8 | int(code[prefix+2])
			if off != prefix+13 || n != len(tokenRuntime) {
				t.Fatalf("CODECOPY offset %d length %d, want %d %d", off, n, prefix+13, len(tokenRuntime))
			}
		})
	}
}
